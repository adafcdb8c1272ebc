"""Small helpers every handler shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.dispatch import Context
from storage.boards import Boards
from storage.checkins import Checkins
from storage.conversations import Conversations
from storage.expiry import Lots
from storage.growth import Growth
from storage.ledger import Ledger
from storage.mall import Mall
from storage.presence import Presence
from storage.profiles import Profiles


@dataclass
class Services:
    """The storage services run_bot wires in for handlers; reached as ctx.services."""

    ledger: Ledger
    checkins: Checkins
    presence: Presence
    conversations: Conversations
    boards: Boards
    growth: Growth
    mall: Mall
    profiles: Profiles
    lots: Lots | None = None  # None when points expiry is off


def services(ctx: Context) -> Services:
    return ctx.services  # type: ignore[no-any-return]


def ledger(ctx: Context) -> Ledger:
    return services(ctx).ledger


def checked_in_today(last: Any, ctx: Context) -> bool:
    return last is not None and last == ctx.day


def live_streak(last: Any, streak: int, ctx: Context) -> int:
    """The streak still running: it is broken once a whole local day passed without a check-in."""
    if last is None:
        return 0
    return streak if (ctx.day - last).days <= 1 else 0
