"""Mall operator commands (admins, in a group or privately): orders to handle, 收款/发货/完成/退款/回收卡密, listing and stock.

A refund returns the points; the unit goes back in stock only if it never left: a parcel shipped (or done)
is not on the shelf (补货 when it comes back), and a card code shown to the member is burnt until an
operator puts it back with 回收卡密 单号 (its own command: never read out of a refund's free-text reason).

Order details (names, phones, addresses) go to the operator privately; the member is told
privately, with a note in the group the order came from when that private message cannot be
delivered.
"""

from __future__ import annotations

from bot.dispatch import Context, Reply, command
from bot.errors import UsageError, UserError
from handlers.common import as_typed, ledger, member_name, oplog, services
from handlers.lib.mall import (
    expire_due,
    item_data,
    mall,
    order_data,
    order_number,
    private_to,
    refusal,
)
from storage.mall import MallRefusal, OrderMove, OrderStatus, OrderView

MAX_RESTOCK = 100_000
TRACKING_MAX = 40
REASON_MAX = 100


def _tell(ctx: Context, o: OrderView, event: str) -> Reply:
    """Tell the order's member privately what happened to it (a note in its group when that fails)."""
    m = ledger(ctx).member(o.member)
    names = {o.member: member_name(ctx, o.member)}
    return private_to(o.member, "mall/notify", {"event": event, "order": order_data(ctx, o),
                                                "balance": m.points if m else 0}, o.room, names)


def _ack(ctx: Context, event: str, o: OrderView) -> Reply:
    return ctx.reply("mall/admin_done", event=event, order=order_data(ctx, o, secrets=False), stock=0)


@command("待处理订单", admin=True, feature="mall")
async def pending_orders(ctx: Context, args: str) -> list[Reply]:
    """查看待处理的商城订单（管理员，私信发送）"""
    expire_due(ctx)
    orders = mall(ctx).orders(statuses=(OrderStatus.PENDING, OrderStatus.UNPAID, OrderStatus.SHIPPED,
                                       OrderStatus.ADDRESS))
    names = {m.id: m.name for m in ledger(ctx).members()} if orders else {}
    rows = [{**order_data(ctx, o, secrets=False), "member_name": names.get(o.member) or o.member} for o in orders]
    replies = []
    if ctx.room is not None:
        replies.append(ctx.reply("mall/orders_moved"))
    replies.append(Reply("mall/admin_pending", {"orders": rows}, private=True,
                         fallback=Reply("mall/not_friend", {"member_name": ctx.sender_name})))
    return replies


@command("收款", aliases=("确认收款",), admin=True, feature="mall")
async def paid(ctx: Context, args: str) -> list[Reply]:
    """确认积分+现金订单已付款（管理员）
    收款 单号"""
    order = order_number(ctx, args, "收款 单号")
    current = mall(ctx).order(order)
    if current is None:
        raise refusal(_no(order))
    nxt = OrderStatus.DONE if current.kind in ("card_code", "link", "coupon") else OrderStatus.PENDING
    try:
        o = mall(ctx).move(order=order, move=OrderMove.PAY, status=nxt, at=ctx.now, paid_at=ctx.now, pay_by=None)
    except MallRefusal as err:
        raise refusal(err) from None
    oplog(ctx, "order_paid", f"order:{o.id}", {"member": o.member})
    return [_ack(ctx, "paid", o), _tell(ctx, o, "paid")]


@command("发货", admin=True, feature="mall")
async def ship(ctx: Context, args: str) -> list[Reply]:
    """实物订单已发货，通知会员（管理员）
    发货 单号 [快递单号]"""
    order = order_number(ctx, args, "发货 单号 [快递单号]")
    tracking = " ".join(args.split()[1:])
    if len(tracking) > TRACKING_MAX:
        raise UsageError("快递单号太长", usage="发货 单号 [快递单号]")
    current = mall(ctx).order(order)
    if current is None:
        raise refusal(_no(order))
    if current.kind != "physical":
        raise UserError(template="mall/refused", reason="not_physical", order=order)
    try:
        o = mall(ctx).move(order=order, move=OrderMove.SHIP, status=OrderStatus.SHIPPED, at=ctx.now, tracking=tracking)
    except MallRefusal as err:
        raise refusal(err) from None
    oplog(ctx, "order_shipped", f"order:{o.id}", {"member": o.member, "tracking": tracking})
    return [_ack(ctx, "shipped", o), _tell(ctx, o, "shipped")]


