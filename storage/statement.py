"""我的账单's reads: one member's year from the ledger, check-ins, invites and mall orders; nothing is written.

Every query is for one member and walks that member's rows through an existing index (ledger by
member_id, checkins by (member_id, day), invites by (inviter_id, status), mall orders by member_id);
the rank percentile counts the members table once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, or_, select

from storage.db import loaded_date
from storage.ledger import Ledger
from storage.tables import ACTIVE_DAYS, CHECKINS, INVITES, LEDGER, MALL_ITEMS, MALL_ORDERS, MEMBERS, ROOM_MEMBERS
from storage.vocabulary import LIVE

L, C, A, INV, I, O, M, RM = LEDGER, CHECKINS, ACTIVE_DAYS, INVITES, MALL_ITEMS, MALL_ORDERS, MEMBERS, ROOM_MEMBERS  # noqa: E741

# rows written before ledger.reverses: a clawback's kind names what it undoes (`invite_revoke`, `*_reverse`)
_LEGACY_UNDO = re.compile(r"^(?P<base>.+)_(?:revoke|reverse)$")


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
    # the kind an entry counts as -> sum of deltas: a reversal counts as the kind of the entry it undoes
    by_source: dict[str, int] = field(default_factory=dict)


def read_year(ledger: Ledger, member: str, *, start: datetime, end: datetime, first: date, last: date,
              exclude: Sequence[str] = ()) -> Year:
    """The member's year: local days `first`..`last` are [start, end) in local time."""
    undone = L.alias("undone")
    with ledger.db.reading() as conn:
        by_kind: dict[str, int] = {}
        by_source: dict[str, int] = {}
        for r in conn.execute(
            select(L.c.kind, undone.c.kind.label("source"), func.sum(L.c.delta).label("total"))
            .select_from(L.outerjoin(undone, undone.c.id == L.c.reverses))
            .where(L.c.member_id == member, L.c.at >= start, L.c.at < end).group_by(L.c.kind, undone.c.kind)):
            total = int(r.total or 0)
            by_kind[r.kind] = by_kind.get(r.kind, 0) + total
            source = r.source or legacy_source(r.kind)
            by_source[source] = by_source.get(source, 0) + total
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
    return Year(by_kind=by_kind, by_source=by_source, checkin_days=len(days), longest_streak=longest_run(days, active),
                invites=invites, redeemed=redeemed, below=below, others=others)


def legacy_source(kind: str) -> str:
    """What an entry from before `reverses` counts as: a `*_revoke` / `*_reverse` kind, what it names."""
    undo = _LEGACY_UNDO.match(kind)
    return undo["base"] if undo is not None else kind


_day = loaded_date


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
    with ledger.db.reading() as conn:
        held = {r.sku: int(r.n) for r in conn.execute(
            select(O.c.sku, func.count().label("n")).where(O.c.member_id == member, O.c.status.in_(LIVE))
            .group_by(O.c.sku))}
        rows = conn.execute(select(I).where(
            I.c.in_config.is_(True), I.c.listed.is_(True),
            or_(I.c.starts.is_(None), I.c.starts <= at), or_(I.c.ends.is_(None), I.c.ends > at),
            or_(I.c.stock.is_(None), I.c.stock > 0)).order_by(I.c.position)).all()
    return [Offer(sku=r.sku, number=r.position + 1, name=r.name, points=r.points, cash=r.cash, min_level=r.min_level)
            for r in rows if not r.limit_per_member or held.get(r.sku, 0) < r.limit_per_member]
