"""Small helpers every handler shares."""

from __future__ import annotations

from typing import Any

from bot.dispatch import Context
from storage.ledger import Ledger
from storage.store import Storage


def services(ctx: Context) -> Storage:
    """The storage services run_bot wired in (storage.store.Storage)."""
    return ctx.services  # type: ignore[no-any-return]


def ledger(ctx: Context) -> Ledger:
    return services(ctx).ledger


def earns(ctx: Context, member: str) -> bool:
    """Whether `member` earns points automatically: staff (bot.admins) only with bot.staff_earn."""
    bot = ctx.settings.bot
    return bot.staff_earn or member not in bot.admins


def checked_in_today(last: Any, ctx: Context) -> bool:
    return last is not None and last == ctx.day


def live_streak(last: Any, streak: int, ctx: Context) -> int:
    """The streak still running: it is broken once a whole local day passed without a check-in."""
    if last is None:
        return 0
    return streak if (ctx.day - last).days <= 1 else 0
