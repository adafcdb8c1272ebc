"""Named vocabulary of the stored data: ledger kinds, order statuses and the one table of order moves."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a ledger entry is for; the values are the strings stored in `ledger.kind`."""

    CHECKIN = "checkin"
    CHECKIN_STREAK = "checkin_streak"
    CHECKIN_TOTAL = "checkin_total"
    MAKEUP = "makeup"
    INVITE = "invite"
    INVITE_REVOKE = "invite_revoke"
    NEWCOMER = "newcomer"
    TASK = "task"
    TASK_REVOKE = "task_revoke"
    PROFILE = "profile"
    FOLLOW = "follow"
    QUIZ = "quiz"
    ADMIN_AWARD = "admin_award"
    ADMIN_DEDUCT = "admin_deduct"
    REDEEM = "redeem"
    REFUND = "refund"
    EXPIRE = "expire"
    REVERSAL = "reversal"  # 撤销: an operator undid a manual entry as if it never happened
    IMPORT = "import"  # a balance moved in from another system (import-balances), once per member


# what a frozen member's ledger refuses (storage.errors.MemberFrozen): every rule's payout and the member's own
# spending (兑换, 补签); an operator's 加分 / 扣分, refunds, reversals, clawbacks, expiry and imports still go
FROZEN_REFUSES = frozenset({Kind.CHECKIN, Kind.CHECKIN_STREAK, Kind.CHECKIN_TOTAL, Kind.MAKEUP, Kind.INVITE,
                            Kind.NEWCOMER, Kind.TASK, Kind.PROFILE, Kind.FOLLOW, Kind.QUIZ, Kind.REDEEM})

# what 撤销 may undo: entries an operator made by hand; every other kind has its own flow (or none)
UNDOABLE = frozenset({Kind.ADMIN_AWARD, Kind.ADMIN_DEDUCT})


class OrderStatus(StrEnum):
    """Where a mall order stands; the values are the strings stored in `mall_orders.status`."""

    ADDRESS = "address"  # waiting for the member's parcel address
    UNPAID = "unpaid"  # points + cash: waiting for the cash
    PENDING = "pending"  # waiting for an operator (ship, send the red packet)
    SHIPPED = "shipped"
    DONE = "done"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    EXPIRED = "expired"  # unpaid past its deadline


# what an operator reads for each status (CLI tables, CSV); --status takes the value or its label
STATUS_LABELS: dict[OrderStatus, str] = {
    OrderStatus.ADDRESS: "待填收货信息", OrderStatus.UNPAID: "待付款", OrderStatus.PENDING: "待处理",
    OrderStatus.SHIPPED: "已发货", OrderStatus.DONE: "已完成", OrderStatus.CANCELLED: "已取消",
    OrderStatus.REFUNDED: "已退款", OrderStatus.EXPIRED: "超时未付",
}

LIVE = (OrderStatus.ADDRESS, OrderStatus.UNPAID, OrderStatus.PENDING, OrderStatus.SHIPPED, OrderStatus.DONE)
CLOSED = (OrderStatus.CANCELLED, OrderStatus.REFUNDED, OrderStatus.EXPIRED)  # points and stock came back


class OrderMove(StrEnum):
    """Something that moves an order on; MOVES says from where and to where."""

    GIVE_ADDRESS = "give_address"
    PAY = "pay"
    SHIP = "ship"
    COMPLETE = "complete"
    DROP_ADDRESS = "drop_address"  # the member cancels while asked for the address
    CANCEL = "cancel"  # the member cancels an order not yet fulfilled (nor, for cash, paid)
    REFUND = "refund"  # an operator refunds a standing order
    EXPIRE = "expire"  # unpaid past its deadline


S = OrderStatus
# move -> (statuses it may start from, statuses it may end in): every status change is checked here
MOVES: dict[OrderMove, tuple[frozenset[OrderStatus], frozenset[OrderStatus]]] = {
    OrderMove.GIVE_ADDRESS: (frozenset({S.ADDRESS}), frozenset({S.UNPAID, S.PENDING})),
    OrderMove.PAY: (frozenset({S.UNPAID}), frozenset({S.PENDING, S.DONE})),
    OrderMove.SHIP: (frozenset({S.PENDING}), frozenset({S.SHIPPED})),
    OrderMove.COMPLETE: (frozenset({S.PENDING, S.SHIPPED}), frozenset({S.DONE})),
    OrderMove.DROP_ADDRESS: (frozenset({S.ADDRESS}), frozenset({S.CANCELLED})),
    OrderMove.CANCEL: (frozenset({S.ADDRESS, S.UNPAID, S.PENDING}), frozenset({S.CANCELLED})),
    OrderMove.REFUND: (frozenset(LIVE), frozenset({S.REFUNDED})),
    OrderMove.EXPIRE: (frozenset({S.UNPAID}), frozenset({S.EXPIRED})),
}
del S
