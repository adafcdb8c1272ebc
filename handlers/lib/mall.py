"""The mall's views and refusals, for the members' mall and its operator commands alike.

Prices are the member's level price (handlers.lib.levels.member_price); order data with `secrets`
only for the member's private chat.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from bot.dispatch import Context, Reply
from bot.errors import UsageError, UserError
from handlers.common import ledger, services
from handlers.lib.expiry import last_day
from handlers.lib.levels import benefits, level_of, meets, member_price
from storage import keys
from storage.errors import InsufficientPoints
from storage.mall import (
    BelowLevel,
    ItemView,
    Mall,
    MallRefusal,
    NoSuchOrder,
    NotOnSale,
    NotRecyclable,
    OrderStatus,
    OrderView,
    OutOfStock,
    OverLimit,
    UnknownItem,
    WrongStatus,
)


def mall(ctx: Context) -> Mall:
    return services(ctx).mall


def yuan(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen / 100:.2f}"


def local(ctx: Context, when: Any) -> str:
    return when.astimezone(ctx.settings.bot.tz).strftime("%Y-%m-%d %H:%M") if when else ""


def price_for(settings: Any) -> Callable[[int, int], int]:
    """(list price, growth) -> the points a member pays (levels.member_price)."""
    return lambda points, growth: member_price(settings, points, growth)


def level_ok(settings: Any) -> Callable[[str, int], bool]:
    return lambda min_level, growth: meets(settings, growth, min_level)


def growth_of(ctx: Context) -> int:
    m = ledger(ctx).member(ctx.sender)
    return m.growth if m else 0


def item_data(ctx: Context, it: ItemView, growth: int | None = None) -> dict[str, Any]:
    """An item for templates; with the member's `growth`, `paid` is their price and `discount` names their level's
    discount ("白银9.5折") when it lowers the price. Without it (operators, posts) the list price."""
    paid, discount = it.points, ""
    if growth is not None:
        paid = price_for(ctx.settings)(it.points, growth)
        lv = level_of(ctx.settings, growth)
        if lv is not None and paid < it.points:
            discount = f"{lv.name}{benefits(lv)['discount']}"
    return {"number": it.number, "sku": it.sku, "name": it.name, "kind": it.kind, "points": it.points,
            "paid": paid, "discount": discount,
            "cash": yuan(it.cash) if it.cash else "", "stock": it.stock, "limit": it.limit_per_member,
            "starts": local(ctx, it.starts), "ends": local(ctx, it.ends), "min_level": it.min_level,
            "description": str(it.detail.get("description") or ""), "why": it.unavailable(ctx.now)}


def order_data(ctx: Context, o: OrderView, secrets: bool = True) -> dict[str, Any]:
    """An order for templates; `secrets` only for the member's private chat."""
    coupon: dict[str, Any] = {}
    if o.kind == "coupon":
        it = mall(ctx).item(o.sku)
        coupon = (it.detail.get("coupon") or {}) if it else {}
    return {"id": o.id, "name": o.name, "kind": o.kind, "points": o.points, "cash": yuan(o.cash) if o.cash else "",
            "status": o.status, "secret": o.secret if secrets and o.live and o.status != OrderStatus.UNPAID else "",
            "threshold": str(coupon.get("threshold") or ""), "expires_on": o.expires_on.isoformat() if o.expires_on else "",
            "recipient": o.recipient, "phone": o.phone, "address": o.address, "tracking": o.tracking, "note": o.note,
            "pay_by": local(ctx, o.pay_by), "at": local(ctx, o.created_at), "member": o.member,
            "restocked": o.restocked, "refund_until": refund_until(ctx, o),
            "pay_note": ctx.settings.mall.pay_note if ctx.settings.mall else ""}


def refund_until(ctx: Context, o: OrderView) -> str:
    """With points expiry on, the last local day the points a closed order's refund returned can be spent
    ("12月9日"); "" otherwise."""
    lots = services(ctx).lots
    if lots is None or o.status not in (OrderStatus.CANCELLED, OrderStatus.REFUNDED, OrderStatus.EXPIRED):
        return ""
    first = lots.credited_until(keys.refund(o.key))
    if first is None:
        return ""
    day = last_day(ctx.settings, first)
    return f"{day.month}月{day.day}日"


