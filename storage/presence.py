"""Presence: source events already handled, members and groups seen, who is in which group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from storage.db import Database
from storage.tables import MEMBERS, PROCESSED_EVENTS, ROOMS

# (connection, room, member, joined: True / left: False), run in the transaction that moved them
MoveHook = Callable[[Connection, str, str, bool], None]


class Presence:
    """What the pipeline records as events arrive; one statement each, on the hot path's raw cursor."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # what must follow a member into or out of a group (the boards' counts); run only when one moved
        self.moves: list[MoveHook] = []
        # what must happen before a member may move between groups (the boards write the moves they hold)
        self.before_moves: list[Callable[[Connection], None]] = []
        st = db.statement
        self._claim = st("INSERT INTO processed_events (id, at) VALUES (:id, :at) ON CONFLICT DO NOTHING")
        # one statement each: insert, or update only what changed (an empty name never overwrites)
        self._member = st(
            "INSERT INTO members (id, name, points, growth, checkin_days, checkin_streak, created_at) "
            "VALUES (:id, :name, 0, 0, 0, 0, :at) ON CONFLICT (id) DO UPDATE SET name = excluded.name "
            "WHERE excluded.name <> '' AND members.name <> excluded.name")
        self._room = st(
            "INSERT INTO rooms (id, name, active, created_at) VALUES (:id, :name, :yes, :at) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name "
            "WHERE excluded.name <> '' AND rooms.name <> excluded.name")
        self._in_room = st(
            "INSERT INTO room_members (room_id, member_id, active, joined_at) "
            "VALUES (:room, :member, :yes, :at) ON CONFLICT (room_id, member_id) DO UPDATE "
            "SET active = :yes, joined_at = excluded.joined_at, left_at = NULL WHERE room_members.active = :no")
        self._left = st("UPDATE room_members SET active = :no, left_at = :at "
                        "WHERE room_id = :room AND member_id = :member AND active = :yes")
        self._ever = st("SELECT 1 FROM room_members WHERE member_id = :member LIMIT 1")
        self._ever_in = st("SELECT 1 FROM room_members WHERE member_id = :member AND room_id = :room")

    def claim_event(self, event_id: str, at: datetime) -> bool:
        """Record a source event as handled; False when it was handled before (a replay)."""
        with self.db.transaction() as conn:
            return bool(self._claim.run(conn, id=event_id, at=self.db.at(at)).rowcount)

    def see_member(self, member: str, name: str, at: datetime) -> None:
        """Know `member`; a new non-empty display name replaces the old one."""
        with self.db.transaction() as conn:
            self._member.run(conn, id=member, name=name, at=self.db.at(at))

    def see_room(self, room: str, name: str, at: datetime) -> None:
        with self.db.transaction() as conn:
            self._room.run(conn, id=room, name=name, yes=True, at=self.db.at(at))

    def see_in_room(self, room: str, member: str, at: datetime) -> None:
        """`member` is in `room` now: a first sighting, or back after leaving."""
        with self.db.transaction() as conn:
            for before in self.before_moves:
                before(conn)
            if self._in_room.run(conn, room=room, member=member, yes=True, no=False, at=self.db.at(at)).rowcount:
                for hook in self.moves:
                    hook(conn, room, member, True)

    def left_room(self, room: str, member: str, at: datetime) -> None:
        with self.db.transaction() as conn:
            for before in self.before_moves:
                before(conn)
            if self._left.run(conn, room=room, member=member, yes=True, no=False, at=self.db.at(at)).rowcount:
                for hook in self.moves:
                    hook(conn, room, member, False)

    def ever_member(self, member: str, room: str | None = None) -> bool:
        """Was `member` ever seen in `room` (or, with no room, in any group the bot serves)?"""
        with self.db.transaction() as conn:
            if room is None:
                return self._ever.run(conn, member=member).fetchone() is not None
            return self._ever_in.run(conn, member=member, room=room).fetchone() is not None

    def first_seen(self, member: str) -> datetime | None:
        """When the bot first saw `member` (members.created_at); None for a contact it never saw."""
        with self.db.reading() as conn:
            return conn.execute(select(MEMBERS.c.created_at).where(MEMBERS.c.id == member)).scalar()  # type: ignore[no-any-return]

    def rooms(self, only: Sequence[str] = ()) -> list[tuple[str, str]]:
        with self.db.reading() as conn:
            q = select(ROOMS.c.id, ROOMS.c.name).where(ROOMS.c.active.is_(True)).order_by(ROOMS.c.created_at,
                                                                                          ROOMS.c.id)
            if only:
                q = q.where(ROOMS.c.id.in_(list(only)))
            return [(r.id, r.name) for r in conn.execute(q)]

    def claimed_at(self, event_id: str) -> datetime | None:
        """When source event `event_id` was claimed; None if it never was."""
        with self.db.reading() as conn:
            return conn.execute(select(PROCESSED_EVENTS.c.at).where(PROCESSED_EVENTS.c.id == event_id)).scalar()

    def rooms_seen(self, rooms: Sequence[str]) -> dict[str, datetime]:
        """When the bot first knew each of `rooms` (the ones it knows)."""
        if not rooms:
            return {}
        with self.db.reading() as conn:
            q = select(ROOMS.c.id, ROOMS.c.created_at).where(ROOMS.c.id.in_(list(rooms)))
            return {r.id: r.created_at for r in conn.execute(q)}
