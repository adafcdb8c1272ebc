"""Daily check-in: base points, streak bonuses and cumulative bonuses; the morning reminder job."""

from __future__ import annotations

from pydantic import Field, model_validator

from bot.config import Factor, Flag, Points, PosDays, PosInt, PosPoints, Section, Text, problem, section
from bot.dispatch import Context, Reply, command, job
from bot.errors import UserError, WrongPlace
from handlers.common import earns, services
from handlers.lib import levels, payouts, tasks
from storage.errors import AlreadyCheckedIn, InsufficientPoints, MakeupLimit, NothingToMakeUp


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
        res = services(ctx).checkins.check_in(member=ctx.sender, day=ctx.day, at=ctx.now, room=ctx.room,
                                              rewards=payouts.rewards(cfg), campaign=ctx.campaign("checkin"),
                                              scale=levels.checkin_scale(ctx.settings),
                                              late=payouts.makeup_bonuses(cfg))
    except AlreadyCheckedIn as done:
        return ctx.reply("checkin/already", streak=done.streak, total_days=done.total_days, points=done.points)
    tiers, after_tiers = tasks.after_checkin(ctx)  # tiers of check-in tasks this check-in reached
    base = next((r.points for r in res.rewards if r.kind == "checkin"), 0)
    bonuses = [{"name": r.name, "points": r.points} for r in res.rewards if r.kind != "checkin"]
    held = levels.level_of(ctx.settings, res.growth - res.earned)
    # in a burst too big to @-mention everyone, the outbox may answer a plain success by the digest ("本轮 326 人
    # 签到成功"), the numbers one 积分 away; a bonus or a task tier reached is news of its own and keeps its reply
    plain = not bonuses and not tiers
    return [Reply(digest="checkin/digest" if plain else None, template="checkin/ok", data=dict(
        earned=res.earned,
        base=base,
        bonuses=bonuses,
        streak=res.streak,
        total_days=res.total_days,
        points=res.points if after_tiers is None else after_tiers,
        tiers=tiers,
        upcoming=payouts.upcoming(ctx, res.streak, res.total_days, res.growth),
        multiplier=cfg.multiplier,
        campaign=payouts.campaign_name(ctx, "checkin"),
        level={"name": held.name, "multiplier": f"{held.checkin_multiplier:g}"}
        if held and held.checkin_multiplier != 1 else None,
    ))]


@command("补签", feature="checkin.makeup")
async def makeup(ctx: Context, args: str) -> Reply | list[Reply]:
    """花积分补上最近漏签的一天，接上连续签到"""
    cfg = ctx.settings.checkin.makeup
    if not earns(ctx, ctx.sender):
        return ctx.reply("checkin/staff")
    local = ctx.now.astimezone(ctx.settings.bot.tz)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    seen = services(ctx).presence.first_seen(ctx.sender)  # no day before it is one they missed
    try:
        res = services(ctx).checkins.makeup(member=ctx.sender, today=ctx.day, at=ctx.now, room=ctx.room,
                                 within_days=cfg.within_days, cost=cfg.cost, max_per_month=cfg.max_per_month,
                                 month_start=month_start, bonuses=payouts.makeup_bonuses(ctx.settings.checkin),
                                 campaign=ctx.campaign("checkin"), scale=levels.checkin_scale(ctx.settings),
                                 first_day=seen.astimezone(ctx.settings.bot.tz).date() if seen else None)
    except NothingToMakeUp as e:
        raise UserError("没有可以补签的日期", template="checkin/makeup_none", within_days=e.within_days) from None
    except MakeupLimit as e:
        raise UserError("本月补签次数已用完", template="checkin/makeup_limit", used=e.used, limit=e.limit) from None
    except InsufficientPoints as e:
        raise UserError("积分不足", template="checkin/makeup_poor", cost=e.needed, points=e.points) from None
    tiers, after_tiers = tasks.after_checkin(ctx)  # tiers of check-in tasks the repaired counts reached
    return [ctx.reply("checkin/makeup_ok", day=res.day, cost=res.cost, streak=res.streak,
                      points=res.points if after_tiers is None else after_tiers, tiers=tiers,
                      total_days=res.total_days, used=res.used, limit=res.limit, earned=res.earned,
                      bonuses=[{"name": r.name, "points": r.points} for r in res.rewards])]


@job("checkin_reminder", posts=True)
async def checkin_reminder(ctx: Context) -> Reply | None:
    """The morning reminder: what checking in pays today (payouts.terms) and how many have."""
    today = payouts.terms(ctx)
    if today is None:
        return None
    return Reply("checkin/reminder", {**today, "checked_in": services(ctx).boards.checked_in(ctx.day)}, broadcast=True)
