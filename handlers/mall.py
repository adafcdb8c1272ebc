"""The points mall for members: 商城, 商品 N, 兑换 N (with 确认), 我的订单, 取消订单, parcel address; mall_highlights.

Everything an order delivers (card code, link, coupon, address questions, payment note) goes by
private message only; the group sees "兑换成功，详情已私信". When the private message cannot be
delivered (the member is not the bot's friend) the group is told instead to add the bot and send
我的订单 privately, which shows what each order owes; the order keeps it meanwhile.

Member levels apply: each member sees and pays the points price times their level's mall_discount
(rounded down, at least 1 point; a cash part is not discounted), and an item with `min_level` is left
out of 商城 and refused by 商品 and 兑换 (naming the level) until the member holds that level or a
higher one. 兑换 decides both from the growth read under the member's lock, in the redemption's
transaction; the order records the points paid, so a refund returns exactly those.

Unpaid points + cash orders are cancelled and refunded once past [mall] pay_within_hours: checked
lazily at the start of every mall command (so correctness needs no schedule), and by the
`mall_expire` job, which also tells each member privately (schedule it to get those notices).

The `mall_highlights` job posts what is on sale (not sold out) in three parts, each left out when empty
and no post at all when every part is: 新品 (listed within [mall] highlight_new_days: from `starts`, or
without it from when the sku first reached the database), 即将售罄 (highlight_low_stock left or fewer)
and 热门兑换 (the most standing orders, top 3). It shows list prices and leaves out items whose
min_level is above the lowest level, since the whole group reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.dispatch import Context, Reply, command, conversation, job
from bot.errors import UsageError, UserError
from handlers.common import CANCEL_HOOKS, ledger, services
from handlers.levels import benefits, level_of, meets, member_price
from handlers.profile import Invalid, clean_phone
from storage import keys
from storage.conversations import Pending
from storage.errors import InsufficientPoints
from storage.mall import (
    BelowLevel,
    ItemView,
    Mall,
    MallRefusal,
    NoSuchOrder,
    NotOnSale,
    OrderMove,
    OrderStatus,
    OrderView,
    OutOfStock,
    OverLimit,
    UnknownItem,
    WrongStatus,
)

CONFIRM = "mall_confirm"
ADDRESS = "mall_address"
ORDERS_SHOWN = 10
RECIPIENT_MAX = 20
ADDRESS_MIN, ADDRESS_MAX = 5, 120
YES = ("确认", "确定", "确认兑换")


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
            "pay_note": ctx.settings.mall.pay_note if ctx.settings.mall else ""}


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
        return UserError(template="mall/refused", reason="sold_out", item=err.name)
    if isinstance(err, OverLimit):
        return UserError(template="mall/refused", reason="limit", item=err.name, limit=err.limit)
    if isinstance(err, InsufficientPoints):
        return UserError(template="mall/refused", reason="poor", needed=err.needed, points=err.points)
    if isinstance(err, NoSuchOrder):
        return UserError(template="mall/refused", reason="no_order", order=err.order)
    if isinstance(err, WrongStatus):
        return UserError(template="mall/refused", reason="status", order=err.order, status=err.status)
    return UserError(template="mall/refused", reason="other")


def order_number(ctx: Context, args: str, usage: str) -> int:
    word = args.split()[0] if args.split() else ""
    word = word.lstrip("#")
    if not word.isdecimal():
        raise UsageError("请写上单号", usage=usage)
    return int(word)


# -- browsing -----------------------------------------------------------------------------------


@command("商城", aliases=("积分商城",), feature="mall")
async def catalogue(ctx: Context, args: str) -> Reply:
    """查看积分商城在售商品
    商城 [页码]"""
    expire_due(ctx)
    size = ctx.settings.mall.page_size
    growth = growth_of(ctx)
    on_sale = [it for it in mall(ctx).items()
               if not it.unavailable(ctx.now) and meets(ctx.settings, growth, it.min_level)]
    pages = max(1, -(-len(on_sale) // size))
    page = int(args) if args.isdecimal() and int(args) > 0 else 1
    page = min(page, pages)
    rows = [item_data(ctx, it, growth) for it in on_sale[(page - 1) * size: page * size]]
    return ctx.reply("mall/list", rows=rows, page=page, pages=pages)


@command("商品", aliases=("商品详情",), feature="mall")
async def show_item(ctx: Context, args: str) -> Reply:
    """查看一件商品的详情
    商品 编号"""
    if not args:
        raise UsageError("请写上商品编号", usage="商品 编号")
    try:
        it = mall(ctx).find(args)
    except UnknownItem as err:
        raise refusal(err) from None
    growth = growth_of(ctx)
    if not meets(ctx.settings, growth, it.min_level):  # not shown below its level: say which level it needs
        raise refusal(BelowLevel(name=it.name, level=it.min_level), ctx)
    return ctx.reply("mall/item", item=item_data(ctx, it, growth), confirm_above=ctx.settings.mall.confirm_above)


# -- redeeming ----------------------------------------------------------------------------------


@command("兑换", aliases=("兑换商品",), feature="mall")
async def redeem(ctx: Context, args: str) -> Reply | list[Reply]:
    """用积分兑换商品（编号、SKU 或商品名）
    兑换 编号"""
    if not args:
        raise UsageError("请写上商品编号", usage="兑换 编号")
    expire_due(ctx)
    cfg = ctx.settings.mall
    try:
        it = mall(ctx).find(args)
        # a refusal known now is said now, not after 确认; the price decides whether to ask
        _it, cost = mall(ctx).check(member=ctx.sender, sku=it.sku, at=ctx.now, price=price_for(ctx.settings),
                                    level_ok=level_ok(ctx.settings))
    except (MallRefusal, InsufficientPoints) as err:
        raise refusal(err, ctx) from None
    if cost > cfg.confirm_above:
        services(ctx).conversations.set_pending(ctx.room or "", ctx.sender, CONFIRM, "confirm", {"sku": it.sku},
                                ctx.now + timedelta(minutes=cfg.confirm_minutes))
        item = {**item_data(ctx, it, growth_of(ctx)), "paid": cost}
        return ctx.reply("mall/confirm", item=item, minutes=cfg.confirm_minutes)
    return _redeem(ctx, it.sku)


@conversation(CONFIRM)
async def confirm(ctx: Context, text: str, state: Pending) -> Reply | list[Reply] | None:
    if ctx.settings.mall is None:
        services(ctx).conversations.clear_pending(state.chat, ctx.sender)
        return None
    if text.strip() not in YES:
        return None  # other talk in the group: the question stands until it expires
    services(ctx).conversations.clear_pending(state.chat, ctx.sender)
    return _redeem(ctx, str(state.data["sku"]))


def _redeem(ctx: Context, sku: str) -> list[Reply]:
    cfg = ctx.settings.mall
    try:
        order, _new = mall(ctx).redeem(member=ctx.sender, sku=sku, key=keys.redeem(ctx.event_id, ctx.sender),
                                       at=ctx.now, room=ctx.room,
                                       pay_within=timedelta(hours=cfg.pay_within_hours),
                                       price=price_for(ctx.settings), level_ok=level_ok(ctx.settings))
    except (MallRefusal, InsufficientPoints) as err:
        raise refusal(err, ctx) from None
    replies: list[Reply] = []
    if ctx.room is not None:
        replies.append(ctx.reply("mall/redeemed_group", order=order.id))
    balance = ledger(ctx).member(ctx.sender)
    data = {"order": order_data(ctx, order), "balance": balance.points if balance else 0, "question": ""}
    if order.status == OrderStatus.ADDRESS:
        _ask_address(ctx, order.id, "recipient", {})
        data["question"] = "recipient"
    replies.append(private_to(ctx.sender, "mall/deliver", data, ctx.room, {ctx.sender: ctx.sender_name}))
    return replies


# -- the parcel address (a private conversation) ------------------------------------------------------


def _ask_address(ctx: Context, order: int, step: str, data: dict[str, Any]) -> None:
    expires = ctx.now + timedelta(minutes=ctx.settings.mall.address_minutes)
    services(ctx).conversations.set_pending("", ctx.sender, ADDRESS, step, {**data, "order": order}, expires)


def _clean(step: str, text: str) -> str:
    t = " ".join(text.split())
    if step == "phone":
        return clean_phone(t)
    if step == "recipient":
        if not t or len(t) > RECIPIENT_MAX:
            raise Invalid("recipient")
        return t
    if not ADDRESS_MIN <= len(t) <= ADDRESS_MAX:
        raise Invalid("address")
    return t


@conversation(ADDRESS)
async def address(ctx: Context, text: str, state: Pending) -> Reply | None:
    if ctx.settings.mall is None or state.chat != "":
        return None
    step, order = state.step, int(state.data["order"])
    try:
        value = _clean(step, text)
    except Invalid as bad:
        _ask_address(ctx, order, step, state.data)
        return Reply("mall/address_ask", {"step": step, "invalid": bad.reason, "order": order}, private=True)
    data = {**state.data, step: value}
    nxt = {"recipient": "phone", "phone": "address"}.get(step)
    if nxt:
        _ask_address(ctx, order, nxt, data)
        return Reply("mall/address_ask", {"step": nxt, "invalid": "", "order": order}, private=True)
    services(ctx).conversations.clear_pending("", ctx.sender)
    current = mall(ctx).order(order)
    if current is None or current.status != OrderStatus.ADDRESS:
        return None
    cash = current.cash > 0 and current.paid_at is None
    done = mall(ctx).move(order=order, move=OrderMove.GIVE_ADDRESS,
                           status=OrderStatus.UNPAID if cash else OrderStatus.PENDING, at=ctx.now,
                          recipient=data["recipient"], phone=data["phone"], address=value,
                          pay_by=ctx.now + timedelta(hours=ctx.settings.mall.pay_within_hours) if cash else None)
    return Reply("mall/address_done", {"order": order_data(ctx, done)}, private=True)


async def _cancel_address(ctx: Context, state: Pending) -> Reply:
    """取消 during the address questions: the order is cancelled and its points refunded."""
    order = int(state.data["order"])
    try:
        o = mall(ctx).refund(order=order, at=ctx.now, move=OrderMove.DROP_ADDRESS, member=ctx.sender,
                             reason="取消填写地址")
    except MallRefusal:
        return ctx.reply("profile/cancel", kind=state.kind)
    m = ledger(ctx).member(ctx.sender)
    return ctx.reply("mall/cancelled", order=order_data(ctx, o, secrets=False), balance=m.points if m else 0)


CANCEL_HOOKS[ADDRESS] = _cancel_address


# -- my orders ----------------------------------------------------------------------------------


@command("我的订单", aliases=("订单",), feature="mall")
async def my_orders(ctx: Context, args: str) -> list[Reply]:
    """查看我的订单（私信发送）"""
    expire_due(ctx)
    orders = mall(ctx).orders(member=ctx.sender, limit=ORDERS_SHOWN, newest_first=True)
    data: dict[str, Any] = {"orders": [order_data(ctx, o) for o in orders], "size": ORDERS_SHOWN, "question": "",
                            "asking": 0}
    # an order still waiting for its address (the member could not be asked privately): ask now
    state = services(ctx).conversations.pending("", ctx.sender, ctx.now)
    if state is not None and state.kind == ADDRESS:
        data["question"], data["asking"] = state.step, int(state.data["order"])
    elif state is None:
        waiting = mall(ctx).orders(member=ctx.sender, statuses=(OrderStatus.ADDRESS,))
        if waiting:
            _ask_address(ctx, waiting[0].id, "recipient", {})
            data["question"], data["asking"] = "recipient", waiting[0].id
    replies: list[Reply] = []
    if ctx.room is not None:
        replies.append(ctx.reply("mall/orders_moved"))
    replies.append(private_to(ctx.sender, "mall/orders", data, ctx.room, {ctx.sender: ctx.sender_name}))
    return replies


@command("取消订单", feature="mall")
async def cancel_order(ctx: Context, args: str) -> Reply:
    """取消未完成的订单并退回积分
    取消订单 单号"""
    order = order_number(ctx, args, "取消订单 单号")
    expire_due(ctx)
    try:
        o = mall(ctx).refund(order=order, at=ctx.now, move=OrderMove.CANCEL,
                             member=ctx.sender, reason="会员取消", unpaid_only=True)
    except MallRefusal as err:
        raise refusal(err) from None
    state = services(ctx).conversations.pending("", ctx.sender, ctx.now)
    if state is not None and state.kind == ADDRESS and int(state.data.get("order", 0)) == order:
        services(ctx).conversations.clear_pending("", ctx.sender)
    m = ledger(ctx).member(ctx.sender)
    return ctx.reply("mall/cancelled", order=order_data(ctx, o, secrets=False), balance=m.points if m else 0)


@job("mall_expire")
async def expire_job(ctx: Context) -> list[Reply]:
    """Cancel and refund points + cash orders not paid in time; tell each member privately."""
    out = []
    for o in expire_due(ctx):
        m = ledger(ctx).member(o.member)
        out.append(private_to(o.member, "mall/notify", {"event": "expired", "order": order_data(ctx, o, secrets=False),
                                                         "balance": m.points if m else 0},
                              o.room, {o.member: m.name if m else ""}))
    return out


# -- the scheduled highlights -------------------------------------------------------------------------

HOT = 3  # 热门兑换 lists this many items at most


def _listed_since(it: ItemView) -> datetime | None:
    """When the item went on sale: its window's start, else when its sku first reached the database."""
    return it.starts or it.first_seen


