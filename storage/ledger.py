"""The ledger service: verbs that own their transactions and keep the stored balance beside each entry.

Every verb runs inside `Ledger.transaction()`: its own transaction, or the batch the pipeline opened
for events that arrived together (group commit). Repeats are blocked by UNIQUE keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, String, and_, cast, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.errors import AlreadyCheckedIn, InsufficientPoints
from storage.models import Checkin, LedgerEntry, Member, ProcessedEvent, Room, RoomMember

M = Member.__table__  # type: ignore[attr-defined]
L = LedgerEntry.__table__  # type: ignore[attr-defined]
C = Checkin.__table__  # type: ignore[attr-defined]
R = Room.__table__  # type: ignore[attr-defined]
RM = RoomMember.__table__  # type: ignore[attr-defined]
P = ProcessedEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Reward:
    """One line of a payout: a kind for the ledger and a name the member reads."""

    kind: str
    points: int
    name: str = ""


@dataclass(frozen=True)
class CheckinResult:
    day: date
    streak: int
    total_days: int
    rewards: tuple[Reward, ...]
    earned: int
    points: int
    growth: int


@dataclass(frozen=True)
class MemberView:
    id: str
    name: str
    points: int
    growth: int
    checkin_days: int
    checkin_streak: int
    last_checkin: date | None


@dataclass(frozen=True)
class Entry:
    id: int
    member: str
    delta: int
    growth_delta: int
    balance_after: int
    kind: str
    key: str
    at: datetime
    room: str | None
    detail: str


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._conn: ContextVar[Connection | None] = ContextVar(f"ledger_conn_{id(self)}", default=None)
        self._for_update = self.dialect != "sqlite"  # SQLite already holds the write lock (BEGIN IMMEDIATE)

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Join the open transaction, or open one and commit it when the block ends."""
        conn = self._conn.get()
        if conn is not None:
            yield conn
            return
        with self.engine.begin() as conn:
            token = self._conn.set(conn)
            try:
                yield conn
            finally:
                self._conn.reset(token)

    @contextmanager
    def savepoint(self) -> Iterator[Connection]:
        """Inside a batch: undo just this block's writes if it raises."""
        conn = self._conn.get()
        if conn is None:
            with self.transaction() as conn:
                yield conn
            return
        with conn.begin_nested():
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        conn = self._conn.get()
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as c:
            c = c.execution_options(readonly=True)
            with c.begin():
                yield c

    def _insert_ignore(self, table: Any) -> Any:
        if self.dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        if self.dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        raise NotImplementedError(f"unsupported database {self.dialect}")

    # -- presence -----------------------------------------------------------------------------

    def claim_event(self, event_id: str, at: datetime) -> bool:
        """Record a source event as handled; False when it was handled before (a replay)."""
        with self.transaction() as conn:
            res = conn.execute(self._insert_ignore(P), {"id": event_id, "at": at})
            return bool(res.rowcount)

    def see_member(self, member: str, name: str, at: datetime) -> None:
        with self.transaction() as conn:
            res = conn.execute(self._insert_ignore(M), {"id": member, "name": name, "created_at": at})
            if not res.rowcount and name:
                conn.execute(update(M).where(M.c.id == member, M.c.name != name).values(name=name))

    def see_room(self, room: str, name: str, at: datetime) -> None:
        with self.transaction() as conn:
            res = conn.execute(self._insert_ignore(R), {"id": room, "name": name, "created_at": at})
            if not res.rowcount and name:
                conn.execute(update(R).where(R.c.id == room, R.c.name != name).values(name=name))

    def see_in_room(self, room: str, member: str, at: datetime) -> None:
        with self.transaction() as conn:
            res = conn.execute(
                self._insert_ignore(RM), {"room_id": room, "member_id": member, "joined_at": at, "active": True}
            )
            if not res.rowcount:
                conn.execute(
                    update(RM)
                    .where(RM.c.room_id == room, RM.c.member_id == member, RM.c.active.is_(False))
                    .values(active=True, joined_at=at, left_at=None)
                )

    def left_room(self, room: str, member: str, at: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(RM)
                .where(RM.c.room_id == room, RM.c.member_id == member, RM.c.active.is_(True))
                .values(active=False, left_at=at)
            )

    def rooms(self, only: Sequence[str] = ()) -> list[tuple[str, str]]:
        with self.reading() as conn:
            q = select(R.c.id, R.c.name).where(R.c.active.is_(True)).order_by(R.c.created_at, R.c.id)
            if only:
                q = q.where(R.c.id.in_(list(only)))
            return [(r.id, r.name) for r in conn.execute(q)]

    # -- money --------------------------------------------------------------------------------

    def _lock_member(self, conn: Connection, member: str) -> Any:
        q = select(M).where(M.c.id == member)
        if self._for_update:
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise LookupError(f"unknown member {member}: call see_member first")
        return row

    def _append(
        self, conn: Connection, member: str, rows: Sequence[dict[str, Any]], points: int, growth: int, at: datetime
    ) -> tuple[int, int]:
        """Append ledger lines for one member and move the stored balance with them."""
        new_points, new_growth = points, growth
        params = []
        for r in rows:
            new_points += r["delta"]
            new_growth += r.get("growth_delta", 0)
            params.append(
                {
                    "member_id": member,
                    "delta": r["delta"],
                    "growth_delta": r.get("growth_delta", 0),
                    "balance_after": new_points,
                    "kind": r["kind"],
                    "key": r["key"],
                    "at": at,
                    "room_id": r.get("room"),
                    "detail": r.get("detail", ""),
                }
            )
        conn.execute(insert(L), params)
        return new_points, new_growth

    def award(
        self,
        *,
        member: str,
        points: int,
        kind: str,
        key: str,
        at: datetime,
        room: str | None = None,
        detail: str = "",
        growth: bool = True,
    ) -> Entry | None:
        """Credit `points` (> 0); growth rises with them. None when `key` was used before."""
        if not isinstance(points, int) or points <= 0:
            raise ValueError("award needs a positive integer")
        return self._move(member=member, delta=points, growth_delta=points if growth else 0,
                          kind=kind, key=key, at=at, room=room, detail=detail, allow_negative=False)

    def spend(
        self, *, member: str, points: int, kind: str, key: str, at: datetime, room: str | None = None, detail: str = ""
    ) -> Entry | None:
        """Debit `points` (> 0); refuses to go below zero; growth never falls."""
        if not isinstance(points, int) or points <= 0:
            raise ValueError("spend needs a positive integer")
        return self._move(member=member, delta=-points, growth_delta=0, kind=kind, key=key, at=at,
                          room=room, detail=detail, allow_negative=False)

    def _move(
        self, *, member: str, delta: int, growth_delta: int, kind: str, key: str, at: datetime,
        room: str | None, detail: str, allow_negative: bool,
    ) -> Entry | None:
        with self.transaction() as conn:
            if conn.execute(select(L.c.id).where(L.c.key == key)).first() is not None:
                return None
            row = self._lock_member(conn, member)
            if delta < 0 and not allow_negative and row.points + delta < 0:
                raise InsufficientPoints(needed=-delta, points=row.points)
            pts, gr = self._append(conn, member, [{"delta": delta, "growth_delta": growth_delta, "kind": kind,
                                                   "key": key, "room": room, "detail": detail}],
                                   row.points, row.growth, at)
            conn.execute(update(M).where(M.c.id == member).values(points=pts, growth=gr, points_at=at))
            entry = conn.execute(select(L).where(L.c.key == key)).one()
            return _entry(entry)

    def check_in(
        self,
        *,
        member: str,
        day: date,
        at: datetime,
        room: str | None,
        rewards: Callable[[int, int], Sequence[Reward]],
    ) -> CheckinResult:
        """Check `member` in for local `day`; `rewards(streak, total_days)` says what it pays.

        Raises AlreadyCheckedIn (nothing written) when the member already checked in that day.
        """
        with self.transaction() as conn:
            row = self._lock_member(conn, member)
            if row.last_checkin is not None and row.last_checkin >= day:
                raise AlreadyCheckedIn(streak=row.checkin_streak, total_days=row.checkin_days, points=row.points)
            streak = row.checkin_streak + 1 if row.last_checkin == day - timedelta(days=1) else 1
            total = row.checkin_days + 1
            paid = tuple(r for r in rewards(streak, total) if r.points > 0)
            earned = sum(r.points for r in paid)
            conn.execute(
                insert(C),
                {"member_id": member, "day": day, "at": at, "room_id": room, "streak": streak,
                 "total_days": total, "points": earned},
            )
            base = f"checkin:{member}:{day.isoformat()}"
            lines = [
                {"delta": r.points, "growth_delta": r.points, "kind": r.kind, "room": room, "detail": r.name,
                 "key": base if i == 0 else f"{base}:{r.kind}:{i}"}
                for i, r in enumerate(paid)
            ]
            pts, gr = row.points, row.growth
            if lines:
                pts, gr = self._append(conn, member, lines, row.points, row.growth, at)
            conn.execute(
                update(M).where(M.c.id == member).values(
                    points=pts, growth=gr, checkin_days=total, checkin_streak=streak, last_checkin=day,
                    **({"points_at": at} if lines else {}),
                )
            )
            return CheckinResult(day=day, streak=streak, total_days=total, rewards=paid, earned=earned,
                                 points=pts, growth=gr)

    # -- reading ------------------------------------------------------------------------------

    def member(self, member: str) -> MemberView | None:
        with self.reading() as conn:
            row = conn.execute(select(M).where(M.c.id == member)).first()
            return _member(row) if row else None

    def top(self, n: int, exclude: Sequence[str] = ()) -> list[MemberView]:
        """The `n` highest balances above zero; ties go to whoever reached the balance first."""
        with self.reading() as conn:
            q = select(M).where(M.c.points > 0)
            if exclude:
                q = q.where(M.c.id.not_in(list(exclude)))
            q = q.order_by(M.c.points.desc(), M.c.points_at.asc(), M.c.id).limit(n)
            return [_member(r) for r in conn.execute(q)]

    def rank(self, member: str, exclude: Sequence[str] = ()) -> int | None:
        """1 + how many members hold more points; None for a balance of zero or less."""
        with self.reading() as conn:
            mine = conn.execute(select(M.c.points).where(M.c.id == member)).scalar()
            if mine is None or mine <= 0:
                return None
            q = select(func.count()).select_from(M).where(M.c.points > mine)
            if exclude:
                q = q.where(M.c.id.not_in(list(exclude)))
            return int(conn.execute(q).scalar_one()) + 1

    def members(self) -> list[MemberView]:
        with self.reading() as conn:
            return [_member(r) for r in conn.execute(select(M).order_by(M.c.points.desc(), M.c.id))]

    def entries(self, member: str | None = None, limit: int | None = None, newest_first: bool = False) -> list[Entry]:
        with self.reading() as conn:
            q = select(L)
            if member is not None:
                q = q.where(L.c.member_id == member)
            q = q.order_by(L.c.id.desc() if newest_first else L.c.id)
            if limit:
                q = q.limit(limit)
            return [_entry(r) for r in conn.execute(q)]

    def checkins(self, member: str) -> list[tuple[date, int, int, int]]:
        with self.reading() as conn:
            q = select(C.c.day, C.c.streak, C.c.total_days, C.c.points).where(C.c.member_id == member).order_by(C.c.day)
            return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]

    def audit(self) -> list[str]:
        """Every breach of the ledger's invariants, one line each; empty when all hold."""
        problems: list[str] = []
        with self.reading() as conn:
            sums = {
                r.member_id: (int(r.d or 0), int(r.g or 0), int(r.n))
                for r in conn.execute(
                    select(L.c.member_id, func.sum(L.c.delta).label("d"), func.sum(L.c.growth_delta).label("g"),
                           func.count().label("n")).group_by(L.c.member_id)
                )
            }
            for m in conn.execute(select(M)):
                d, g, _ = sums.pop(m.id, (0, 0, 0))
                if m.points != d:
                    problems.append(f"member {m.id}: stored balance {m.points} != ledger sum {d}")
                if m.growth != g:
                    problems.append(f"member {m.id}: stored growth {m.growth} != ledger growth sum {g}")
                if m.growth < 0:
                    problems.append(f"member {m.id}: growth is negative ({m.growth})")
            for member in sums:
                problems.append(f"ledger has entries for unknown member {member}")
            # balance_after must chain: each line's balance is the previous one plus its delta
            prev: dict[str, int] = {}
            for e in conn.execute(select(L.c.id, L.c.member_id, L.c.delta, L.c.balance_after).order_by(L.c.id)):
                expect = prev.get(e.member_id, 0) + e.delta
                if e.balance_after != expect:
                    problems.append(f"ledger line {e.id} ({e.member_id}): balance_after {e.balance_after} != {expect}")
                prev[e.member_id] = e.balance_after
            # check-in counters must match the check-in rows, and each check-in must be paid in the ledger
            stats = {
                r.member_id: (int(r.n), r.last)
                for r in conn.execute(
                    select(C.c.member_id, func.count().label("n"), func.max(C.c.day).label("last")).group_by(C.c.member_id)
                )
            }
            for m in conn.execute(select(M.c.id, M.c.checkin_days, M.c.last_checkin)):
                n, last = stats.get(m.id, (0, None))
                if m.checkin_days != n or m.last_checkin != last:
                    problems.append(
                        f"member {m.id}: check-in counters ({m.checkin_days} days, last {m.last_checkin}) "
                        f"!= check-in rows ({n} days, last {last})"
                    )
            unpaid = conn.execute(
                select(C.c.member_id, C.c.day)
                .select_from(C.outerjoin(L, and_(L.c.member_id == C.c.member_id,
                                                 L.c.key == literal("checkin:") + C.c.member_id + ":" + cast(C.c.day, String))))
                .where(C.c.points > 0, L.c.id.is_(None))
            ).all()
            for u in unpaid:
                problems.append(f"check-in of {u.member_id} on {u.day} has points but no ledger line")
        return problems


def _member(r: Any) -> MemberView:
    return MemberView(id=r.id, name=r.name, points=r.points, growth=r.growth, checkin_days=r.checkin_days,
                      checkin_streak=r.checkin_streak, last_checkin=r.last_checkin)


def _entry(r: Any) -> Entry:
    return Entry(id=r.id, member=r.member_id, delta=r.delta, growth_delta=r.growth_delta,
                 balance_after=r.balance_after, kind=r.kind, key=r.key, at=r.at, room=r.room_id, detail=r.detail)
