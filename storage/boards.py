"""Leaderboards: all-time balance from the members table, weeks and months from period sums kept beside each entry.

An entry's growth counts in the local week and month of its time, except a 撤销 (Kind.REVERSAL): it undoes
its entry as if it never happened, so it counts where that entry counted; and an import (Kind.IMPORT), which
was not earned in any period the bot knows, counts in none. Other reversals (an invite or
task clawback) happen when they happen and count in their own period.

Ranks come from board_counts (members per score, per board and group), kept in the same transaction as
every balance and period sum change (the ledger's entry hook) and every group move (Presence.moves): a rank
at any depth costs a sum over the distinct scores above it, not a count of the members ahead. A top ten walks
the board's score index probing membership (ix_room_members_member), or, for a small group, sorts its members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, func, insert, select, text

from storage.db import Database, Locked, Statement
from storage.ledger import Entry, Ledger, MemberView
from storage.presence import Presence
from storage.tables import BOARD_COUNTS, CHECKINS, LEDGER, MEMBERS, PERIOD_SUMS, ROOM_MEMBERS
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


# One upsert of a member's score moves on every board they are listed on: `VALUES` holds (board, score, ±1)
# for the boards that moved, the cross join puts each on the company-wide board (when in some group) and
# on every group they are in. {values} is filled per row count (statements cached). Rows go in key order,
# so two PostgreSQL transactions moving the same scores lock them in the same order.
_COUNT_SQL = (
    "INSERT INTO board_counts (board, room, score, n) "
    "SELECT v.column1, r.room, CAST(v.column2 AS INTEGER), CAST(v.column3 AS INTEGER) FROM (VALUES {values}) AS v "
    "CROSS JOIN (SELECT room_id AS room FROM room_members WHERE member_id = :member AND active = :yes "
    "UNION ALL SELECT '' AS room WHERE EXISTS "
    "(SELECT 1 FROM room_members WHERE member_id = :member AND active = :yes)) AS r "
    "WHERE 1 = 1 ORDER BY 1, 2, 3 ON CONFLICT (board, room, score) DO UPDATE SET n = board_counts.n + excluded.n")
# PostgreSQL, a transaction's held moves (Boards.settle_counts) in one statement: (member, board, score, n) summed
# over the transaction, on every board each member is listed on; key order, as _COUNT_SQL
_HELD_SQL = (
    "INSERT INTO board_counts (board, room, score, n) "
    "SELECT v.board, r.room, v.score, CAST(SUM(v.n) AS INTEGER) "
    "FROM unnest(CAST(:members AS TEXT[]), CAST(:boards AS TEXT[]), CAST(:scores AS INTEGER[]), "
    "CAST(:ns AS INTEGER[])) AS v (member, board, score, n) "
    "CROSS JOIN LATERAL (SELECT room_id AS room FROM room_members WHERE member_id = v.member AND active = :yes "
    "UNION ALL SELECT '' AS room WHERE EXISTS "
    "(SELECT 1 FROM room_members WHERE member_id = v.member AND active = :yes)) AS r "
    "GROUP BY v.board, r.room, v.score HAVING SUM(v.n) <> 0 ORDER BY 1, 2, 3 "
    "ON CONFLICT (board, room, score) DO UPDATE SET n = board_counts.n + excluded.n")
_HELD = "board_moves"  # journal (PostgreSQL): (member, board, score, n) held, written by settle_counts
_MOVE_SQL = ("INSERT INTO board_counts (board, room, score, n) VALUES (:board, :room, :score, :n) "
             "ON CONFLICT (board, room, score) DO UPDATE SET n = board_counts.n + excluded.n")

# What board_counts must hold, from the members, period sums and groups themselves (audit, rebuild).
_EXPECTED_SQL = """
SELECT 'all' AS board, '' AS room, m.points AS score, COUNT(*) AS n FROM members m
 WHERE m.points > 0 AND EXISTS (SELECT 1 FROM room_members rm WHERE rm.member_id = m.id AND rm.active = :yes)
 GROUP BY m.points
