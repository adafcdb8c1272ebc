"""Member levels (等级): a level follows growth (成长值); check-in multiplier and mall discount; level-up posts.

The rules other features read (level_of, meets, member_price ...) are in handlers.lib.levels.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from bot.config import MAX_FACTOR, NonNegInt, Section, Text, problem, section
from bot.dispatch import Context, Reply, after_event, command
from handlers.common import ledger, member_name, services
from handlers.lib.levels import benefits, level_of, next_level


class Level(Section):
    """A member level (等级): held from `growth` 成长值 on; benefits apply while it is held."""

    name: Text
    growth: NonNegInt
    # check-in points x this, rounded down
    checkin_multiplier: Annotated[float, Field(ge=1, le=MAX_FACTOR, strict=True, allow_inf_nan=False)] = 1.0
    mall_discount: Annotated[float, Field(gt=0, le=1, strict=True)] = 1.0  # mall prices x this


def _in_order(settings: Any) -> None:
    levels = settings.levels
    for i, lv in enumerate(levels):
        if i and lv.growth <= levels[i - 1].growth:
            raise problem(f"levels[{i}].growth must be above levels[{i - 1}].growth: list levels from low to high")
        if any(o.name == lv.name for o in levels[:i]):
            raise problem(f"levels[{i}].name repeats {lv.name!r}: names must be unique")


section("levels", Level, many=True, check=_in_order)  # member levels, in ascending order of growth


@command("等级", aliases=("我的等级", "会员等级"))
async def my_level(ctx: Context, args: str) -> Reply:
    """查看我的会员等级、成长值和下一等级的权益"""
    m = ledger(ctx).member(ctx.sender)
    growth = m.growth if m else 0
    lv, nxt = level_of(ctx.settings, growth), next_level(ctx.settings, growth)
    return ctx.reply("levels/mine", configured=bool(ctx.settings.levels), growth=growth,
                     level=benefits(lv) if lv else None,
                     next=({**benefits(nxt), "remaining": nxt.growth - growth} if nxt else None))


@after_event
async def announce_level_ups(ctx: Context) -> list[Reply]:
    """Congratulate, once per level ever, members whose growth just crossed into a higher level.

    In the group the growth came from; from a private chat or a job, in every group the member is in
    (privately when they are in none). Several levels at once: one post naming the highest.
    """
    book, svc = ledger(ctx), services(ctx)
    changes = svc.growth.take()  # growth that stands: committed, or in this transaction (not a rolled-back savepoint)
    if not changes or not ctx.settings.levels:
        return []
    first: dict[str, int] = {}
    for change in changes:
        first.setdefault(change.member, change.before)
    out: list[Reply] = []
    for member, before in first.items():
        m = book.member(member)
        if m is None:
            continue
        now, was = level_of(ctx.settings, m.growth), level_of(ctx.settings, before)
        if now is None or (was is not None and now.growth <= was.growth):
            continue
        reached = [lv.name for lv in ctx.settings.levels if lv.growth <= now.growth]
        if not svc.growth.mark_level_up(member, reached, ctx.now):
            continue
        name = member_name(ctx, member)
        data = {"member": name, **benefits(now)}
        rooms = [ctx.room] if ctx.room else svc.boards.groups_of(member)
        if not rooms:
            out.append(Reply("levels/up", data, to=member))
        for room in rooms:
            out.append(Reply("levels/up", data, room=room, mentions=(member,), names={member: name}))
    return out
