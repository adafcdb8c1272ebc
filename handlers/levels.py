"""Member levels (等级): a level follows growth (成长值); check-in multiplier and mall discount; level-up posts.

The mall reads a member's level with `level_of(settings, growth)`: `level.mall_discount` scales a price
and an item's `min_level` is met when `meets(settings, growth, min_level)`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from bot.config import Level
from bot.dispatch import Context, Reply, after_event, command
from handlers.common import ledger, services


def level_of(settings: Any, growth: int) -> Level | None:
    """The level a member with `growth` holds: the highest whose growth mark is reached; None below the first.

    For the mall: `level_of(settings, member.growth)` gives `mall_discount` (1.0 without a level) and,
    with `meets`, whether a `min_level` item is visible.
    """
    held = None
    for lv in settings.levels:
        if growth >= lv.growth:
            held = lv
    return held


def next_level(settings: Any, growth: int) -> Level | None:
    return next((lv for lv in settings.levels if lv.growth > growth), None)


def meets(settings: Any, growth: int, min_level: str | None) -> bool:
    """Whether `growth` reaches the level named `min_level` (no name, or a name not configured: yes)."""
    mark = next((lv.growth for lv in settings.levels if lv.name == min_level), None) if min_level else None
    return mark is None or growth >= mark


def level_name(settings: Any, growth: int) -> str:
    lv = level_of(settings, growth)
    return lv.name if lv else ""


def multiply(points: int, *factors: float | int) -> int:
    """`points` times every factor, rounded down once at the end (exact: 20 x 1.15 is 23, not 22)."""
    out = Decimal(points)
    for f in factors:
        out *= Decimal(str(f))
    return int(out.to_integral_value(rounding=ROUND_FLOOR))


def member_price(settings: Any, points: int, growth: int) -> int:
    """What a mall price of `points` costs a member with `growth`: the level's mall_discount, rounded down,
    never below 1 point (a configured price is at least 1). The mall charges it; 我的账单 offers by it."""
    lv = level_of(settings, growth)
    return max(1, multiply(points, lv.mall_discount)) if lv and lv.mall_discount < 1 else points


def checkin_scale(settings: Any) -> Callable[[int, int], int] | None:
    """What the ledger applies to each check-in line, from the growth held before the check-in."""
    if not settings.levels:
        return None

    def scale(points: int, growth: int) -> int:
        lv = level_of(settings, growth)
        return multiply(points, lv.checkin_multiplier) if lv else points

    return scale


def benefits(lv: Level) -> dict[str, Any]:
    return {"name": lv.name, "growth": lv.growth, "multiplier": _plain(lv.checkin_multiplier),
            "discount": _discount(lv.mall_discount)}


def _plain(x: float) -> str:
    return f"{x:g}"


def _discount(x: float) -> str:
    """0.95 -> "9.5折", 0.8 -> "8折", 1 -> "" (no discount)."""
    return "" if x >= 1 else f"{x * 10:g}折"


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
        name = m.name or (ctx.sender_name if member == ctx.sender else "") or member[-4:]
        data = {"member": name, **benefits(now)}
        rooms = [ctx.room] if ctx.room else svc.boards.groups_of(member)
        if not rooms:
            out.append(Reply("levels/up", data, to=member))
        for room in rooms:
            out.append(Reply("levels/up", data, room=room, mentions=(member,), names={member: name}))
    return out
