"""Daily check-in: base points, streak bonuses and cumulative bonuses; the morning reminder job."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from bot.config import Factor, Flag, Points, PosDays, PosInt, PosPoints, Section, Text, problem, section
from bot.dispatch import Context, Reply, command, job
from bot.errors import UserError, WrongPlace
from handlers.common import earns, services
from handlers.lib import levels, tasks
from storage.checkins import Reward
from storage.errors import AlreadyCheckedIn, InsufficientPoints, MakeupLimit, NothingToMakeUp
from storage.vocabulary import Kind


class Bonus(Section):
    days: PosDays
    bonus: PosPoints
    name: str = ""


class MakeupSettings(Section):
    cost: PosPoints = 20  # points a makeup check-in costs
    max_per_month: PosInt = 2
    within_days: PosDays = 3  # how far back a missed day may be filled


class CheckinSettings(Section):
    points: Points = 5
    keywords: list[Text] = Field(default_factory=lambda: ["签到", "打卡"])
    consecutive: list[Bonus] = Field(default_factory=list)
    cumulative: list[Bonus] = Field(default_factory=list)
    group_only: Flag = True  # check in only from a group, where it keeps the chat alive
    multiplier: Factor = 1  # every check-in payout is multiplied by this (campaigns raise it)
    makeup: MakeupSettings | None = None  # 补签; section left out: off

    @model_validator(mode="after")
    def _names(self) -> CheckinSettings:
        for kind, rows, label in (("consecutive", self.consecutive, "连续签到{}天奖励"),
                                  ("cumulative", self.cumulative, "累计签到{}天奖励")):
            seen: set[int] = set()
            for i, b in enumerate(rows):
                if b.days in seen:
                    raise problem(f"{kind}[{i}].days repeats {b.days}: give each day count one bonus")
                seen.add(b.days)
                if not b.name:
                    object.__setattr__(b, "name", label.format(b.days))
        return self


section("checkin", CheckinSettings, campaign=True)  # section left out: check-in is off


def _rewards(cfg: Any) -> Any:
    """What a check-in pays for (streak, total days); a campaign's multiplier scales every line."""
    m = cfg.multiplier

    def pay(streak: int, total: int) -> list[Reward]:
        out = [Reward(Kind.CHECKIN, cfg.points * m, "每日签到")]
        out += [Reward(Kind.CHECKIN_STREAK, b.bonus * m, b.name) for b in cfg.consecutive if b.days == streak]
        out += [Reward(Kind.CHECKIN_TOTAL, b.bonus * m, b.name) for b in cfg.cumulative if b.days == total]
        return out

    return pay


def _makeup_bonuses(cfg: Any) -> Any:
    """What a makeup pays: every streak bonus the repaired run reached or passed that the run has not paid
    yet, and the cumulative bonus the new total reaches; scaled as a check-in's lines are."""
    m = cfg.multiplier

    def pay(streak: int, total: int, paid: frozenset[int]) -> list[Reward]:
        out = [Reward(Kind.CHECKIN_STREAK, b.bonus * m, b.name, b.days) for b in cfg.consecutive
               if b.days <= streak and b.days not in paid]
        out += [Reward(Kind.CHECKIN_TOTAL, b.bonus * m, b.name, b.days) for b in cfg.cumulative if b.days == total]
        return out

    return pay


def campaign_name(ctx: Context, section: str) -> str:
    """The name of the campaign overriding `section` now, or "" outside any campaign."""
    cid = ctx.campaign(section)
    return next((c.name for c in ctx.settings.campaigns if c.id == cid), "") if cid else ""


def next_bonuses(cfg: Any, streak: int, total: int) -> list[dict[str, Any]]:
    """Bonuses still ahead if the member keeps checking in daily: how many more days, and what."""
    m = cfg.multiplier
    ahead = [{"name": b.name, "bonus": b.bonus * m, "in_days": b.days - streak} for b in cfg.consecutive if b.days > streak]
    ahead += [{"name": b.name, "bonus": b.bonus * m, "in_days": b.days - total} for b in cfg.cumulative if b.days > total]
    ahead.sort(key=lambda b: (b["in_days"], -b["bonus"]))
    return ahead[:1]