UNION ALL
SELECT 'all', rm.room_id, m.points, COUNT(*) FROM room_members rm JOIN members m ON m.id = rm.member_id
 WHERE rm.active = :yes AND m.points > 0 GROUP BY rm.room_id, m.points
UNION ALL
SELECT ps.period, '', ps.points, COUNT(*) FROM period_sums ps
 WHERE ps.points > 0 AND EXISTS (SELECT 1 FROM room_members rm WHERE rm.member_id = ps.member_id AND rm.active = :yes)
 GROUP BY ps.period, ps.points
UNION ALL
SELECT ps.period, rm.room_id, ps.points, COUNT(*) FROM room_members rm JOIN period_sums ps ON ps.member_id = rm.member_id
 WHERE rm.active = :yes AND ps.points > 0 GROUP BY ps.period, rm.room_id, ps.points
"""


def rebuild_counts(conn: Connection) -> int:
    """Write board_counts afresh from members, period sums and groups (after a bulk write beside the hooks); rows."""
    conn.execute(delete(BOARD_COUNTS))
    conn.execute(text(f"INSERT INTO board_counts (board, room, score, n) {_EXPECTED_SQL}"), {"yes": True})
    return int(conn.execute(select(func.count()).select_from(BOARD_COUNTS)).scalar_one())


Moves = dict[tuple[str, int], int]


def _move(moves: Moves, board: str, old: int, new: int) -> None:
    """A member's score on `board` went from `old` to `new`: one fewer at old, one more at new (above zero only)."""
    if old == new:
        return
    if old > 0:
        moves[(board, old)] = moves.get((board, old), 0) - 1
    if new > 0:
        moves[(board, new)] = moves.get((board, new), 0) + 1


def _params(period: str | None, exclude: Sequence[str], room: str | None, **more: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"yes": True, "board": period or "all", "room": room or "", **more}
    if period is not None:
        params["period"] = period
    for i, x in enumerate(exclude):
        params[f"x{i}"] = x
    return params


def _score_sql(period: bool) -> tuple[str, str, str]:
    """(from, score, reached) of the all-time board (members m) or a period's (period_sums ps joined to m)."""
    if period:
        return ("period_sums ps JOIN members m ON m.id = ps.member_id", "ps.points", "ps.reached_at")
    return "members m", "m.points", "m.points_at"


def _listed_sql(room: bool) -> str:
    return ("EXISTS (SELECT 1 FROM room_members rm WHERE rm.member_id = m.id AND rm.active = :yes"
            + (" AND rm.room_id = :room)" if room else ")"))


def _staff_sql(excluded: int, op: str = "NOT IN") -> str:
    return f"m.id {op} ({', '.join(f':x{i}' for i in range(excluded))})" if excluded else ""


def _top_sql(period: bool, room: bool, small: bool, excluded: int) -> str:
    src, pts, reached = _score_sql(period)
    where = ["ps.period = :period"] if period else []
    where.append(f"{pts} > 0")
    if excluded:
        where.append(_staff_sql(excluded))
    if small:
        # from the group's own members, sorted whole: SQLite takes CROSS JOIN's order as written, and `+` keeps
        # it off the board's score index (PostgreSQL plans a CROSS JOIN with WHERE terms like any join)
        src = "room_members rm CROSS JOIN members m" + (" CROSS JOIN period_sums ps" if period else "")
        where = [w.replace(f"{pts} > 0", f"+{pts} > 0") for w in where]
        where += ["rm.room_id = :room", "rm.active = :yes", "m.id = rm.member_id"]
        if period:
            where.append("ps.member_id = m.id")
        order = f"+{pts} DESC, {reached}, m.id"
    else:  # down the board's index, each candidate probed for membership (ix_room_members_member or the key)
        where.append(_listed_sql(room))
        order = f"{pts} DESC, {reached}, m.id"
    return f"SELECT m.id, m.name, {pts} FROM {src} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT :n"


