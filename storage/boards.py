"""Leaderboards: all-time balance from the members table, weeks and months from the maintained period sums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, select

from storage.ledger import Ledger, periods
from storage.models import Checkin, Member, PeriodSum, RoomMember

M = Member.__table__  # type: ignore[attr-defined]
PS = PeriodSum.__table__  # type: ignore[attr-defined]
RM = RoomMember.__table__  # type: ignore[attr-defined]
C = Checkin.__table__  # type: ignore[attr-defined]

PERIODS = ("all", "week", "month")


@dataclass(frozen=True)
class BoardRow:
    member: str
    name: str
    points: int


def period_key(period: str, day: date) -> str | None:
    """The period_sums key of `period` ("week" / "month") holding local `day`; None for "all"."""
    if period == "all":
        return None
    week, month = periods(day)
    return week if period == "week" else month


def _listed(member_col: Any, exclude: Sequence[str], room: str | None) -> list[Any]:
    """Who may appear: not excluded (admins), and still in some group (or in `room`)."""
    where = [RM.c.member_id == member_col, RM.c.active.is_(True)]
    if room is not None:
        where.append(RM.c.room_id == room)
    conds = [exists().where(and_(*where))]
    if exclude:
        conds.append(member_col.not_in(list(exclude)))
    return conds


def _scores(period: str | None) -> tuple[Any, Any, Any, list[Any]]:
    """(from clause, points column, reached-at column, which rows) for the all-time board or a period."""
    if period is None:
        return M, M.c.points, M.c.points_at, []
    j = PS.join(M, M.c.id == PS.c.member_id)
    return j, PS.c.points, PS.c.reached_at, [PS.c.period == period]


def top(ledger: Ledger, n: int, *, period: str | None = None, exclude: Sequence[str] = (),
        room: str | None = None) -> list[BoardRow]:
    """The `n` highest scores above zero: balances, or points earned in `period` (a period_sums key).

    Ties go to whoever reached the score first.
    """
    src, pts, reached, conds = _scores(period)
    q = (select(M.c.id, M.c.name, pts.label("points")).select_from(src)
         .where(*conds, pts > 0, *_listed(M.c.id, exclude, room))
         .order_by(pts.desc(), reached.asc(), M.c.id).limit(n))
    with ledger.reading() as conn:
        return [BoardRow(r.id, r.name, int(r.points)) for r in conn.execute(q)]


def standing(ledger: Ledger, member: str, *, period: str | None = None, exclude: Sequence[str] = (),
             room: str | None = None) -> tuple[int | None, int]:
    """(rank, score) of `member` on a board; rank None when the score is zero or less or they are not listed."""
    src, pts, _reached, conds = _scores(period)
    with ledger.reading() as conn:
        mine = conn.execute(select(pts).select_from(src).where(*conds, M.c.id == member)).scalar()
        score = int(mine or 0)
        listed = conn.execute(select(M.c.id).where(M.c.id == member, *_listed(M.c.id, exclude, room))).first()
        if score <= 0 or listed is None:
            return None, score
        ahead = conn.execute(select(func.count()).select_from(src)
                             .where(*conds, pts > score, *_listed(M.c.id, exclude, room))).scalar_one()
        return int(ahead) + 1, score


def checked_in(ledger: Ledger, day: date) -> int:
    """How many members checked in on local `day` (makeups for it later do not count)."""
    with ledger.reading() as conn:
        q = select(func.count()).select_from(C).where(C.c.day == day, C.c.makeup.is_(False))
        return int(conn.execute(q).scalar_one())


def groups_of(ledger: Ledger, member: str) -> list[str]:
    """The groups `member` is in now, the one joined first first."""
    with ledger.reading() as conn:
        q = (select(RM.c.room_id).where(RM.c.member_id == member, RM.c.active.is_(True))
             .order_by(RM.c.joined_at, RM.c.room_id))
        return [r.room_id for r in conn.execute(q)]


def audit_periods(conn: Any, tz: Any) -> list[str]:
    """Breaches of: every period sum equals the growth the ledger holds for that member and period."""
    from storage.models import LedgerEntry

    L = LedgerEntry.__table__  # type: ignore[attr-defined]
    want: dict[tuple[str, str], int] = {}
    for e in conn.execute(select(L.c.member_id, L.c.growth_delta, L.c.at).where(L.c.growth_delta != 0)):
        at: datetime = e.at
        for key in periods(at.astimezone(tz).date()):
            want[(key, e.member_id)] = want.get((key, e.member_id), 0) + int(e.growth_delta)
    problems = []
    for r in conn.execute(select(PS.c.period, PS.c.member_id, PS.c.points)):
        expect = want.pop((r.period, r.member_id), 0)
        if r.points != expect:
            problems.append(f"member {r.member_id}: {r.period} sum {r.points} != ledger growth {expect}")
    problems += [f"member {m}: {p} has ledger growth {v} but no period sum" for (p, m), v in want.items() if v]
    return problems


def mark_level_up(ledger: Ledger, member: str, levels: Sequence[str], at: datetime) -> bool:
    """Record `levels` (lowest first) as reached by `member`; True when the last, the highest, is new."""
    from sqlalchemy import text

    sql = text("INSERT INTO level_ups (member_id, level, at) VALUES (:member, :level, :at) ON CONFLICT DO NOTHING")
    new = False
    with ledger.transaction() as conn:
        for name in levels:
            new = bool(conn.execute(sql, {"member": member, "level": name, "at": ledger._t(at)}).rowcount)
    return new


def backfill_periods(ledger: Ledger) -> int:
    """Fill period_sums from the ledger when it has none yet (a database from before the boards); rows written."""
    from sqlalchemy import insert

    from storage.models import LedgerEntry

    L = LedgerEntry.__table__  # type: ignore[attr-defined]
    with ledger.transaction() as conn:
        if conn.execute(select(PS.c.member_id).limit(1)).first() is not None:
            return 0
        sums: dict[tuple[str, str], list[Any]] = {}
        for e in conn.execute(select(L.c.member_id, L.c.growth_delta, L.c.at).where(L.c.growth_delta != 0)
                              .order_by(L.c.id)):
            for key in periods(e.at.astimezone(ledger.tz).date()):
                row = sums.setdefault((key, e.member_id), [0, e.at])
                row[0] += int(e.growth_delta)
                row[1] = e.at
        if sums:
            conn.execute(insert(PS), [{"period": p, "member_id": m, "points": v[0], "reached_at": v[1]}
                                      for (p, m), v in sums.items()])
        return len(sums)
