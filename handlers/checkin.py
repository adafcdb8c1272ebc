"""Daily check-in: base points, streak bonuses and cumulative bonuses; the morning reminder job."""

from __future__ import annotations

from typing import Any

from bot.dispatch import Context, Reply, command, job
from bot.errors import WrongPlace
from handlers.common import ledger
from storage.errors import AlreadyCheckedIn
from storage.ledger import Reward


def _rewards(cfg: Any) -> Any:
    def pay(streak: int, total: int) -> list[Reward]:
        out = [Reward("checkin", cfg.points, "每日签到")]
        out += [Reward("checkin_streak", b.bonus, b.name) for b in cfg.consecutive if b.days == streak]
        out += [Reward("checkin_total", b.bonus, b.name) for b in cfg.cumulative if b.days == total]
        return out

    return pay


def next_bonuses(cfg: Any, streak: int, total: int) -> list[dict[str, Any]]:
    """Bonuses still ahead if the member keeps checking in daily: how many more days, and what."""
    ahead = [{"name": b.name, "bonus": b.bonus, "in_days": b.days - streak} for b in cfg.consecutive if b.days > streak]
    ahead += [{"name": b.name, "bonus": b.bonus, "in_days": b.days - total} for b in cfg.cumulative if b.days > total]
    ahead.sort(key=lambda b: (b["in_days"], -b["bonus"]))
    return ahead[:1]


@command("签到", aliases=("打卡",), feature="checkin", config_aliases=lambda s: s.checkin.keywords)
async def checkin(ctx: Context, args: str) -> Reply:
    """每日签到领积分，连续签到、累计签到有额外奖励"""
    cfg = ctx.settings.checkin
    if cfg.group_only and ctx.room is None:
        raise WrongPlace("请在群里签到", where="group")
    try:
        res = ledger(ctx).check_in(member=ctx.sender, day=ctx.day, at=ctx.now, room=ctx.room, rewards=_rewards(cfg))
    except AlreadyCheckedIn as done:
        return ctx.reply("checkin/already", streak=done.streak, total_days=done.total_days, points=done.points)
    base = next((r.points for r in res.rewards if r.kind == "checkin"), 0)
    bonuses = [{"name": r.name, "points": r.points} for r in res.rewards if r.kind != "checkin"]
    return ctx.reply(
        "checkin/ok",
        earned=res.earned,
        base=base,
        bonuses=bonuses,
        streak=res.streak,
        total_days=res.total_days,
        points=res.points,
        upcoming=next_bonuses(cfg, res.streak, res.total_days),
    )


@job("checkin_reminder")
async def checkin_reminder(ctx: Context) -> Reply | None:
    cfg = ctx.settings.checkin
    if cfg is None:
        return None
    return Reply(
        "checkin/reminder",
        {"keyword": cfg.keywords[0] if cfg.keywords else "签到", "points": cfg.points,
         "consecutive": [{"days": b.days, "bonus": b.bonus} for b in cfg.consecutive]},
        broadcast=True,
    )
