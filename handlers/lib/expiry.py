"""Expiry dates as members read them, for the expiry run's warnings and for 积分."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bot.dispatch import Context
from handlers.common import services


def last_day(settings: Any, expires_at: datetime) -> date:
    """The last local day points expiring at `expires_at` can be spent: expiry comes at the start of the next."""
    return (expires_at.astimezone(settings.bot.tz) - timedelta(microseconds=1)).date()


def rule(settings: Any) -> str:
    """The policy as members read it."""
    cfg = settings.expiry
    if cfg.policy == "rolling":
        return f"积分自获得之日起 {cfg.days} 天内有效"
    return "积分在获得次年的 12 月 31 日到期"


def expiring_soon(ctx: Context, member: str) -> dict[str, Any] | None:
    """For 积分: the points of `member` expiring within warn_days (at least 30 days), or None."""
    lots = services(ctx).lots
    cfg = ctx.settings.expiry
    if lots is None or cfg is None:
        return None
    points, first = lots.expiring(member, ctx.now, timedelta(days=max(cfg.warn_days, 30)))
    if not points or first is None:
        return None
    return {"points": points, "last_day": last_day(ctx.settings, first)}
