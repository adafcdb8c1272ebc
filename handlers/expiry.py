"""Points expiry: the daily run that expires what is due and warns members privately before.

On whenever [expiry] sets a policy: it runs at `run_at` local time every day without a [[schedule]]
entry (in replay it fires from event time, like every job). Expired points leave by ledger entries
of kind `expire`, drawn only from what is left of each earning (storage.expiry).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bot.dispatch import Context, Reply, job
from handlers.common import ledger, services

JOB = "expire_points"


def _cron(settings: Any) -> str | None:
    cfg = settings.expiry
    if cfg is None or cfg.policy == "none":
        return None
    hour, minute = cfg.run_at.split(":")
    return f"{int(minute)} {int(hour)} * * *"


def last_day(settings: Any, expires_at: datetime) -> date:
    """The last local day points expiring at `expires_at` can be spent: expiry comes at the start of the next."""
    return (expires_at.astimezone(settings.bot.tz) - timedelta(microseconds=1)).date()


def rule(settings: Any) -> str:
    """The policy as members read it."""
    cfg = settings.expiry
    if cfg.policy == "rolling":
        return f"积分自获得之日起 {cfg.days} 天内有效"
    return "积分在获得次年的 12 月 31 日到期"


@job(JOB, standing=_cron)
async def expire_points(ctx: Context) -> list[Reply]:
    """Expire what is due, then warn, privately, whoever has points expiring within warn_days."""
    lots = services(ctx).lots
    cfg = ctx.settings.expiry
    if lots is None or cfg is None:
        return []
    lots.expire(ctx.now)
    if not cfg.warn_days:
        return []
    out = []
    for n in lots.warn(ctx.now, timedelta(days=cfg.warn_days)):
        m = ledger(ctx).member(n.member)
        out.append(Reply("expiry/warn", {"points": n.points, "last_day": last_day(ctx.settings, n.expires_at),
                                         "balance": m.points if m else 0,
                                         "rule": rule(ctx.settings), "mall": ctx.settings.mall is not None},
                         to=n.member))
    return out


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
