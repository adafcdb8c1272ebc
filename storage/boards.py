"""Leaderboards: all-time balance from the members table, weeks and months from period sums kept beside each entry.

An entry's growth counts in the local week and month of its time, except a 撤销 (Kind.REVERSAL): it undoes
its entry as if it never happened, so it counts where that entry counted; and an import (Kind.IMPORT), which
was not earned in any period the bot knows, counts in none. Other reversals (an invite or
task clawback) happen when they happen and count in their own period.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, exists, func, insert, select

from storage.db import Database, Locked
from storage.ledger import Entry, Ledger, MemberView
from storage.models import CHECKINS, LEDGER, MEMBERS, PERIOD_SUMS, ROOM_MEMBERS
from storage.vocabulary import Kind

PERIODS = ("all", "week", "month")


@dataclass(frozen=True)
class BoardRow:
    member: str
    name: str
    points: int


def periods(day: date) -> tuple[str, str]:
    """The keys of the local week (from Monday) and month that `day` falls in."""
    monday = day - timedelta(days=day.weekday())
    return f"week:{monday.isoformat()}", f"month:{day.replace(day=1).isoformat()}"


def period_key(period: str, day: date) -> str | None:
    """The period_sums key of `period` ("week" / "month") holding local `day`; None for "all"."""
    if period == "all":
        return None
    week, month = periods(day)
    return week if period == "week" else month


def _undoes(e: Entry) -> bool:
    """A 撤销, whose growth counts in the period of the entry it undoes."""
    return e.kind == Kind.REVERSAL and e.reverses is not None


def _counted_at(conn: Connection) -> Iterator[tuple[str, int, datetime]]:
    """(member, growth, the time whose period it counts in) of every entry with growth, oldest first."""
    L, U = LEDGER, LEDGER.alias("undone")
    q = (select(L.c.member_id, L.c.growth_delta, L.c.at, U.c.at.label("undone_at"))
         .select_from(L.outerjoin(U, and_(U.c.id == L.c.reverses, L.c.kind == str(Kind.REVERSAL))))
         .where(L.c.growth_delta != 0, L.c.kind != str(Kind.IMPORT)).order_by(L.c.id))
    for e in conn.execute(q):
        yield e.member_id, int(e.growth_delta), e.undone_at if e.undone_at is not None else e.at


def _listed(member_col: Any, exclude: Sequence[str], room: str | None) -> list[Any]:
    """Who may appear: not excluded (admins), and still in some group (or in `room`)."""
    RM = ROOM_MEMBERS
    where = [RM.c.member_id == member_col, RM.c.active.is_(True)]
    if room is not None:
        where.append(RM.c.room_id == room)
    conds = [exists().where(and_(*where))]
    if exclude:
        conds.append(member_col.not_in(list(exclude)))
    return conds


def _scores(period: str | None) -> tuple[Any, Any, Any, list[Any]]:
    """(from clause, points column, reached-at column, which rows) for the all-time board or a period."""
    M, PS = MEMBERS, PERIOD_SUMS
    if period is None:
        return M, M.c.points, M.c.points_at, []
    j = PS.join(M, M.c.id == PS.c.member_id)
    return j, PS.c.points, PS.c.reached_at, [PS.c.period == period]


class Boards:
    """周榜/月榜/总榜 reads; keeps the period sums through a ledger entry hook (and audits them)."""

    def __init__(self, ledger: Ledger, tz: ZoneInfo) -> None:
        self.db: Database = ledger.db
        self.tz = tz  # local weeks and months of the period sums
        # both periods in one statement: the check-in hot path pays one round trip for the boards
        self._add = self.db.statement(
            "INSERT INTO period_sums (period, member_id, points, reached_at) "
            "VALUES (:week, :member, :points, :at), (:month, :member, :points, :at) "
            "ON CONFLICT (period, member_id) DO UPDATE SET points = period_sums.points + excluded.points, "
            "reached_at = excluded.reached_at")
        # a 撤销 leaves reached_at alone: the member did not reach the lower sum at the time of the undo
        self._undo = self.db.statement(
            "INSERT INTO period_sums (period, member_id, points, reached_at) "
            "VALUES (:week, :member, :points, :at), (:month, :member, :points, :at) "
            "ON CONFLICT (period, member_id) DO UPDATE SET points = period_sums.points + excluded.points")
        ledger.entry_hooks.append(self._entries)
        ledger.audits.append(self.audit)

    def _entries(self, conn: Connection, locked: Locked, entries: Sequence[Entry]) -> None:
        # a balance moved in from another system was not earned this week or month
        grown = sum(e.growth_delta for e in entries if not _undoes(e) and e.kind != Kind.IMPORT)
        if grown:
            at = entries[-1].at
            week, month = periods(at.astimezone(self.tz).date())
            self._add.run(conn, week=week, month=month, member=locked.member, points=grown, at=self.db.at(at))
        for e in entries:
            if e.growth_delta and _undoes(e):
                when = conn.execute(select(LEDGER.c.at).where(LEDGER.c.id == e.reverses)).scalar_one()
                week, month = periods(when.astimezone(self.tz).date())
                self._undo.run(conn, week=week, month=month, member=locked.member, points=e.growth_delta,
                               at=self.db.at(when))

    def top(self, n: int, *, period: str | None = None, exclude: Sequence[str] = (),
            room: str | None = None) -> list[BoardRow]:
        """The `n` highest scores above zero: balances, or points earned in `period` (a period_sums key).

        Ties go to whoever reached the score first.
        """
        M = MEMBERS
        src, pts, reached, conds = _scores(period)
        q = (select(M.c.id, M.c.name, pts.label("points")).select_from(src)
             .where(*conds, pts > 0, *_listed(M.c.id, exclude, room))
             .order_by(pts.desc(), reached.asc(), M.c.id).limit(n))
        with self.db.reading() as conn:
            return [BoardRow(r.id, r.name, int(r.points)) for r in conn.execute(q)]

    def standing(self, member: str, *, period: str | None = None, exclude: Sequence[str] = (),
                 room: str | None = None) -> tuple[int | None, int]:
        """(rank, score) of `member` on a board; rank None when the score is zero or less or they are not listed."""
        M = MEMBERS
        src, pts, _reached, conds = _scores(period)
        with self.db.reading() as conn:
            mine = conn.execute(select(pts).select_from(src).where(*conds, M.c.id == member)).scalar()
            score = int(mine or 0)
            listed = conn.execute(select(M.c.id).where(M.c.id == member, *_listed(M.c.id, exclude, room))).first()
            if score <= 0 or listed is None:
                return None, score
            ahead = conn.execute(select(func.count()).select_from(src)
                                 .where(*conds, pts > score, *_listed(M.c.id, exclude, room))).scalar_one()
            return int(ahead) + 1, score

    def top_members(self, n: int, exclude: Sequence[str] = ()) -> list[MemberView]:
        """The `n` highest balances above zero, whether in a group or not; ties go to whoever got there first."""
        M = MEMBERS
        q = select(M).where(M.c.points > 0)
        if exclude:
            q = q.where(M.c.id.not_in(list(exclude)))
        q = q.order_by(M.c.points.desc(), M.c.points_at.asc(), M.c.id).limit(n)
        with self.db.reading() as conn:
            return [MemberView.model_validate(r._mapping) for r in conn.execute(q)]

    def rank(self, member: str, exclude: Sequence[str] = ()) -> int | None:
        """1 + how many members hold more points; None for a balance of zero or less."""
        M = MEMBERS
        with self.db.reading() as conn:
            mine = conn.execute(select(M.c.points).where(M.c.id == member)).scalar()
            if mine is None or mine <= 0:
                return None
            q = select(func.count()).select_from(M).where(M.c.points > mine)
            if exclude:
                q = q.where(M.c.id.not_in(list(exclude)))
            return int(conn.execute(q).scalar_one()) + 1

    def checked_in(self, day: date) -> int:
        """How many members checked in on local `day` (makeups for it later do not count)."""
        C = CHECKINS
        with self.db.reading() as conn:
            q = select(func.count()).select_from(C).where(C.c.day == day, C.c.makeup.is_(False))
            return int(conn.execute(q).scalar_one())

    def groups_of(self, member: str) -> list[str]:
        """The groups `member` is in now, the one joined first first."""
        RM = ROOM_MEMBERS
        with self.db.reading() as conn:
            q = (select(RM.c.room_id).where(RM.c.member_id == member, RM.c.active.is_(True))
                 .order_by(RM.c.joined_at, RM.c.room_id))
            return [r.room_id for r in conn.execute(q)]

    def audit(self, conn: Connection) -> list[str]:
        """Breaches of: every period sum equals the growth the ledger holds for that member and period."""
        PS = PERIOD_SUMS
        want: dict[tuple[str, str], int] = {}
        for member, growth, at in _counted_at(conn):
            for key in periods(at.astimezone(self.tz).date()):
                want[(key, member)] = want.get((key, member), 0) + growth
        problems = []
        for r in conn.execute(select(PS.c.period, PS.c.member_id, PS.c.points)):
            expect = want.pop((r.period, r.member_id), 0)
            if r.points != expect:
                problems.append(f"member {r.member_id}: {r.period} sum {r.points} != ledger growth {expect}")
        problems += [f"member {m}: {p} has ledger growth {v} but no period sum" for (p, m), v in want.items() if v]
        return problems

    def backfill(self) -> int:
        """Fill period_sums from the ledger when it has none yet (a database from before the boards); rows written."""
        PS = PERIOD_SUMS
        with self.db.transaction() as conn:
            if conn.execute(select(PS.c.member_id).limit(1)).first() is not None:
                return 0
            sums: dict[tuple[str, str], list[Any]] = {}
            for member, growth, at in _counted_at(conn):
                for key in periods(at.astimezone(self.tz).date()):
                    row = sums.setdefault((key, member), [0, at])
                    row[0] += growth
                    row[1] = max(row[1], at)
            if sums:
                conn.execute(insert(PS), [{"period": p, "member_id": m, "points": v[0], "reached_at": v[1]}
                                          for (p, m), v in sums.items()])
            return len(sums)
