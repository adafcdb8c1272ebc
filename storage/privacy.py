"""One member's personal data on request: exported, or erased while the ledger's numbers stay as they are.

Personal data here is what a member gave the bot about themselves: the profile (phone, birthday, city …) and
the parcel details of their orders (recipient, phone, address), plus any conversation in progress (a half-typed
address). The display name and the contact id stay: the ledger, the boards and the audit need them, and they
are what the chat itself shows. Erasing is refused while an order still needs its address to be shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import delete, select, update

from storage.db import Database
from storage.errors import LedgerRefusal
from storage.tables import CONVERSATIONS, MALL_ORDERS, MEMBERS, PROFILES
from storage.vocabulary import OrderStatus

# an order in these states still needs its parcel details: erasing them would lose the parcel
NEEDS_ADDRESS = (OrderStatus.ADDRESS, OrderStatus.UNPAID, OrderStatus.PENDING)


class OrdersNeedAddress(LedgerRefusal):
    """Erasing would lose the address of orders not yet shipped; nothing was changed."""

    reason: ClassVar[str] = "orders_need_address"

    def __init__(self, orders: list[int]) -> None:
        self.orders = orders
        super().__init__("、".join(f"单号 {o}" for o in orders) + " 还没发货，需要收货信息：先发货、完成或退款，再删除个人资料")


@dataclass(frozen=True)
class Erased:
    profile_fields: int
    orders: int  # orders whose parcel details were blanked
    conversations: int


class Privacy:
    def __init__(self, db: Database) -> None:
        self.db = db

    def export(self, member: str) -> dict[str, Any] | None:
        """Everything personal the bot holds about `member` (None: no such member), as JSON-ready data."""
        with self.db.reading() as conn:
            m = conn.execute(select(MEMBERS.c.id, MEMBERS.c.name, MEMBERS.c.created_at)
                             .where(MEMBERS.c.id == member)).first()
            if m is None:
                return None
            profile = conn.execute(select(PROFILES.c.data, PROFILES.c.completed_at)
                                   .where(PROFILES.c.member_id == member)).first()
            orders = conn.execute(select(MALL_ORDERS.c.id, MALL_ORDERS.c.name, MALL_ORDERS.c.status,
                                         MALL_ORDERS.c.recipient, MALL_ORDERS.c.phone, MALL_ORDERS.c.address,
                                         MALL_ORDERS.c.tracking, MALL_ORDERS.c.created_at)
                                  .where(MALL_ORDERS.c.member_id == member).order_by(MALL_ORDERS.c.id)).all()
            talks = conn.execute(select(CONVERSATIONS.c.kind, CONVERSATIONS.c.step, CONVERSATIONS.c.data)
                                 .where(CONVERSATIONS.c.member_id == member)).all()
        return {
            "member": m.id, "name": m.name, "first_seen": _iso(m.created_at),
            "profile": dict(profile.data) if profile else {},
            "profile_completed_at": _iso(profile.completed_at) if profile else None,
            "orders": [{"id": o.id, "item": o.name, "status": o.status, "recipient": o.recipient, "phone": o.phone,
                        "address": o.address, "tracking": o.tracking, "created_at": _iso(o.created_at)}
                       for o in orders if o.recipient or o.phone or o.address],
            "conversations": [{"kind": t.kind, "step": t.step, "data": dict(t.data)} for t in talks],
        }

    def erase(self, member: str) -> Erased:
        """Delete the profile and pending conversations, blank the parcel details of every order; in the open
        transaction (the caller's operator log row goes with it). OrdersNeedAddress, changing nothing, while an
        order still needs them."""
        with self.db.transaction() as conn:
            waiting = [r.id for r in conn.execute(
                select(MALL_ORDERS.c.id).where(MALL_ORDERS.c.member_id == member, MALL_ORDERS.c.kind == "physical",
                                               MALL_ORDERS.c.status.in_([str(s) for s in NEEDS_ADDRESS]))
                .order_by(MALL_ORDERS.c.id))]
            if waiting:
                raise OrdersNeedAddress(waiting)
            row = conn.execute(select(PROFILES.c.data).where(PROFILES.c.member_id == member)).first()
            fields = len(row.data) if row else 0
            conn.execute(delete(PROFILES).where(PROFILES.c.member_id == member))
            o = MALL_ORDERS.c
            blanked = conn.execute(update(MALL_ORDERS).where(
                o.member_id == member, (o.recipient != "") | (o.phone != "") | (o.address != ""))
                .values(recipient="", phone="", address="")).rowcount
            talks = conn.execute(delete(CONVERSATIONS).where(CONVERSATIONS.c.member_id == member)).rowcount
        return Erased(profile_fields=fields, orders=blanked or 0, conversations=talks or 0)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
