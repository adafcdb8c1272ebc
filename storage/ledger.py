"""The ledger service: verbs that own their transactions and keep the stored balance beside each entry.

Every verb runs inside `Ledger.transaction()`: its own transaction, or the batch the pipeline opened
for events that arrived together (group commit). Repeats are blocked by UNIQUE keys.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, String, and_, cast, func, literal, select

from storage.errors import AlreadyCheckedIn, InsufficientPoints, MakeupLimit, NothingToMakeUp
from storage.models import Checkin, LedgerEntry, Member, ProcessedEvent, Room, RoomMember

if TYPE_CHECKING:
    from storage.expiry import Lots

M = Member.__table__  # type: ignore[attr-defined]
L = LedgerEntry.__table__  # type: ignore[attr-defined]
C = Checkin.__table__  # type: ignore[attr-defined]
R = Room.__table__  # type: ignore[attr-defined]
RM = RoomMember.__table__  # type: ignore[attr-defined]
P = ProcessedEvent.__table__  # type: ignore[attr-defined]

# more invariants, checked by audit() on its connection: storage modules of features add theirs here
AUDITS: list[Callable[[Connection], list[str]]] = []


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
class MakeupResult:
    day: date
    cost: int
    points: int
    streak: int
    total_days: int
    used: int
    limit: int


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
class Pending:
    """A multi-step chat in progress (STYLE 8): what it is, where it stands, until when."""

    chat: str
    member: str
    kind: str
    step: str
    data: dict[str, Any]
    expires_at: datetime


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
    campaign: str | None = None


class _Sql:
    """One hot-path statement, written once with :name parameters and run on the driver's own cursor.

    SQLAlchemy Core costs about 0.2 ms of CPU per statement here; the write path runs 6-8 statements
    per command, so it goes straight to the DBAPI cursor of the transaction SQLAlchemy opened.
    """

    _NAME = re.compile(r"(?<![:\w]):(\w+)")

    def __init__(self, sql: str, dialect: str) -> None:
        self.sql = sql if dialect == "sqlite" else self._NAME.sub(r"%(\1)s", sql)


class Ledger:
    def __init__(self, engine: Engine, tz: ZoneInfo | None = None) -> None:
        self.engine = engine
        self.tz = tz or ZoneInfo("Asia/Shanghai")  # local weeks and months of the period sums (周榜/月榜)
        # (member, growth before, growth after) of every growth change, for level-up announcements to
        # take (take_growth_changes); may hold changes a savepoint undid, so readers check the member row
        self.growth_changes: list[tuple[str, int, int]] = []
        self.dialect = engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"unsupported database {self.dialect}: use SQLite or PostgreSQL")
        self._conn: ContextVar[Connection | None] = ContextVar(f"ledger_conn_{id(self)}", default=None)
        self._sqlite = self.dialect == "sqlite"
        self._savepoints = itertools.count(1)
        self._last_t: tuple[Any, Any] = (None, None)
        # with points expiry on (storage.expiry), the lots every entry fills or draws on
        self.lots: Lots | None = None
        # SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL locks the member's row
        lock = "" if self._sqlite else " FOR UPDATE"
        q = {
            "claim": "INSERT INTO processed_events (id, at) VALUES (:id, :at) ON CONFLICT DO NOTHING",
            # one statement each: insert, or update only what changed (an empty name never overwrites)
            "member_seen": "INSERT INTO members (id, name, points, growth, checkin_days, checkin_streak, created_at) "
            "VALUES (:id, :name, 0, 0, 0, 0, :at) ON CONFLICT (id) DO UPDATE SET name = excluded.name "
            "WHERE excluded.name <> '' AND members.name <> excluded.name",
            "room_seen": "INSERT INTO rooms (id, name, active, created_at) VALUES (:id, :name, :yes, :at) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name "
            "WHERE excluded.name <> '' AND rooms.name <> excluded.name",
            "in_room_seen": "INSERT INTO room_members (room_id, member_id, active, joined_at) "
            "VALUES (:room, :member, :yes, :at) ON CONFLICT (room_id, member_id) DO UPDATE "
            "SET active = :yes, joined_at = excluded.joined_at, left_at = NULL WHERE room_members.active = :no",
            "in_room_left": "UPDATE room_members SET active = :no, left_at = :at "
            "WHERE room_id = :room AND member_id = :member AND active = :yes",
            "lock": "SELECT points, growth, checkin_streak, checkin_days, last_checkin FROM members WHERE id = :id" + lock,
            "key_used": "SELECT 1 FROM ledger WHERE key = :key",
            "entry": "INSERT INTO ledger (member_id, delta, growth_delta, balance_after, kind, key, at, room_id, detail, "
            "campaign) VALUES (:member, :delta, :growth_delta, :balance_after, :kind, :key, :at, :room, :detail, "
            ":campaign) RETURNING id",
            "entry_by_key": "SELECT member_id, delta, growth_delta, kind, id FROM ledger WHERE key = :key",
            "active": "INSERT INTO active_days (day) VALUES (:day) ON CONFLICT DO NOTHING",
            "active_between": "SELECT COUNT(*) FROM active_days WHERE day > :after AND day < :before",
            "pending_get": "SELECT kind, step, data, expires_at FROM conversations WHERE chat = :chat AND member_id = :member",
            "pending_del": "DELETE FROM conversations WHERE chat = :chat AND member_id = :member",
            "pending_new": "INSERT INTO conversations (chat, member_id, kind, step, data, expires_at) "
            "VALUES (:chat, :member, :kind, :step, :data, :expires) "
            "ON CONFLICT (chat, member_id) DO UPDATE SET kind = :kind, step = :step, data = :data, expires_at = :expires",
            "counter_get": "SELECT count FROM daily_counters WHERE member_id = :member AND kind = :kind AND day = :day",
            "counter_bump": "INSERT INTO daily_counters (member_id, kind, day, count) VALUES (:member, :kind, :day, 1) "
            "ON CONFLICT (member_id, kind, day) DO UPDATE SET count = daily_counters.count + 1",
            "ever_member": "SELECT 1 FROM room_members WHERE member_id = :member LIMIT 1",
            "ever_in_room": "SELECT 1 FROM room_members WHERE member_id = :member AND room_id = :room",
            "balance": "UPDATE members SET points = :points, growth = :growth, points_at = :at WHERE id = :id",
            "checkin": "INSERT INTO checkins (member_id, day, at, room_id, streak, total_days, points, makeup) "
            "VALUES (:member, :day, :at, :room, :streak, :total, :points, :makeup)",
            "checkin_days": "SELECT day FROM checkins WHERE member_id = :member AND day >= :since ORDER BY day DESC",
            "active_days": "SELECT day FROM active_days WHERE day >= :since AND day <= :until",
            "makeups_since": "SELECT COUNT(*) FROM checkins WHERE member_id = :member AND makeup = :yes AND at >= :since",
            "streak_set": "UPDATE members SET checkin_days = :total, checkin_streak = :streak, last_checkin = :day "
            "WHERE id = :id",
            # both periods in one statement: the check-in hot path pays one round trip for the boards
            "period_add": "INSERT INTO period_sums (period, member_id, points, reached_at) "
            "VALUES (:week, :member, :points, :at), (:month, :member, :points, :at) "
            "ON CONFLICT (period, member_id) DO UPDATE SET points = period_sums.points + excluded.points, "
            "reached_at = excluded.reached_at",
            "checkin_member": "UPDATE members SET points = :points, growth = :growth, checkin_days = :total, "
            "checkin_streak = :streak, last_checkin = :day, points_at = COALESCE(:paid_at, points_at) WHERE id = :id",
        }
        self._q = {k: _Sql(v, self.dialect).sql for k, v in q.items()}

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
        name = f"sp{next(self._savepoints)}"
        cur = self._cursor(conn)
        cur.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
            cur.execute(f"RELEASE SAVEPOINT {name}")
            raise
        cur.execute(f"RELEASE SAVEPOINT {name}")

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

    @staticmethod
    def _cursor(conn: Connection) -> Any:
        # a fresh cursor per statement, so a caller may iterate one result while running another statement
        return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def _run(self, conn: Connection, name: str, /, **params: Any) -> Any:
        cur = self._cursor(conn)
        cur.execute(self._q[name], params)
        return cur

    def _t(self, at: datetime) -> Any:
        """A time as the column stores it (SQLAlchemy's SQLite format: naive UTC text)."""
        if at is self._last_t[0]:  # one command stores the same time several times
            return self._last_t[1]
        if at.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; use bot.clock")
        out = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else at
        self._last_t = (at, out)
        return out

    def _d(self, day: date | None) -> Any:
        return day.isoformat() if self._sqlite and day is not None else day

    def _day(self, v: Any) -> date | None:
        return date.fromisoformat(v) if isinstance(v, str) else v

    def _date(self, v: Any) -> date:
        return date.fromisoformat(v) if isinstance(v, str) else v  # type: ignore[no-any-return]

    # -- presence -----------------------------------------------------------------------------

    def claim_event(self, event_id: str, at: datetime) -> bool:
        """Record a source event as handled; False when it was handled before (a replay)."""
        with self.transaction() as conn:
            return bool(self._run(conn, "claim", id=event_id, at=self._t(at)).rowcount)

    def see_member(self, member: str, name: str, at: datetime) -> None:
        """Know `member`; a new non-empty display name replaces the old one."""
        with self.transaction() as conn:
            self._run(conn, "member_seen", id=member, name=name, at=self._t(at))

    def see_room(self, room: str, name: str, at: datetime) -> None:
        with self.transaction() as conn:
            self._run(conn, "room_seen", id=room, name=name, yes=True, at=self._t(at))

    def see_in_room(self, room: str, member: str, at: datetime) -> None:
        """`member` is in `room` now: a first sighting, or back after leaving."""
        with self.transaction() as conn:
            self._run(conn, "in_room_seen", room=room, member=member, yes=True, no=False, at=self._t(at))

    def left_room(self, room: str, member: str, at: datetime) -> None:
        with self.transaction() as conn:
            self._run(conn, "in_room_left", room=room, member=member, yes=True, no=False, at=self._t(at))

    def rooms(self, only: Sequence[str] = ()) -> list[tuple[str, str]]:
        with self.reading() as conn:
            q = select(R.c.id, R.c.name).where(R.c.active.is_(True)).order_by(R.c.created_at, R.c.id)
            if only:
                q = q.where(R.c.id.in_(list(only)))
            return [(r.id, r.name) for r in conn.execute(q)]

    # -- money --------------------------------------------------------------------------------

    def _lock_member(self, conn: Connection, member: str) -> tuple[int, int, int, int, date | None]:
        row = self._run(conn, "lock", id=member).fetchone()
        if row is None:
            raise LookupError(f"unknown member {member}: call see_member first")
        return int(row[0]), int(row[1]), int(row[2]), int(row[3]), self._day(row[4])

    def _append(self, conn: Connection, member: str, rows: Sequence[dict[str, Any]], points: int, at: datetime) -> list[Entry]:
        """Append ledger lines for one member; the caller moves the stored balance in the same transaction."""
        entries = []
        for r in rows:
            before = points
            points += r["delta"]
            params = {"member": member, "delta": r["delta"], "growth_delta": r.get("growth_delta", 0),
                      "balance_after": points, "kind": r["kind"], "key": r["key"], "room": r.get("room"),
                      "detail": r.get("detail", ""), "campaign": r.get("campaign")}
            new_id = self._run(conn, "entry", at=self._t(at), **params).fetchone()[0]
            if self.lots is not None:
                self.lots.entry(conn, member=member, entry=int(new_id), delta=params["delta"], before=before, at=at,
                                reverses=r.get("reverses"), draws=r.get("draws"))
            entries.append(Entry(id=int(new_id), member=member, delta=params["delta"], growth_delta=params["growth_delta"],
                                 balance_after=points, kind=params["kind"], key=params["key"], at=at, room=params["room"],
                                 detail=params["detail"], campaign=params["campaign"]))
        grown = sum(e.growth_delta for e in entries)
        if grown:
            week, month = periods(at.astimezone(self.tz).date())
            self._run(conn, "period_add", week=week, month=month, member=member, points=grown, at=self._t(at))
        return entries

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
        campaign: str | None = None,
    ) -> Entry | None:
        """Credit `points` (> 0); growth rises with them. None when `key` was used before."""
        if not isinstance(points, int) or points <= 0:
            raise ValueError("award needs a positive integer")
        return self._move(member=member, delta=points, growth_delta=points if growth else 0,
                          kind=kind, key=key, at=at, room=room, detail=detail, allow_negative=False, campaign=campaign)

    def spend(
        self, *, member: str, points: int, kind: str, key: str, at: datetime, room: str | None = None, detail: str = ""
    ) -> Entry | None:
        """Debit `points` (> 0); refuses to go below zero; growth never falls."""
        if not isinstance(points, int) or points <= 0:
            raise ValueError("spend needs a positive integer")
        return self._move(member=member, delta=-points, growth_delta=0, kind=kind, key=key, at=at,
                          room=room, detail=detail, allow_negative=False)

    def reverse(self, *, original_key: str, key: str, kind: str, at: datetime, detail: str = "") -> Entry | None:
        """Undo an entry by a new one with the opposite deltas (never by editing it); may go below zero.

        None when `key` was used before; LookupError when there is no entry `original_key`.
        """
        with self.transaction() as conn:
            row = self._run(conn, "entry_by_key", key=original_key).fetchone()
            if row is None:
                raise LookupError(f"no ledger entry {original_key} to reverse")
            member, delta, growth_delta, _kind, original = row
            return self._move(member=member, delta=-int(delta), growth_delta=-int(growth_delta), kind=kind, key=key,
                              at=at, room=None, detail=detail, allow_negative=True, reverses=(int(original), int(delta)))

    def _move(
        self, *, member: str, delta: int, growth_delta: int, kind: str, key: str, at: datetime,
        room: str | None, detail: str, allow_negative: bool, campaign: str | None = None,
        reverses: tuple[int, int] | None = None,
    ) -> Entry | None:
        with self.transaction() as conn:
            points, growth, _s, _d, _l = self._lock_member(conn, member)
            # checked after the lock, so a concurrent repeat of the same key waits and then sees it
            if self._run(conn, "key_used", key=key).fetchone() is not None:
                return None
            if delta < 0 and not allow_negative and points + delta < 0:
                raise InsufficientPoints(needed=-delta, points=points)
            [entry] = self._append(conn, member, [{"delta": delta, "growth_delta": growth_delta, "kind": kind,
                                                   "key": key, "room": room, "detail": detail, "campaign": campaign,
                                                   "reverses": reverses}],
                                   points, at)
            self._run(conn, "balance", id=member, points=points + delta, growth=growth + growth_delta, at=self._t(at))
            if growth_delta:
                self.growth_changes.append((member, growth, growth + growth_delta))
            return entry

    def check_in(
        self,
        *,
        member: str,
        day: date,
        at: datetime,
        room: str | None,
        rewards: Callable[[int, int], Sequence[Reward]],
        campaign: str | None = None,
        scale: Callable[[int, int], int] | None = None,
    ) -> CheckinResult:
        """Check `member` in for local `day`; `rewards(streak, total_days)` says what it pays.

        `scale(points, growth)`, when given, turns each reward line's points into what is paid, from the
        member's growth before this check-in (the level's multiplier), read under the same lock.

        The streak goes on when every day since the last check-in was a day the bot handled no
        event at all (it was not running). Raises AlreadyCheckedIn (nothing written) when the
        member already checked in that day.
        """
        with self.transaction() as conn:
            points, growth, streak0, days0, last = self._lock_member(conn, member)
            if last is not None and last >= day:
                raise AlreadyCheckedIn(streak=streak0, total_days=days0, points=points)
            streak = streak0 + 1 if last is not None and self._unbroken(conn, last, day) else 1
            total = days0 + 1
            lines_due = rewards(streak, total)
            if scale is not None:
                lines_due = [Reward(r.kind, scale(r.points, growth), r.name) for r in lines_due]
            paid = tuple(r for r in lines_due if r.points > 0)
            earned = sum(r.points for r in paid)
            self._run(conn, "checkin", member=member, day=self._d(day), at=self._t(at), room=room, streak=streak,
                      total=total, points=earned, makeup=False)
            # day first: today's keys sit together at the end of the key index however large it grows
            base = f"checkin:{day.isoformat()}:{member}"
            lines = [
                {"delta": r.points, "growth_delta": r.points, "kind": r.kind, "room": room, "detail": r.name,
                 "key": base if i == 0 else f"{base}:{r.kind}:{i}", "campaign": campaign}
                for i, r in enumerate(paid)
            ]
            if lines:
                self._append(conn, member, lines, points, at)
            self._run(conn, "checkin_member", id=member, points=points + earned, growth=growth + earned, total=total,
                      streak=streak, day=self._d(day), paid_at=self._t(at) if lines else None)
            if earned:
                self.growth_changes.append((member, growth, growth + earned))
            return CheckinResult(day=day, streak=streak, total_days=total, rewards=paid, earned=earned,
                                 points=points + earned, growth=growth + earned)

    def makeup(
        self,
        *,
        member: str,
        today: date,
        at: datetime,
        room: str | None,
        within_days: int,
        cost: int,
        max_per_month: int,
        month_start: datetime,
    ) -> MakeupResult:
        """补签: fill the most recent missed day of the last `within_days` for `cost` points.

        A missed day is one the bot was running (see mark_active) without a check-in by the member;
        filling it reconnects the streak around it. Raises NothingToMakeUp, MakeupLimit or
        InsufficientPoints, each with nothing written.
        """
        with self.transaction() as conn:
            points, growth, _streak, days0, last = self._lock_member(conn, member)
            since = today - timedelta(days=within_days)
            done = {self._date(r[0]) for r in self._run(conn, "checkin_days", member=member, since=self._d(since))}
            active = {self._date(r[0]) for r in self._run(conn, "active_days", since=self._d(since),
                                                          until=self._d(today - timedelta(days=1)))}
            missed = [d for d in sorted(active, reverse=True) if d not in done]
            if not missed:
                raise NothingToMakeUp(within_days=within_days)
            used = int(self._run(conn, "makeups_since", member=member, yes=True, since=self._t(month_start)).fetchone()[0])
            if used >= max_per_month:
                raise MakeupLimit(used=used, limit=max_per_month)
            if points < cost:
                raise InsufficientPoints(needed=cost, points=points)
            day = missed[0]
            self._append(conn, member, [{"delta": -cost, "growth_delta": 0, "kind": "makeup", "room": room,
                                         "key": f"makeup:{member}:{day.isoformat()}", "detail": f"补签 {day.isoformat()}"}],
                         points, at)
            self._run(conn, "balance", id=member, points=points - cost, growth=growth, at=self._t(at))
            new_last = day if last is None or day > last else last
            self._run(conn, "checkin", member=member, day=self._d(day), at=self._t(at), room=room, streak=0,
                      total=days0 + 1, points=0, makeup=True)
            streak = self._streak_ending(conn, member, new_last)
            self._run(conn, "streak_set", id=member, total=days0 + 1, streak=streak, day=self._d(new_last))
            return MakeupResult(day=day, cost=cost, points=points - cost, streak=streak, total_days=days0 + 1,
                                used=used + 1, limit=max_per_month)

    def _streak_ending(self, conn: Connection, member: str, last: date) -> int:
        """The run of check-in days ending at `last`; days the bot did not run do not break it."""
        days = [self._date(r[0]) for r in self._run(conn, "checkin_days", member=member, since=self._d(date.min))]
        days = [d for d in days if d <= last]
        streak, prev = 0, None
        for d in days:
            if prev is not None and not self._unbroken(conn, d, prev):
                break
            streak, prev = streak + 1, d
        return streak

    def _unbroken(self, conn: Connection, last: date, day: date) -> bool:
        """No day between `last` and `day` (both excluded) on which the bot was running."""
        if day - last <= timedelta(days=1):
            return True
        n = self._run(conn, "active_between", after=self._d(last), before=self._d(day)).fetchone()[0]
        return int(n) == 0

    def take_growth_changes(self) -> list[tuple[str, int, int]]:
        """The growth changes recorded since the last call, oldest first; the list starts empty again."""
        out, self.growth_changes = self.growth_changes, []
        return out

    # -- days, counters, conversations ----------------------------------------------------------

    def mark_active(self, day: date) -> None:
        """Record that the bot handled an event on local `day`."""
        with self.transaction() as conn:
            self._run(conn, "active", day=self._d(day))

    def bump(self, member: str, kind: str, day: date) -> int:
        """Add one to today's counter `kind` of `member`; returns the new count."""
        with self.transaction() as conn:
            self._run(conn, "counter_bump", member=member, kind=kind, day=self._d(day))
            return int(self._run(conn, "counter_get", member=member, kind=kind, day=self._d(day)).fetchone()[0])

    def counter(self, member: str, kind: str, day: date) -> int:
        with self.transaction() as conn:
            row = self._run(conn, "counter_get", member=member, kind=kind, day=self._d(day)).fetchone()
            return int(row[0]) if row else 0

    def ever_member(self, member: str, room: str | None = None) -> bool:
        """Was `member` ever seen in `room` (or, with no room, in any group the bot serves)?"""
        with self.transaction() as conn:
            if room is None:
                return self._run(conn, "ever_member", member=member).fetchone() is not None
            return self._run(conn, "ever_in_room", member=member, room=room).fetchone() is not None

    def pending(self, chat: str, member: str, at: datetime) -> Pending | None:
        """The conversation in progress in `chat` ("" = private) with `member`; an expired one is dropped."""
        with self.transaction() as conn:
            row = self._run(conn, "pending_get", chat=chat, member=member).fetchone()
            if row is None:
                return None
            expires = row[3]
            if isinstance(expires, str):
                expires = datetime.fromisoformat(expires).replace(tzinfo=UTC)
            if expires <= at:
                self._run(conn, "pending_del", chat=chat, member=member)
                return None
            return Pending(chat=chat, member=member, kind=row[0], step=row[1], data=json.loads(row[2]), expires_at=expires)

    def set_pending(self, chat: str, member: str, kind: str, step: str, data: dict[str, Any], expires_at: datetime) -> None:
        with self.transaction() as conn:
            self._run(conn, "pending_new", chat=chat, member=member, kind=kind, step=step,
                      data=json.dumps(data, ensure_ascii=False), expires=self._t(expires_at))

    def clear_pending(self, chat: str, member: str) -> bool:
        with self.transaction() as conn:
            return bool(self._run(conn, "pending_del", chat=chat, member=member).rowcount)

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
                                                 L.c.key == literal("checkin:") + cast(C.c.day, String) + ":" + C.c.member_id)))
                .where(C.c.points > 0, L.c.id.is_(None))
            ).all()
            for u in unpaid:
                problems.append(f"check-in of {u.member_id} on {u.day} has points but no ledger line")
            for check in AUDITS:
                problems.extend(check(conn))
            if self.lots is not None:
                problems += self.lots.audit(conn)
            from storage.boards import audit_periods  # boards reads the ledger module: imported late

            problems += audit_periods(conn, self.tz)
        return problems


def periods(day: date) -> tuple[str, str]:
    """The keys of the local week (from Monday) and month that `day` falls in."""
    monday = day - timedelta(days=day.weekday())
    return f"week:{monday.isoformat()}", f"month:{day.replace(day=1).isoformat()}"


def _member(r: Any) -> MemberView:
    return MemberView(id=r.id, name=r.name, points=r.points, growth=r.growth, checkin_days=r.checkin_days,
                      checkin_streak=r.checkin_streak, last_checkin=r.last_checkin)


def _entry(r: Any) -> Entry:
    return Entry(id=r.id, member=r.member_id, delta=r.delta, growth_delta=r.growth_delta,
                 balance_after=r.balance_after, kind=r.kind, key=r.key, at=r.at, room=r.room_id, detail=r.detail,
                 campaign=r.campaign)
