"""The ledger: the money verbs (award, spend, reverse, undo, append) that keep the stored balance beside each entry.

Every verb runs inside `Database.transaction()`: its own transaction, or the batch the pipeline opened
for events that arrived together (group commit). Repeats are blocked by UNIQUE keys. What else must
happen with every entry (the hourly sums of storage.hours, period sums for the boards, points-expiry lots, level-up
notes) attaches itself through `entry_hooks`, run in the same transaction; its invariants through `audits`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, RowMapping, func, select

from storage.db import Database, Locked, lock_member
from storage.errors import AlreadyReversed, InsufficientPoints, MemberFrozen, NoSuchEntry, NotUndoable
from storage.hours import JOURNAL, Hours
from storage.tables import LEDGER, MEMBERS
from storage.vocabulary import FROZEN_REFUSES, UNDOABLE, Kind


@dataclass(frozen=True)
class MemberView:
    """A member as storage shows them (the row without its bookkeeping times)."""

    id: str
    name: str
    points: int
    growth: int
    checkin_days: int
    checkin_streak: int
    last_checkin: date | None = None

    @classmethod
    def of(cls, row: RowMapping) -> MemberView:
        """The view of a members row (any other columns it has are left out)."""
        return cls(id=row["id"], name=row["name"], points=row["points"], growth=row["growth"],
                   checkin_days=row["checkin_days"], checkin_streak=row["checkin_streak"],
                   last_checkin=row["last_checkin"])


class Line(NamedTuple):
    """One ledger line to append for a locked member."""

    delta: int
    kind: str  # a vocabulary.Kind (any string is stored as given)
    key: str
    growth_delta: int = 0
    room: str | None = None
    detail: str = ""
    campaign: str | None = None
    reverses: int | None = None  # id of the entry this one undoes


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
    reverses: int | None = None


@dataclass(frozen=True)
class Undone:
    """An entry undone by 撤销 and the reversal that undid it; `repeated` when this key had done it before."""

    original: Entry
    reversal: Entry
    repeated: bool = False


# (connection, the member as locked before these entries, the entries of one append) -> None
EntryHook = Callable[[Connection, Locked, Sequence[Entry]], None]
# connection -> one line per breach of an invariant
Audit = Callable[[Connection], list[str]]


class Ledger:
    """Money verbs on one Database; hooks and audits are per instance."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # the ledger by hour (storage.hours): each entry journaled, the journal written once just before commit
        self.hours = Hours(db)
        db.before_commit[JOURNAL] = self.hours.flush
        self.entry_hooks: list[EntryHook] = [self._note_hours]
        self.audits: list[Audit] = [self._audit_balances, self.hours.audit]
        # SQLite tells the new id without RETURNING, which costs it ~10 us per row (half the insert)
        self._entry = db.statement(
            "INSERT INTO ledger (member_id, delta, growth_delta, balance_after, kind, key, at, room_id, detail, "
            "campaign, reverses) VALUES (:member, :delta, :growth_delta, :balance_after, :kind, :key, :at, :room, "
            ":detail, :campaign, :reverses)" + ("" if db.sqlite else " RETURNING id"))
        self._key_used = db.statement("SELECT 1 FROM ledger WHERE key = :key")
        self._by_key = db.statement("SELECT member_id, delta, growth_delta, id FROM ledger WHERE key = :key")
        self._balance = db.statement(
            "UPDATE members SET points = :points, growth = :growth, points_at = :at WHERE id = :id")

    def _note_hours(self, _conn: Connection, _locked: Locked, entries: Sequence[Entry]) -> None:
        self.hours.note(entries)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    # -- the lower-level verb -------------------------------------------------------------------

    def key_used(self, conn: Connection, key: str) -> bool:
        return self._key_used.run(conn, key=key).fetchone() is not None

    def append(self, conn: Connection, locked: Locked, lines: Sequence[Line], at: datetime, *,
               move_balance: bool = True) -> list[Entry]:
        """Append `lines` for the member `locked` (read under its lock in this transaction) and run the hooks.

        With `move_balance` the stored points and growth move by the lines' deltas; a caller that writes
        the member row itself (check-in) passes False and writes the same sums in its own statement.

        MemberFrozen, before anything is written, when the member is frozen and a line is a rule's payout or
        the member's own spending (vocabulary.FROZEN_REFUSES): the one gate every award passes.
        """
        if locked.frozen:
            refuse_frozen(locked, lines)
        db = self.db
        stamp = db.at(at)
        points = locked.points
        sent = []
        for ln in lines:
            points += ln.delta
            # every line in one round trip (with what waits before them): their ids are read after the flush
            sent.append((points, self._entry.later(
                conn, member=locked.member, delta=ln.delta, growth_delta=ln.growth_delta, balance_after=points,
                kind=str(ln.kind), key=ln.key, at=stamp, room=ln.room, detail=ln.detail, campaign=ln.campaign,
                reverses=ln.reverses)))
        db.flush(conn)
        entries = [Entry(id=int(cur.lastrowid if db.sqlite else cur.fetchone()[0]), member=locked.member, delta=ln.delta,
                         growth_delta=ln.growth_delta, balance_after=after, kind=str(ln.kind), key=ln.key, at=at,
                         room=ln.room, detail=ln.detail, campaign=ln.campaign, reverses=ln.reverses)
                   for ln, (after, cur) in zip(lines, sent, strict=True)]
        if move_balance and entries:
            grown = sum(e.growth_delta for e in entries)
            self._balance.later(conn, id=locked.member, points=points, growth=locked.growth + grown, at=stamp)
        for hook in self.entry_hooks:
            hook(conn, locked, entries)
        return entries

    # -- money verbs ----------------------------------------------------------------------------

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
        growth_delta: int | None = None,
    ) -> Entry | None:
        """Credit `points` (>= 0; 0 only with a growth_delta); growth rises with them (or by `growth_delta`,
        a balance moved in from elsewhere). None when `key` was used before."""
        if not isinstance(points, int) or points < 0 or (points == 0 and not growth_delta):
            raise ValueError("award needs a positive integer")
        grown = growth_delta if growth_delta is not None else (points if growth else 0)
        return self._move(member, Line(points, kind, key, growth_delta=grown, room=room,
                                       detail=detail, campaign=campaign), at, allow_negative=False)

    def spend(
        self, *, member: str, points: int, kind: str, key: str, at: datetime, room: str | None = None, detail: str = ""
    ) -> Entry | None:
        """Debit `points` (> 0); refuses to go below zero; growth never falls."""
        if not isinstance(points, int) or points <= 0:
            raise ValueError("spend needs a positive integer")
        return self._move(member, Line(-points, kind, key, room=room, detail=detail), at, allow_negative=False)

    def reverse(self, *, original_key: str, key: str, kind: str, at: datetime, detail: str = "") -> Entry | None:
        """Undo an entry by a new one with the opposite deltas (never by editing it); may go below zero.

        None when `key` was used before; LookupError when there is no entry `original_key`.
        """
        with self.db.transaction() as conn:
            row = self._by_key.run(conn, key=original_key).fetchone()
            if row is None:
                raise LookupError(f"no ledger entry {original_key} to reverse")
            member, delta, growth_delta, original = row
            return self._move(member, Line(-int(delta), kind, key, growth_delta=-int(growth_delta), detail=detail,
                                           reverses=int(original)), at, allow_negative=True)

    def undo(self, *, entry: int, key: str, at: datetime, detail: str = "") -> Undone:
        """撤销: undo the manual entry `entry` as if it never happened, by a REVERSAL entry with the opposite
        points and growth (the boards count it in the entry's own week and month).

        Refuses (nothing written): NoSuchEntry; AlreadyReversed; NotUndoable for a kind with its own flow;
        InsufficientPoints when taking back a credit would leave the balance below zero (the points were
        spent: an operator's action never makes a debt). A `key` used before changes nothing (`repeated`).
        """
        with self.db.transaction() as conn:
            original = self._one(conn, LEDGER.c.id == entry)
            if original is None:
                raise NoSuchEntry(entry)
            locked = lock_member(conn, original.member)
            # checked after the lock: a concurrent 撤销 of the same entry waits here, then sees the first
            done = self._one(conn, LEDGER.c.key == key)
            if done is not None:  # this message was handled before: what it did stands, nothing more
                first = self._one(conn, LEDGER.c.id == done.reverses) if done.reverses != entry else original
                return Undone(first or original, done, repeated=True)
            by = self._one(conn, LEDGER.c.reverses == entry)
            if by is not None:
                raise AlreadyReversed(entry=entry, by=by.id)
            if original.kind not in UNDOABLE:
                raise NotUndoable(entry=entry, kind=original.kind)
            if original.delta > 0 and locked.points < original.delta:
                raise InsufficientPoints(needed=original.delta, points=locked.points)
            [reversal] = self.append(conn, locked, [
                Line(-original.delta, Kind.REVERSAL, key, growth_delta=-original.growth_delta, detail=detail,
                     reverses=entry)], at)
            return Undone(original, reversal)

    @staticmethod
    def _one(conn: Connection, where: Any) -> Entry | None:
        row = conn.execute(select(LEDGER).where(where)).first()
        return _entry(row._mapping) if row else None

    def _move(self, member: str, line: Line, at: datetime, *, allow_negative: bool) -> Entry | None:
        with self.db.transaction() as conn:
            locked = lock_member(conn, member)
            # checked after the lock, so a concurrent repeat of the same key waits and then sees it
            if self.key_used(conn, line.key):
                return None
            if locked.frozen:
                refuse_frozen(locked, [line])
            if line.delta < 0 and not allow_negative and locked.points + line.delta < 0:
                raise InsufficientPoints(needed=-line.delta, points=locked.points)
            [entry] = self.append(conn, locked, [line], at)
            return entry

    # -- reading --------------------------------------------------------------------------------

    def member(self, member: str) -> MemberView | None:
        with self.db.reading() as conn:
            row = conn.execute(select(MEMBERS).where(MEMBERS.c.id == member)).first()
            return MemberView.of(row._mapping) if row else None

    def members(self) -> list[MemberView]:
        with self.db.reading() as conn:
            q = select(MEMBERS).order_by(MEMBERS.c.points.desc(), MEMBERS.c.id)
            return [MemberView.of(r._mapping) for r in conn.execute(q)]

    def entry(self, entry: int) -> Entry | None:
        with self.db.reading() as conn:
            return self._one(conn, LEDGER.c.id == entry)

    def entries(self, member: str | None = None, limit: int | None = None, newest_first: bool = False) -> list[Entry]:
        with self.db.reading() as conn:
            q = select(LEDGER)
            if member is not None:
                q = q.where(LEDGER.c.member_id == member)
            q = q.order_by(LEDGER.c.id.desc() if newest_first else LEDGER.c.id)
            if limit:
                q = q.limit(limit)
            return [_entry(r._mapping) for r in conn.execute(q)]

    # -- audit ----------------------------------------------------------------------------------

    def audit(self) -> list[str]:
        """Every breach of every attached module's invariants, one line each; empty when all hold."""
        problems: list[str] = []
        with self.db.reading() as conn:
            for check in self.audits:
                problems.extend(check(conn))
        return problems

    @staticmethod
    def _audit_balances(conn: Connection) -> list[str]:
        problems: list[str] = []
        sums = {
            r.member_id: (int(r.d or 0), int(r.g or 0))
            for r in conn.execute(
                select(LEDGER.c.member_id, func.sum(LEDGER.c.delta).label("d"),
                       func.sum(LEDGER.c.growth_delta).label("g")).group_by(LEDGER.c.member_id))
        }
        for m in conn.execute(select(MEMBERS.c.id, MEMBERS.c.points, MEMBERS.c.growth)):
            d, g = sums.pop(m.id, (0, 0))
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
        q = select(LEDGER.c.id, LEDGER.c.member_id, LEDGER.c.delta, LEDGER.c.balance_after).order_by(LEDGER.c.id)
        for e in conn.execute(q):
            expect = prev.get(e.member_id, 0) + e.delta
            if e.balance_after != expect:
                problems.append(f"ledger line {e.id} ({e.member_id}): balance_after {e.balance_after} != {expect}")
            prev[e.member_id] = e.balance_after
        # a reversal undoes an entry of the same member, by the opposite points and growth
        original = LEDGER.alias("original")
        for r in conn.execute(
            select(LEDGER.c.id, LEDGER.c.member_id, LEDGER.c.delta, LEDGER.c.growth_delta,
                   original.c.member_id.label("om"), original.c.delta.label("od"),
                   original.c.growth_delta.label("og"))
            .select_from(LEDGER.outerjoin(original, original.c.id == LEDGER.c.reverses))
            .where(LEDGER.c.reverses.is_not(None))
        ):
            if r.om != r.member_id or r.od != -r.delta:
                problems.append(f"ledger line {r.id} ({r.member_id}) reverses an entry it does not undo")
            elif r.og != -r.growth_delta:
                problems.append(f"ledger line {r.id} ({r.member_id}) reverses growth {r.og} by {r.growth_delta}")
        # and no entry is undone twice
        for r in conn.execute(
            select(LEDGER.c.reverses, func.count().label("n")).where(LEDGER.c.reverses.is_not(None))
            .group_by(LEDGER.c.reverses).having(func.count() > 1).order_by(LEDGER.c.reverses)
        ):
            problems.append(f"ledger line {r.reverses} is reversed {r.n} times")
        return problems


def refuse_frozen(locked: Locked, lines: Sequence[Line]) -> None:
    """MemberFrozen when `locked` is frozen and any of `lines` is of a kind a frozen member may not have."""
    if locked.frozen and any(str(ln.kind) in FROZEN_REFUSES for ln in lines):
        raise MemberFrozen(member=locked.member)


def _entry(r: RowMapping) -> Entry:
    """The Entry of a ledger row."""
    return Entry(id=r["id"], member=r["member_id"], delta=r["delta"], growth_delta=r["growth_delta"],
                 balance_after=r["balance_after"], kind=r["kind"], key=r["key"], at=r["at"], room=r["room_id"],
                 detail=r["detail"], campaign=r["campaign"], reverses=r["reverses"])


__all__ = ["Audit", "Entry", "EntryHook", "Ledger", "Line", "MemberView", "Undone", "refuse_frozen"]