def _mine_sql(period: bool, room: bool) -> str:
    src, pts, _reached = _score_sql(period)
    where = "ps.period = :period AND ps.member_id = :member" if period else "m.id = :member"
    return f"SELECT {pts}, {_listed_sql(room)} FROM {src} WHERE {where}"


def _ahead_sql(period: bool, room: bool, excluded: int) -> str:
    """The listed members above :score: the board counts above it, less the staff above it (counted there too)."""
    counted = ("SELECT COALESCE(SUM(n), 0) FROM board_counts "
               "WHERE board = :board AND room = :room AND score > :score")
    if not excluded:
        return counted
    src, pts, _reached = _score_sql(period)
    # `+` keeps SQLite on the key (a probe per staff member), off the score index (a walk over everyone above)
    where = (["ps.period = :period"] if period else []) + [_staff_sql(excluded, "IN"), f"+{pts} > :score",
                                                           _listed_sql(room)]
    return f"SELECT ({counted}) - (SELECT COUNT(*) FROM {src} WHERE {' AND '.join(where)})"


class Boards:
    """周榜/月榜/总榜 reads; keeps the period sums and the board counts through a ledger entry hook (and audits them)."""

    def __init__(self, ledger: Ledger, tz: ZoneInfo, presence: Presence) -> None:
        self.db: Database = ledger.db
        self.tz = tz  # local weeks and months of the period sums
        # both periods in one statement: the check-in hot path pays one round trip for the boards; RETURNING
        # gives the new sums, so the board counts know where the member moved from without another read
        self._add = self.db.statement(
            "INSERT INTO period_sums (period, member_id, points, reached_at) "
            "VALUES (:week, :member, :points, :at), (:month, :member, :points, :at) "
            "ON CONFLICT (period, member_id) DO UPDATE SET points = period_sums.points + excluded.points, "
            "reached_at = excluded.reached_at RETURNING period, points")
        # a 撤销 leaves reached_at alone: the member did not reach the lower sum at the time of the undo
        self._undo = self.db.statement(
            "INSERT INTO period_sums (period, member_id, points, reached_at) "
            "VALUES (:week, :member, :points, :at), (:month, :member, :points, :at) "
            "ON CONFLICT (period, member_id) DO UPDATE SET points = period_sums.points + excluded.points "
            "RETURNING period, points")
        self._counts: dict[int, Statement] = {}
        self._held: Statement | None = None  # _HELD_SQL, made when first needed (PostgreSQL only)
        self._scores_of = self.db.statement(
            "SELECT 'all', points FROM members WHERE id = :member AND points > 0 "
            "UNION ALL SELECT period, points FROM period_sums WHERE member_id = :member AND points > 0")
        self._groups_of = self.db.statement(
            "SELECT COUNT(*) FROM room_members WHERE member_id = :member AND active = :yes")
        self._reads: dict[tuple[Any, ...], Statement] = {}  # board reads, by shape (period or not, group, staff)
        ledger.entry_hooks.append(self._entries)
        ledger.audits.append(self.audit)
        presence.moves.append(self.moved)
        presence.before_moves.append(self.settle_counts)  # held moves count on the groups they were made in
        if not self.db.sqlite:
            self.db.before_commit[_HELD] = self.settle_counts

    # -- keeping the counts -----------------------------------------------------------------------

    def _entries(self, conn: Connection, locked: Locked, entries: Sequence[Entry]) -> None:
        moves: Moves = {}
        _move(moves, "all", locked.points, locked.points + sum(e.delta for e in entries))
        # a balance moved in from another system was not earned this week or month
        grown = sum(e.growth_delta for e in entries if not _undoes(e) and e.kind != Kind.IMPORT)
        if grown:
            at = entries[-1].at
            week, month = periods(at.astimezone(self.tz).date())
            for period, points in self._add.run(conn, week=week, month=month, member=locked.member, points=grown,
                                                at=self.db.at(at)).fetchall():
                _move(moves, str(period), int(points) - grown, int(points))
        for e in entries:
            if e.growth_delta and _undoes(e):
                when = conn.execute(select(LEDGER.c.at).where(LEDGER.c.id == e.reverses)).scalar_one()
                week, month = periods(when.astimezone(self.tz).date())
                for period, points in self._undo.run(conn, week=week, month=month, member=locked.member,
                                                     points=e.growth_delta, at=self.db.at(when)).fetchall():
                    _move(moves, str(period), int(points) - e.growth_delta, int(points))
        self._count(conn, locked.member, moves)

    def _count(self, conn: Connection, member: str, moves: Moves) -> None:
        rows = [(board, score, n) for (board, score), n in moves.items() if n]
        if not rows:
            return
        if not self.db.sqlite:  # held until a read, a group move or the commit (settle_counts)
            for board, score, n in rows:
                self.db.note(_HELD, (member, board, score, n))
            return
        stmt = self._counts.get(len(rows))
        if stmt is None:
            values = ", ".join(f"(:b{i}, :s{i}, :n{i})" for i in range(len(rows)))
            stmt = self._counts[len(rows)] = self.db.statement(_COUNT_SQL.format(values=values))
        params: dict[str, Any] = {"member": member, "yes": True}
        for i, (board, score, n) in enumerate(rows):
            params[f"b{i}"], params[f"s{i}"], params[f"n{i}"] = board, score, n
        stmt.later(conn, **params)

    def settle_counts(self, conn: Connection | None = None) -> None:
        """PostgreSQL: write the board moves held so far in the open transaction, summed, in one statement: before
        a board is read, before a member moves between groups, and just before the commit (a before_commit
        step). Every check-in moves a few rows many members share (everyone at 15 points this week); updated
        once per check-in, each such row grows a chain of versions the next update must walk, within the
        transaction. A savepoint that rolls back drops its moves with it (a journal). SQLite holds none."""
        held = self.db.pending(_HELD)
        if not held:
            return
        summed: dict[tuple[str, str, int], int] = {}
        for member, board, score, n in held:
            summed[(member, board, score)] = summed.get((member, board, score), 0) + n
        rows = [(k, n) for k, n in summed.items() if n]
        if not rows:
            return
        if self._held is None:
            self._held = self.db.statement(_HELD_SQL)
        with self.db.transaction() as c:
            self._held.later(c, members=[k[0] for k, _ in rows], boards=[k[1] for k, _ in rows],
                             scores=[k[2] for k, _ in rows], ns=[n for _, n in rows], yes=True)

    def moved(self, conn: Connection, room: str, member: str, joined: bool) -> None:
        """A presence hook: `member` joined (or left) `room`; their scores come onto (or leave) its boards, and
        the company-wide ones when this was their first group (or their last). A member with no points yet (a
        newcomer) costs one read."""
        scores = [(str(b), int(s)) for b, s in self._scores_of.run(conn, member=member).fetchall()]
        if not scores:
            return
        groups = int(self._groups_of.run(conn, member=member, yes=True).fetchone()[0])
        rooms = [room, ""] if groups == (1 if joined else 0) else [room]
        sign = 1 if joined else -1
        conn.execute(text(_MOVE_SQL), [{"board": b, "room": r, "score": s, "n": sign} for b, s in scores for r in rooms])

    # -- reading ------------------------------------------------------------------------------------

    def _sql(self, key: tuple[Any, ...], build: Callable[[], str]) -> Statement:
        stmt = self._reads.get(key)
        if stmt is None:
            stmt = self._reads[key] = self.db.statement(build())
        return stmt

    def top(self, n: int, *, period: str | None = None, exclude: Sequence[str] = (),
            room: str | None = None) -> list[BoardRow]:
        """The `n` highest scores above zero: balances, or points earned in `period` (a period_sums key).

        Ties go to whoever reached the score first.
        """
        params = _params(period, exclude, room, n=n)
        self.settle_counts()
        with self.db.reading() as conn:
            small = room is not None and self._small(conn, period or "all", room)
            stmt = self._sql(("top", period is None, room is None, small, len(exclude)),
                             lambda: _top_sql(period is not None, room is not None, small, len(exclude)))
            return [BoardRow(str(r[0]), str(r[1]), int(r[2])) for r in stmt.run(conn, **params).fetchall()]

    def _small(self, conn: Connection, board: str, room: str) -> bool:
        """Whether `room` lists few of the board's members (read from the counts, O(distinct scores))."""
        stmt = self._sql(("sizes",), lambda: (
            "SELECT COALESCE(SUM(CASE WHEN room = :room THEN n ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN room = '' THEN n ELSE 0 END), 0) "
            "FROM board_counts WHERE board = :board AND room IN ('', :room)"))
        mine, everyone = (int(x or 0) for x in stmt.run(conn, board=board, room=room).fetchone())
        # sorting the group costs ~its size; walking the board ~10 x everyone / its size probes (a few times cheaper
        # each): the walk wins above ~sqrt(2.5 x everyone) members (~500 of 100k), and neither exceeds ~2 ms
        return 2 * mine * mine < 5 * everyone

    def standing(self, member: str, *, period: str | None = None, exclude: Sequence[str] = (),
                 room: str | None = None) -> tuple[int | None, int]:
        """(rank, score) of `member` on a board; rank None when the score is zero or less or they are not listed.

        Equal scores share a rank: 1 + the listed members with a strictly higher score, read from the board
        counts (the excluded staff, counted there like anyone, are taken back out: O(#admins)).
        """
        params = _params(period, exclude, room, member=member)
        self.settle_counts()
        with self.db.reading() as conn:
            mine = self._sql(("mine", period is None, room is None), lambda: _mine_sql(period is not None,
                                                                                       room is not None))
            row = mine.run(conn, **params).fetchone()
            score = int(row[0]) if row is not None and row[0] is not None else 0
            if score <= 0 or member in exclude or row is None or not row[1]:
                return None, score
            ahead = self._sql(("ahead", period is None, room is None, len(exclude)),
                              lambda: _ahead_sql(period is not None, room is not None, len(exclude)))
            return int(ahead.run(conn, score=score, **params).fetchone()[0]) + 1, score

    def top_members(self, n: int, exclude: Sequence[str] = ()) -> list[MemberView]:
        """The `n` highest balances above zero, whether in a group or not; ties go to whoever got there first."""
        M = MEMBERS
        q = select(M).where(M.c.points > 0)
        if exclude:
            q = q.where(M.c.id.not_in(list(exclude)))
        q = q.order_by(M.c.points.desc(), M.c.points_at.asc(), M.c.id).limit(n)
        with self.db.reading() as conn:
            return [MemberView.of(r._mapping) for r in conn.execute(q)]

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
        self.settle_counts()
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
        return problems + self.audit_counts(conn)

    @staticmethod
    def audit_counts(conn: Connection) -> list[str]:
        """Breaches of: board_counts holds, for every board, group and score, the members listed there with it."""
        BC = BOARD_COUNTS
        want = {(r.board, r.room, int(r.score)): int(r.n) for r in conn.execute(text(_EXPECTED_SQL), {"yes": True})}
        problems = []
        for r in conn.execute(select(BC.c.board, BC.c.room, BC.c.score, BC.c.n)):
            expect = want.pop((r.board, r.room, int(r.score)), 0)
            if r.n != expect:
                problems.append(f"board counts: {_where(r.board, r.room)} score {r.score} counts {r.n} members, "
                                f"{expect} listed hold it")
        problems += [f"board counts: {_where(b, room)} score {s} has no count, {n} listed hold it"
                     for (b, room, s), n in sorted(want.items())]
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
                rebuild_counts(conn)
            return len(sums)


def _where(board: str, room: str) -> str:
    return f"{board} in group {room}" if room else f"{board} (all groups)"
