"""Points expiry: the daily run that expires what is due and warns members privately before.

On whenever [expiry] sets a policy: it runs at `run_at` local time every day without a [[schedule]]
entry (in replay it fires from event time, like every job). Expired points leave by ledger entries
of kind `expire`, drawn only from what is left of each earning (storage.expiry).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from bot.config import HHMM, Days, PosDays, Section, Words, section
from bot.dispatch import Context, Reply, job
from handlers.common import ledger, services
from handlers.lib.expiry import last_day, rule

JOB = "expire_points"


class ExpirySettings(Section):
    """Points expiry: each earning's unspent remainder expires; spending takes the oldest points first."""

    policy: Literal["none", "rolling", "year_end"] = "none"
    days: PosDays = 365  # rolling: an earning expires this many days after it was earned
    warn_days: Days = 7  # members are told privately this many days before points expire (0: no warning)
    run_at: Annotated[str, Field(pattern=rf"^\s*{HHMM}\s*$"), AfterValidator(str.strip),
                      Words('a local time "HH:MM" such as "00:05"')] = "00:05"  # local time of the daily expiry run


section("expiry", ExpirySettings)  # left out (or policy = "none"): points never expire


def _cron(settings: Any) -> str | None:
    cfg = settings.expiry
    if cfg is None or cfg.policy == "none":
        return None
    hour, minute = cfg.run_at.split(":")
    return f"{int(minute)} {int(hour)} * * *"


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
