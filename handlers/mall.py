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

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from bot.config import (
    Aware,
    Days,
    NonNegInt,
    PosDays,
    PosHours,
    PosInt,
    PosMinutes,
    PosPoints,
    Section,
    Text,
    Words,
    problem,
    section,
)
from bot.dispatch import Context, Reply, command, conversation, job, on_cancel
from bot.errors import UsageError
from handlers.common import ledger, member_name, services
from handlers.lib.answers import Invalid, clean_phone
from handlers.lib.levels import meets
from handlers.lib.mall import (
    MAX_NUMBER_DIGITS,
    expire_due,
    find_item,
    growth_of,
    item_data,
    level_ok,
    mall,
    order_data,
    order_number,
    price_for,
    private_to,
    refusal,
)
from storage import keys
from storage.conversations import Pending
from storage.errors import InsufficientPoints
from storage.mall import BelowLevel, ItemView, MallRefusal, OrderMove, OrderStatus, UnknownItem

MAX_YUAN = 1_000_000  # the cash part of one item (nan and inf fail the bounds too)


def _yuan(v: Any) -> int:
    """Yuan as typed (12, 9.9) to whole fen, refusing fractions of a fen."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= MAX_YUAN \
            or round(v * 100, 6) != int(round(v * 100, 6)):
        raise problem(f"must be a number of yuan >= 0 and <= {MAX_YUAN} with at most two decimals, such as 9.9")
    return round(v * 100)


Yuan = Annotated[int, BeforeValidator(_yuan)]  # stored in fen
Sku = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"),
                Words('letters, digits, "-", "_" or "." (up to 40, no spaces), such as "mug-2026"')]


class MallCoupon(Section):
    code: str = ""  # the code every buyer gets (a shared coupon code)
    threshold: str = ""  # what it is worth, as members read it: "满100减20"
    valid_days: PosDays = 30  # it expires this many local days after the order


class MallItem(Section):
    """One thing for sale; `sku` is its identity in the database (stock, sales, orders), never change it."""

    sku: Sku
    name: Text
    kind: Literal["physical", "red_packet", "card_code", "link", "coupon"]
    points: PosPoints
    cash: Yuan = 0  # > 0 means points + cash
    stock: NonNegInt | None = None  # opening stock when the sku is first seen; left out: unlimited
    limit_per_member: NonNegInt = 0  # orders per member that were not cancelled or refunded (0: no limit)
    starts: Aware | None = None
    ends: Aware | None = None
    min_level: str = ""  # a [[levels]] name: only members at that level or above see and may buy it
    link: str = ""
    coupon: MallCoupon | None = None
    description: str = ""

    @model_validator(mode="after")
    def _kind_needs(self) -> MallItem:
        if self.starts and self.ends and self.ends <= self.starts:
            raise problem("ends must be after starts")
        if self.kind == "link" and not self.link.strip():
            raise problem('link is required for kind = "link" (it is what the buyer gets)')
        if self.kind == "coupon" and (self.coupon is None or not self.coupon.code.strip()):
            raise problem('coupon.code is required for kind = "coupon"')
        if self.kind == "card_code" and self.stock is not None:
            raise problem("stock must be left out for kind = \"card_code\": its stock is the number of unused codes "
                          "(python run_bot.py import-codes SKU FILE)")
        return self


class MallSettings(Section):
    confirm_above: NonNegInt = 500  # items costing the member (level price) above this ask for 确认 (0: always)
    confirm_minutes: PosMinutes = 2  # ... within this many minutes
    page_size: PosInt = 8  # items per page of 商城
    address_minutes: PosMinutes = 30  # the parcel address conversation ends after this long without an answer
    pay_within_hours: PosHours = 24  # a points + cash order not marked paid by then is cancelled and refunded
    pay_note: str = "请按管理员提供的方式付款"  # how to pay the cash part, told privately to the buyer
    highlight_new_days: Days = 7  # job mall_highlights: 新品 = listed within this many days (0: no 新品 part)
    highlight_low_stock: NonNegInt = 5  # ... 即将售罄 = this many left or fewer (0: no 即将售罄 part)
    items: list[MallItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> MallSettings:
        skus: set[str] = set()
        names: set[str] = set()
        for i, it in enumerate(self.items):
            if it.sku.lower() in skus:
                raise problem(f"items[{i}].sku repeats {it.sku!r}: each item needs its own sku")
            if it.name in names:
                raise problem(f"items[{i}].name repeats {it.name!r}: members redeem by name")
            if it.name.isdecimal():
                raise problem(f"items[{i}].name must not be a number: 兑换 N means item number N")
            skus.add(it.sku.lower())
            names.add(it.name)
        return self


def _levels_named(settings: Any) -> None:
    """A min_level names a configured level (a typo would limit nothing, silently)."""
    names = {lv.name for lv in settings.levels}
    for i, it in enumerate(settings.mall.items if settings.mall else []):
        if it.min_level and it.min_level not in names:
            known = ", ".join(sorted(names)) or "none: add [[levels]] first"
            raise problem(f"mall.items[{i}].min_level {it.min_level!r} is not a level (levels: {known})")


section("mall", MallSettings, check=_levels_named)  # 积分商城; section left out: off

CONFIRM = "mall_confirm"
ADDRESS = "mall_address"
ORDERS_SHOWN = 10
RECIPIENT_MAX = 20
ADDRESS_MIN, ADDRESS_MAX = 5, 120
YES = ("确认", "确定", "确认兑换")


# -- browsing -----------------------------------------------------------------------------------


@command("商城", aliases=("积分商城",), feature="mall")
async def catalogue(ctx: Context, args: str) -> Reply | list[Reply]:
    """查看积分商城在售商品
    商城 [页码]"""
    expire_due(ctx)
    size = ctx.settings.mall.page_size
    growth = growth_of(ctx)
    on_sale = [it for it in mall(ctx).items()
               if not it.unavailable(ctx.now) and meets(ctx.settings, growth, it.min_level)]
    pages = max(1, -(-len(on_sale) // size))
    word = args.split()[0] if args.split() else ""
    page = int(word) if word.isdecimal() and len(word) <= MAX_NUMBER_DIGITS and int(word) > 0 else 1
    beyond = word.isdecimal() and (len(word) > MAX_NUMBER_DIGITS or page > pages)  # "商城 3" of 2 pages: say so
    page = pages if beyond else page
    rows = [item_data(ctx, it, growth) for it in on_sale[(page - 1) * size: page * size]]
    # an operator is told which card-code items have no codes to sell (members read 暂时缺货): privately only
    uncoded = mall(ctx).uncoded() if ctx.is_admin else []
    shown = ctx.reply("mall/list", rows=rows, page=page, pages=pages, beyond=beyond,
                      uncoded=uncoded if ctx.room is None else [])
    if uncoded and ctx.room is not None:
        return [shown, Reply("mall/admin_uncoded", {"skus": uncoded}, to=ctx.sender)]
    return shown


@command("商品", aliases=("商品详情",), feature="mall")
async def show_item(ctx: Context, args: str) -> Reply:
    """查看一件商品的详情
    商品 编号"""
    if not args:
        raise UsageError("请写上商品编号", usage="商品 编号")
    try:
        it = find_item(ctx, args, "商品 编号")
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
        it = find_item(ctx, args, "兑换 编号")
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
    replies.append(private_to(ctx.sender, "mall/deliver", data, ctx.room, {ctx.sender: member_name(ctx, ctx.sender)}))
    return replies


# -- the parcel address (a private conversation) ------------------------------------------------------


def _ask_address(ctx: Context, order: int, step: str, data: dict[str, Any]) -> None:
    expires = ctx.now + timedelta(minutes=ctx.settings.mall.address_minutes)
    services(ctx).conversations.set_pending("", ctx.sender, ADDRESS, step, {**data, "order": order}, expires)


USE_PROFILE_PHONE = ("是", "是的", "好", "好的", "对", "用", "确认", "可以", "嗯", "同上")


def _profile_phone(ctx: Context) -> str:
    """The phone number the member gave 完善资料, or ""; only ever shown masked, in their private chat."""
    profile = services(ctx).profiles.get(ctx.sender)
    return str(profile.data.get("phone") or "") if profile else ""


def _known_phone(ctx: Context, step: str) -> str:
    """For the phone question: the profile's number, masked ("138****5678"), to confirm instead of typing it."""
    phone = _profile_phone(ctx) if step == "phone" else ""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else ""


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
        known = _profile_phone(ctx) if step == "phone" and text.strip() in USE_PROFILE_PHONE else ""
        value = known or _clean(step, text)
    except Invalid as bad:
        _ask_address(ctx, order, step, state.data)
        return Reply("mall/address_ask", {"step": step, "invalid": bad.reason, "order": order,
                                          "known_phone": _known_phone(ctx, step)}, private=True)
    data = {**state.data, step: value}
    nxt = {"recipient": "phone", "phone": "address"}.get(step)
    if nxt:
        _ask_address(ctx, order, nxt, data)
        return Reply("mall/address_ask", {"step": nxt, "invalid": "", "order": order,
                                          "known_phone": _known_phone(ctx, nxt)}, private=True)
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