@job("mall_highlights")
async def highlights(ctx: Context) -> Reply | None:
    """Post what is on sale now: 新品, 即将售罄 and 热门兑换, each part left out when empty; nothing at all
    when every part is. Items with a min_level above the lowest level are not advertised to the whole group."""
    cfg = ctx.settings.mall
    if cfg is None:
        return None
    on_sale = [it for it in mall(ctx).items()
               if not it.unavailable(ctx.now) and it.stock != 0 and meets(ctx.settings, 0, it.min_level)]
    since = ctx.now - timedelta(days=cfg.highlight_new_days)
    new = [it for it in on_sale
           if cfg.highlight_new_days and (t := _listed_since(it)) is not None and since < t <= ctx.now]
    low = [it for it in on_sale if it.stock is not None and 0 < it.stock <= cfg.highlight_low_stock]
    hot = sorted((it for it in on_sale if it.sold > 0), key=lambda it: (-it.sold, it.position))[:HOT]
    if not (new or low or hot):
        return None

    def rows(items: list[ItemView]) -> list[dict[str, Any]]:
        return [{**item_data(ctx, it), "sold": it.sold} for it in items]

    discounts = any(lv.mall_discount < 1 for lv in ctx.settings.levels)
    return Reply("mall/highlights", {"new": rows(new), "low": rows(low), "hot": rows(hot),
                                     "new_days": cfg.highlight_new_days, "discounts": discounts}, broadcast=True)