@command("签到", aliases=("打卡",), feature="checkin", config_aliases=lambda s: s.checkin.keywords)
async def checkin(ctx: Context, args: str) -> Reply | list[Reply]:
    """每日签到领积分，连续签到、累计签到有额外奖励"""
    cfg = ctx.settings.checkin
    if cfg.group_only and ctx.room is None:
        raise WrongPlace("请在群里签到", where="group")
    if not earns(ctx, ctx.sender):
        return ctx.reply("checkin/staff")
    try:
        # a campaign multiplies the configured points first (an integer), then the level's multiplier the
        # result, rounded down once per line: 5 points, campaign x2, level x1.25 -> floor(5 * 2 * 1.25) = 12
        res = services(ctx).checkins.check_in(member=ctx.sender, day=ctx.day, at=ctx.now, room=ctx.room, rewards=_rewards(cfg),
                                   campaign=ctx.campaign("checkin"), scale=levels.checkin_scale(ctx.settings),
                                   late=_makeup_bonuses(cfg))
    except AlreadyCheckedIn as done:
        return ctx.reply("checkin/already", streak=done.streak, total_days=done.total_days, points=done.points)
    base = next((r.points for r in res.rewards if r.kind == "checkin"), 0)
    bonuses = [{"name": r.name, "points": r.points} for r in res.rewards if r.kind != "checkin"]
    held = levels.level_of(ctx.settings, res.growth - res.earned)
    return [ctx.reply(
        "checkin/ok",
        earned=res.earned,
        base=base,
        bonuses=bonuses,
        streak=res.streak,
        total_days=res.total_days,
        points=res.points,
        upcoming=next_bonuses(cfg, res.streak, res.total_days),
        multiplier=cfg.multiplier,
        campaign=campaign_name(ctx, "checkin"),
        level={"name": held.name, "multiplier": f"{held.checkin_multiplier:g}"}
        if held and held.checkin_multiplier != 1 else None,
    ), *tasks.after_checkin(ctx)]  # tiers of check-in tasks this check-in reached


@command("补签", feature="checkin.makeup")
async def makeup(ctx: Context, args: str) -> Reply | list[Reply]:
    """花积分补上最近漏签的一天，接上连续签到"""
    cfg = ctx.settings.checkin.makeup
    if not earns(ctx, ctx.sender):
        return ctx.reply("checkin/staff")
    local = ctx.now.astimezone(ctx.settings.bot.tz)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    try:
        res = services(ctx).checkins.makeup(member=ctx.sender, today=ctx.day, at=ctx.now, room=ctx.room,
                                 within_days=cfg.within_days, cost=cfg.cost, max_per_month=cfg.max_per_month,
                                 month_start=month_start, bonuses=_makeup_bonuses(ctx.settings.checkin),
                                 campaign=ctx.campaign("checkin"), scale=levels.checkin_scale(ctx.settings))
    except NothingToMakeUp as e:
        raise UserError("没有可以补签的日期", template="checkin/makeup_none", within_days=e.within_days) from None
    except MakeupLimit as e:
        raise UserError("本月补签次数已用完", template="checkin/makeup_limit", used=e.used, limit=e.limit) from None
    except InsufficientPoints as e:
        raise UserError("积分不足", template="checkin/makeup_poor", cost=e.needed, points=e.points) from None
    return [ctx.reply("checkin/makeup_ok", day=res.day, cost=res.cost, points=res.points, streak=res.streak,
                      total_days=res.total_days, used=res.used, limit=res.limit, earned=res.earned,
                      bonuses=[{"name": r.name, "points": r.points} for r in res.rewards]),
            *tasks.after_checkin(ctx)]  # tiers of check-in tasks the repaired counts reached


@job("checkin_reminder")
async def checkin_reminder(ctx: Context) -> Reply | None:
    cfg = ctx.settings.checkin
    if cfg is None:
        return None
    return Reply(
        "checkin/reminder",
        {"keyword": cfg.keywords[0] if cfg.keywords else "签到", "points": cfg.points,
         "consecutive": [{"days": b.days, "bonus": b.bonus} for b in cfg.consecutive],
         "checked_in": services(ctx).boards.checked_in(ctx.day)},
        broadcast=True,
    )
