"""Refusals storage raises; handlers turn them into replies. Nothing was written when one is raised.

Each refusal names its reason (`reason`, a stable code for logs and replies) and carries what a reply shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar


class LedgerRefusal(Exception):
    """The ledger refused an operation; the database is unchanged."""

    reason: ClassVar[str] = "refused"


@dataclass
class AlreadyCheckedIn(LedgerRefusal):
    reason: ClassVar[str] = "already_checked_in"
    streak: int
    total_days: int
    points: int


@dataclass
class InsufficientPoints(LedgerRefusal):
    reason: ClassVar[str] = "insufficient_points"
    needed: int
    points: int


class DuplicateEvent(LedgerRefusal):
    """The idempotency key was used before: this is a replay."""

    reason: ClassVar[str] = "duplicate_event"


@dataclass
class NothingToMakeUp(LedgerRefusal):
    reason: ClassVar[str] = "nothing_to_make_up"
    within_days: int


@dataclass
class MakeupLimit(LedgerRefusal):
    reason: ClassVar[str] = "makeup_limit"
    used: int
    limit: int


@dataclass
class MemberFrozen(LedgerRefusal):
    """冻结: the member earns nothing from any rule and cannot redeem or 补签 until 解冻 (storage.freezes)."""

    reason: ClassVar[str] = "member_frozen"
    member: str


@dataclass
class NoSuchEntry(LedgerRefusal):
    reason: ClassVar[str] = "no_such_entry"
    entry: int


@dataclass
class NotUndoable(LedgerRefusal):
    """撤销 applies to manual entries only; the kind says which flow (if any) undoes this one."""

    reason: ClassVar[str] = "not_undoable"
    entry: int
    kind: str


@dataclass
class AlreadyReversed(LedgerRefusal):
    reason: ClassVar[str] = "already_reversed"
    entry: int
    by: int  # the reversal's entry id


# -- the mall ---------------------------------------------------------------------------------------


class MallRefusal(LedgerRefusal):
    """The mall refused; the database is unchanged."""

    reason: ClassVar[str] = "mall_refused"


class OffSale(StrEnum):
    """Why an item is not on sale."""

    OFF = "off"  # 下架, or removed from config
    NOT_YET = "not_yet"
    ENDED = "ended"


@dataclass
class UnknownItem(MallRefusal):
    reason: ClassVar[str] = "unknown_item"
    wanted: str


@dataclass
class NotOnSale(MallRefusal):
    name: str
    why: OffSale
    starts: datetime | None = None
    ends: datetime | None = None

    @property
    def reason(self) -> str:  # type: ignore[override]
        return str(self.why)


@dataclass
class OutOfStock(MallRefusal):
    reason: ClassVar[str] = "out_of_stock"
    name: str


@dataclass
class OverLimit(MallRefusal):
    reason: ClassVar[str] = "over_limit"
    name: str
    limit: int
    held: int


@dataclass
class BelowLevel(MallRefusal):
    reason: ClassVar[str] = "below_level"
    name: str
    level: str  # the item's min_level


@dataclass
class NoSuchOrder(MallRefusal):
    reason: ClassVar[str] = "no_such_order"
    order: int


@dataclass
class WrongStatus(MallRefusal):
    reason: ClassVar[str] = "wrong_status"
    order: int
    status: str  # the order's status, or "paid" for a paid cash order a member may not cancel


@dataclass
class NotRecyclable(MallRefusal):
    """回收卡密 refused: `why` is not_card_code, not_closed (refund it first), not_delivered (its code went back
    by itself) or recycled (already)."""

    reason: ClassVar[str] = "not_recyclable"
    order: int
    why: str
