"""我的账单's reads: one member's year from the ledger, check-ins, invites and mall orders; nothing is written.

Every query is for one member and walks that member's rows through an existing index (ledger by
member_id, checkins by (member_id, day), invites by (inviter_id, status), mall orders by member_id);
the rank percentile counts the members table once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, or_, select

from storage.ledger import Ledger
from storage.mall import LIVE
from storage.models import ActiveDay, Checkin, Invite, LedgerEntry, MallItem, MallOrder, Member, RoomMember

L = LedgerEntry.__table__  # type: ignore[attr-defined]
C = Checkin.__table__  # type: ignore[attr-defined]
A = ActiveDay.__table__  # type: ignore[attr-defined]
INV = Invite.__table__  # type: ignore[attr-defined]
I = MallItem.__table__  # type: ignore[attr-defined]  # noqa: E741
O = MallOrder.__table__  # type: ignore[attr-defined]  # noqa: E741
M = Member.__table__  # type: ignore[attr-defined]
RM = RoomMember.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Offer:
    """A mall item on sale now, in stock, and not yet at the member's limit (price and level are the caller's)."""

    sku: str
    number: int  # what 商城 shows
    name: str
    points: int
    cash: int  # fen
    min_level: str


@dataclass(frozen=True)
class Year:
    """What one member did in [start, end): ledger sums per kind and the counts the statement shows."""

    by_kind: dict[str, int]  # ledger kind -> sum of its deltas in the year
    checkin_days: int  # days checked in (makeups included)
    longest_streak: int  # longest run of check-in days inside the year
    invites: int  # invites made in the year that still stand (status valid)
    redeemed: list[tuple[str, int]] = field(default_factory=list)  # (item name, orders standing), first bought first
    below: int = 0  # members ranked (see `percentile`) holding fewer points than this one
    others: int = 0  # members ranked besides this one; 0 when this one is not ranked


def read_year(ledger: Ledger, member: str, *, start: datetime, end: datetime, first: date, last: date,
              exclude: Sequence[str] = ()) -> Year:
    """The member's year: local days `first`..`last` are [start, end) in local time."""
    with ledger.reading() as conn:
        by_kind = {r.kind: int(r.total or 0) for r in conn.execute(
            select(L.c.kind, func.sum(L.c.delta).label("total"))
            .where(L.c.member_id == member, L.c.at >= start, L.c.at < end).group_by(L.c.kind))}
        days = sorted(_day(r[0]) for r in conn.execute(
            select(C.c.day).where(C.c.member_id == member, C.c.day >= first, C.c.day <= last)))
        active = {_day(r[0]) for r in conn.execute(select(A.c.day).where(A.c.day >= first, A.c.day <= last))}
        invites = int(conn.execute(select(func.count()).select_from(INV).where(
            INV.c.inviter_id == member, INV.c.status == "valid", INV.c.joined_at >= start,
            INV.c.joined_at < end)).scalar_one())
        redeemed = [(r.name, int(r.n)) for r in conn.execute(
            select(O.c.name, func.count().label("n"), func.min(O.c.id).label("first"))
            .where(O.c.member_id == member, O.c.status.in_(LIVE), O.c.created_at >= start, O.c.created_at < end)
            .group_by(O.c.name).order_by("first"))]
        below, others = _percentile(conn, member, exclude)
    return Year(by_kind=by_kind, checkin_days=len(days), longest_streak=longest_run(days, active),
                invites=invites, redeemed=redeemed, below=below, others=others)


def _day(v: Any) -> date:
    return date.fromisoformat(v) if isinstance(v, str) else v  # type: ignore[no-any-return]


def longest_run(days: Iterable[date], active: set[date]) -> int:
    """The longest streak in `days` (ascending), by the ledger's rule: a day the bot did not run
    (not in `active`) breaks no streak; a day it ran without a check-in does."""
    best = run = 0
    prev: date | None = None
    for d in days:
        if prev is not None and _unbroken(prev, d, active):
            run += 1
        else:
            run = 1
        best, prev = max(best, run), d
    return best


def _unbroken(before: date, after: date, active: set[date]) -> bool:
    d = before + timedelta(days=1)
    while d < after:
        if d in active:
            return False
        d += timedelta(days=1)
    return True


def _ranked(member_col: Any, exclude: Sequence[str]) -> list[Any]:
    """Who counts, as on the boards: not an admin, and still in some group."""
    conds = [exists().where(and_(RM.c.member_id == member_col, RM.c.active.is_(True)))]
    if exclude:
        conds.append(member_col.not_in(list(exclude)))
    return conds


def _percentile(conn: Connection, member: str, exclude: Sequence[str]) -> tuple[int, int]:
    """(members ranked below this one by balance, members ranked besides this one); (0, 0) when not ranked."""
    mine = conn.execute(select(M.c.points).where(M.c.id == member, *_ranked(M.c.id, exclude))).scalar()
    if mine is None:
        return 0, 0
    row = conn.execute(select(func.count(), func.sum(case((M.c.points < mine, 1), else_=0)))
                       .where(M.c.id != member, *_ranked(M.c.id, exclude))).one()
    return int(row[1] or 0), int(row[0] or 0)


def offers(ledger: Ledger, member: str, at: datetime) -> list[Offer]:
    """Mall items on sale at `at` (configured, listed, inside their window), in stock and under the
    member's per-member limit, in catalogue order."""
    with ledger.reading() as conn:
        held = {r.sku: int(r.n) for r in conn.execute(
            select(O.c.sku, func.count().label("n")).where(O.c.member_id == member, O.c.status.in_(LIVE))
            .group_by(O.c.sku))}
        rows = conn.execute(select(I).where(
            I.c.in_config.is_(True), I.c.listed.is_(True),
            or_(I.c.starts.is_(None), I.c.starts <= at), or_(I.c.ends.is_(None), I.c.ends > at),
            or_(I.c.stock.is_(None), I.c.stock > 0)).order_by(I.c.position)).all()
    return [Offer(sku=r.sku, number=r.position + 1, name=r.name, points=r.points, cash=r.cash, min_level=r.min_level)
            for r in rows if not r.limit_per_member or held.get(r.sku, 0) < r.limit_per_member]