@command("完成", aliases=("完成订单",), admin=True, feature="mall")
async def finish(ctx: Context, args: str) -> list[Reply]:
    """订单已办妥（红包已发、快递已签收）（管理员）
    完成 单号"""
    order = order_number(ctx, args, "完成 单号")
    try:
        o = mall(ctx).move(order=order, move=OrderMove.COMPLETE, status=OrderStatus.DONE, at=ctx.now)
    except MallRefusal as err:
        raise refusal(err) from None
    oplog(ctx, "order_done", f"order:{o.id}", {"member": o.member})
    return [_ack(ctx, "done", o), _tell(ctx, o, "done")]


@command("退款", aliases=("退款订单",), admin=True, feature="mall")
async def refund(ctx: Context, args: str) -> list[Reply]:
    """退回订单的积分；未发出的商品放回库存（管理员）
    退款 单号 理由"""
    usage = "退款 单号 理由"
    order = order_number(ctx, args, usage)
    reason = as_typed(ctx.text, " ".join(args.split()[1:]))  # as typed: full-width punctuation kept
    if not reason:
        raise UsageError("请写上退款理由", usage=usage)
    if len(reason) > REASON_MAX:
        raise UsageError("理由太长", usage=usage)
    try:
        o = mall(ctx).refund(order=order, at=ctx.now, move=OrderMove.REFUND, reason=reason)
    except MallRefusal as err:
        raise refusal(err) from None
    oplog(ctx, "order_refunded", f"order:{o.id}", {"member": o.member, "points": o.points}, reason)
    st = services(ctx).conversations.pending("", o.member, ctx.now)
    if st is not None and st.kind == "mall_address" and int(st.data.get("order", 0)) == o.id:
        services(ctx).conversations.clear_pending("", o.member)
    return [_ack(ctx, "refunded", o), _tell(ctx, o, "refunded")]


@command("回收卡密", admin=True, feature="mall")
async def recycle(ctx: Context, args: str) -> Reply:
    """把已退款订单发出的卡密放回库存（管理员；确认卡密仍可用时）
    回收卡密 单号"""
    order = order_number(ctx, args, "回收卡密 单号")
    try:
        o, _code = mall(ctx).recycle(order=order, operator=ctx.sender, at=ctx.now)
    except MallRefusal as err:
        raise refusal(err) from None
    oplog(ctx, "code_recycled", f"order:{o.id}", {"member": o.member, "sku": o.sku})
    it = mall(ctx).item(o.sku)
    return ctx.reply("mall/admin_done", event="recycled", order=order_data(ctx, o, secrets=False),
                     stock=it.stock if it else 0)


def _sku_item(ctx: Context, args: str, usage: str) -> str:
    sku = args.split()[0] if args.split() else ""
    if not sku:
        raise UsageError("请写上商品 SKU", usage=usage)
    return sku


@command("上架", admin=True, feature="mall")
async def list_item(ctx: Context, args: str) -> Reply:
    """上架商品（管理员）
    上架 SKU"""
    return _listing(ctx, args, True)


@command("下架", admin=True, feature="mall")
async def unlist_item(ctx: Context, args: str) -> Reply:
    """下架商品，已有订单不受影响（管理员）
    下架 SKU"""
    return _listing(ctx, args, False)


def _listing(ctx: Context, args: str, listed: bool) -> Reply:
    sku = _sku_item(ctx, args, "上架 SKU" if listed else "下架 SKU")
    try:
        it = mall(ctx).set_listed(sku, listed)
    except MallRefusal as err:
        raise refusal(err) from None
    oplog(ctx, "listed" if listed else "unlisted", f"sku:{sku}")
    return ctx.reply("mall/admin_item", event="listed" if listed else "unlisted", item=item_data(ctx, it),
                     added=0)


@command("补货", admin=True, feature="mall")
async def restock(ctx: Context, args: str) -> Reply:
    """给商品补充库存（管理员；卡密请用 import-codes 导入）
    补货 SKU 数量"""
    usage = "补货 SKU 数量"
    sku = _sku_item(ctx, args, usage)
    words = args.split()
    if len(words) < 2 or not words[1].isdecimal() or len(words[1]) > 9 or not 0 < int(words[1]) <= MAX_RESTOCK:
        raise UsageError(f"数量需要是 1 到 {MAX_RESTOCK} 的整数", usage=usage)
    try:
        it = mall(ctx).restock(sku, int(words[1]))
    except MallRefusal as err:
        raise refusal(err) from None
    except ValueError as why:
        raise UserError(template="mall/refused", reason=f"restock_{why}", item=sku) from None
    oplog(ctx, "restocked", f"sku:{sku}", {"added": int(words[1])})
    return ctx.reply("mall/admin_item", event="restocked", item=item_data(ctx, it), added=int(words[1]))


def _no(order: int) -> MallRefusal:
    from storage.mall import NoSuchOrder

    return NoSuchOrder(order=order)