def expire_due(ctx: Context) -> list[OrderView]:
    return mall(ctx).expire_overdue(ctx.now)


def private_to(member: str, template: str, data: dict[str, Any], room: str | None, names: dict[str, str]) -> Reply:
    """A private message to `member` whose fallback, said in `room`, asks them to add the bot and send 我的订单."""
    fallback = None
    if room is not None:
        fallback = Reply("mall/not_friend", {"member_name": names.get(member, "")}, room=room, mentions=(member,), names=names)
    return Reply(template, data, to=member, fallback=fallback)


def refusal(err: MallRefusal | InsufficientPoints, ctx: Context | None = None) -> UserError:
    if isinstance(err, UnknownItem):
        return UserError(template="mall/refused", reason="unknown", wanted=err.wanted)
    if isinstance(err, BelowLevel):
        held = level_of(ctx.settings, growth_of(ctx)) if ctx is not None else None
        return UserError(template="mall/refused", reason="level", item=err.name, level=err.level,
                         current=held.name if held else "")
    if isinstance(err, NotOnSale):
        return UserError(template="mall/refused", reason=err.reason, item=err.name,
                         starts=err.starts, ends=err.ends)
    if isinstance(err, OutOfStock):
        # card codes come in batches (import-codes): none left is "暂时缺货", not "已兑完" (true of day one too)
        coded = ctx is not None and any(it.name == err.name and it.kind == "card_code" for it in mall(ctx).items())
        return UserError(template="mall/refused", reason="sold_out", item=err.name, restock=coded)
    if isinstance(err, OverLimit):
        return UserError(template="mall/refused", reason="limit", item=err.name, limit=err.limit)
    if isinstance(err, InsufficientPoints):
        return UserError(template="mall/refused", reason="poor", needed=err.needed, points=err.points)
    if isinstance(err, NoSuchOrder):
        return UserError(template="mall/refused", reason="no_order", order=err.order)
    if isinstance(err, NotRecyclable):
        return UserError(template="mall/refused", reason=f"recycle_{err.why}", order=err.order)
    if isinstance(err, WrongStatus):
        return UserError(template="mall/refused", reason="status", order=err.order, status=err.status)
    return UserError(template="mall/refused", reason="other")


MAX_NUMBER_DIGITS = 9  # order and item numbers stay below 10**9


def order_number(ctx: Context, args: str, usage: str) -> int:
    word = args.split()[0] if args.split() else ""
    word = word.lstrip("#")
    if not word.isdecimal():
        raise UsageError("请写上单号", usage=usage)
    if len(word) > MAX_NUMBER_DIGITS:  # no order has such a number; int() of a huge one fails, the database too
        raise UsageError("没有这个单号，请核对后再写", usage=usage)
    return int(word)


def item_word(args: str, usage: str) -> str:
    """What 商品/兑换 name an item by; a number longer than any item number gets the usage reply."""
    word = args.strip()
    if word.isdecimal() and len(word) > MAX_NUMBER_DIGITS:
        raise UsageError("没有这个商品编号，请发送「商城」查看", usage=usage)
    return word


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


CANDIDATES_SHOWN = 8


def find_item(ctx: Context, args: str, usage: str) -> ItemView:
    """The item 商品/兑换 name: by number, sku or exact name (Mall.find), else by a part of its name that only
    one item has ("马克杯" finds 品牌马克杯; width, case and spaces aside). Items the member can buy now are
    looked at first, so a part shared with an item off sale or above their level still finds the one on sale.
    A part several items share is refused listing them; raises the refusal the member reads."""
    word = item_word(args, usage)
    try:
        return mall(ctx).find(word)
    except UnknownItem as err:
        key = _fold(word)
        if not key or key.isdecimal():  # a number names an item by its number only
            raise refusal(err) from None
        growth = growth_of(ctx)
        hits = [it for it in mall(ctx).items() if key in _fold(it.name)]
        pool = [it for it in hits if not it.unavailable(ctx.now) and meets(ctx.settings, growth, it.min_level)] or hits
        if not pool:
            raise refusal(err) from None
        if len(pool) == 1:
            return pool[0]
        raise UserError(template="mall/refused", reason="ambiguous", wanted=word, more=len(pool) - CANDIDATES_SHOWN,
                        candidates=[{"number": it.number, "name": it.name} for it in pool[:CANDIDATES_SHOWN]]) from None