@on_cancel(ADDRESS)
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


# -- my orders ----------------------------------------------------------------------------------


@command("我的订单", aliases=("订单",), feature="mall")
async def my_orders(ctx: Context, args: str) -> list[Reply]:
    """查看我的订单（私信发送）"""
    expire_due(ctx)
    orders = mall(ctx).orders(member=ctx.sender, limit=ORDERS_SHOWN, newest_first=True)
    data: dict[str, Any] = {"orders": [order_data(ctx, o) for o in orders], "size": ORDERS_SHOWN, "question": "",
                            "asking": 0, "known_phone": ""}
    # an order still waiting for its address (the member could not be asked privately): ask now
    state = services(ctx).conversations.pending("", ctx.sender, ctx.now)
    if state is not None and state.kind == ADDRESS:
        data["question"], data["asking"] = state.step, int(state.data["order"])
    elif state is None:
        waiting = mall(ctx).orders(member=ctx.sender, statuses=(OrderStatus.ADDRESS,))
        if waiting:
            _ask_address(ctx, waiting[0].id, "recipient", {})
            data["question"], data["asking"] = "recipient", waiting[0].id
    data["known_phone"] = _known_phone(ctx, data["question"])
    replies: list[Reply] = []
    if ctx.room is not None:
        replies.append(ctx.reply("mall/orders_moved"))
    replies.append(private_to(ctx.sender, "mall/orders", data, ctx.room, {ctx.sender: member_name(ctx, ctx.sender)}))
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
                              o.room, {o.member: member_name(ctx, o.member)}))
    return out


# -- the scheduled highlights -------------------------------------------------------------------------

HOT = 3  # 热门兑换 lists this many items at most


def _listed_since(it: ItemView) -> datetime | None:
    """When the item went on sale: its window's start, else when its sku first reached the database."""
    return it.starts or it.first_seen


@job("mall_highlights", posts=True)
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
