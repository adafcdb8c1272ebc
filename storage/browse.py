"""Reads for the operator console: member search, a member's groups, ledger pages by keyset (never OFFSET).

Every query here reads an index: a member by exact id (the primary key), by id prefix or name prefix
(a range on the primary key / ix_members_name: byte order on SQLite, and on PostgreSQL with the C or
C.UTF-8 collation the bot's databases use); ledger pages walk ix_ledger_member_id (one member) or the
primary key downwards from the last id shown, so page 1000 costs what page 1 costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, select

from storage.db import Database
from storage.ledger import Entry, MemberView
from storage.tables import CHECKINS, LEDGER, MALL_ORDERS, MEMBERS, ROOM_MEMBERS, ROOMS

TOP = "\U0010ffff"  # the highest code point: every string starting with p sorts below p + TOP


@dataclass(frozen=True)
class RoomOf:
    room: str
    name: str
    active: bool
    joined_at: datetime


@dataclass(frozen=True)
class RoomSummary:
    room: str
    name: str
    active: bool
    members: int  # in the group now (room_members.active)
    today: int  # check-ins from this group on the last day asked for
    days: int  # check-ins from this group over the days asked for (one per member per day)


@dataclass(frozen=True)
class RoomMemberRow:
    member: str
    name: str
    points: int
    last_checkin: date | None
    joined_at: datetime


@dataclass(frozen=True)
class LedgerFilter:
    kind: str | None = None
    member: str | None = None
    room: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


class Browse:
    def __init__(self, db: Database) -> None:
        self.db = db

    def search_members(self, text: str, limit: int = 50) -> list[MemberView]:
        """Members whose id is `text` or starts with it, then those whose name starts with it (each at most `limit`)."""
        text = text.strip()
        if not text:
            return []
        found: dict[str, MemberView] = {}
        with self.db.reading() as conn:
            for q in self.search_queries(text, limit):
                for r in conn.execute(q):
                    found.setdefault(r.id, MemberView.of(r._mapping))
        exact = [m for m in found.values() if m.id == text]
        return (exact + [m for m in found.values() if m.id != text])[:limit]

    @staticmethod
    def search_queries(text: str, limit: int) -> list[Select[Any]]:
        """By id prefix (the primary key), then by name prefix (ix_members_name): each a range on its index."""
        return [select(MEMBERS).where(col >= text, col < text + TOP).order_by(col).limit(limit)
                for col in (MEMBERS.c.id, MEMBERS.c.name)]

    def rooms_of(self, member: str) -> list[RoomOf]:
        q = (select(ROOM_MEMBERS.c.room_id, ROOMS.c.name, ROOM_MEMBERS.c.active, ROOM_MEMBERS.c.joined_at)
             .select_from(ROOM_MEMBERS.join(ROOMS, ROOMS.c.id == ROOM_MEMBERS.c.room_id))
             .where(ROOM_MEMBERS.c.member_id == member).order_by(ROOM_MEMBERS.c.joined_at))
        with self.db.reading() as conn:
            return [RoomOf(r.room_id, r.name, bool(r.active), r.joined_at) for r in conn.execute(q)]

    def ledger_page(self, f: LedgerFilter, *, before: int | None = None, limit: int = 50) -> list[Entry]:
        """Entries matching `f`, newest first, with ids below `before` (the last id of the previous page)."""
        q = self.ledger_query(f, before=before, limit=limit)
        with self.db.reading() as conn:
            return [_entry(r) for r in conn.execute(q)]

    @staticmethod
    def ledger_query(f: LedgerFilter, *, before: int | None, limit: int) -> Select[Any]:
        conds: list[Any] = []
        if f.member:
            conds.append(LEDGER.c.member_id == f.member)
        if f.kind:
            conds.append(LEDGER.c.kind == f.kind)
        if f.room:
            conds.append(LEDGER.c.room_id == f.room)
        if f.since is not None:
            conds.append(LEDGER.c.at >= f.since)
        if f.until is not None:
            conds.append(LEDGER.c.at < f.until)
        if before is not None:
            conds.append(LEDGER.c.id < before)
        return select(LEDGER).where(and_(True, *conds)).order_by(LEDGER.c.id.desc()).limit(limit)

    def reversed_by(self, ids: Sequence[int]) -> dict[int, int]:
        """For each of `ids` that was undone: the id of the entry that undid it (uq_ledger_reverses)."""
        if not ids:
            return {}
        q = select(LEDGER.c.reverses, LEDGER.c.id).where(LEDGER.c.reverses.in_(list(ids)))
        with self.db.reading() as conn:
            return {int(r.reverses): int(r.id) for r in conn.execute(q)}


    # -- the console's 订单 and 群 pages -------------------------------------------------------------

    def order_counts(self) -> dict[str, int]:
        """Orders per status (ix_mall_orders_status: an index-only count)."""
        q = select(MALL_ORDERS.c.status, func.count().label("n")).group_by(MALL_ORDERS.c.status)
        with self.db.reading() as conn:
            return {str(r.status): int(r.n) for r in conn.execute(q)}

    def count_orders(self, status: str, kind: str) -> int:
        q = (select(func.count()).select_from(MALL_ORDERS)
             .where(MALL_ORDERS.c.status == status, MALL_ORDERS.c.kind == kind))
        with self.db.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def orders_page(self, statuses: Sequence[str], *, before: int | None = None, limit: int = 50) -> list[Any]:
        """Orders in `statuses`, newest first, ids below `before` (ix_mall_orders_status_id per status), each row with
        its member's name (one join on the primary key)."""
        O, M = MALL_ORDERS, MEMBERS  # noqa: E741
        conds: list[Any] = [O.c.status.in_(list(statuses))] if statuses else []
        if before is not None:
            conds.append(O.c.id < before)
        q = (select(O, M.c.name.label("member_name")).select_from(O.outerjoin(M, M.c.id == O.c.member_id))
             .where(and_(True, *conds)).order_by(O.c.id.desc()).limit(limit))
        with self.db.reading() as conn:
            return list(conn.execute(q))

    def rooms_summary(self, since: date, today: date) -> list[RoomSummary]:
        """Every group the bot has seen with its members now and its check-ins from `since` to `today`: a count per
        group off ix_room_members_room (index only), and one per day and group walking ix_checkins_day_room in its
        own order (no sort, no DISTINCT: a member checks in once a day, so a day's count is its members)."""
        rm, c = ROOM_MEMBERS, CHECKINS
        with self.db.reading() as conn:
            members = {r.room_id: int(r.n) for r in conn.execute(
                select(rm.c.room_id, func.count().label("n")).where(rm.c.active.is_(True)).group_by(rm.c.room_id))}
            total: dict[str, int] = {}
            last: dict[str, int] = {}
            for r in conn.execute(select(c.c.day, c.c.room_id, func.count().label("n"))
                                  .where(c.c.day >= since, c.c.day <= today).group_by(c.c.day, c.c.room_id)):
                if r.room_id is None:
                    continue
                total[r.room_id] = total.get(r.room_id, 0) + int(r.n)
                if r.day == today:
                    last[r.room_id] = int(r.n)
            rooms = conn.execute(select(ROOMS).order_by(ROOMS.c.created_at, ROOMS.c.id)).all()
        return [RoomSummary(r.id, r.name, bool(r.active), members.get(r.id, 0), last.get(r.id, 0), total.get(r.id, 0))
                for r in rooms]

    def room(self, room: str) -> Any:
        with self.db.reading() as conn:
            return conn.execute(select(ROOMS).where(ROOMS.c.id == room)).first()

    def room_members(self, room: str, *, after: str | None = None, limit: int = 50) -> list[RoomMemberRow]:
        """The group's members now, by member id from `after` on (the primary key of room_members: keyset)."""
        rm, m = ROOM_MEMBERS, MEMBERS
        conds: list[Any] = [rm.c.room_id == room, rm.c.active.is_(True)]
        if after is not None:
            conds.append(rm.c.member_id > after)
        q = (select(rm.c.member_id, rm.c.joined_at, m.c.name, m.c.points, m.c.last_checkin)
             .select_from(rm.join(m, m.c.id == rm.c.member_id)).where(*conds).order_by(rm.c.member_id).limit(limit))
        with self.db.reading() as conn:
            return [RoomMemberRow(r.member_id, r.name, int(r.points), r.last_checkin, r.joined_at)
                    for r in conn.execute(q)]


def _entry(r: object) -> Entry:
    m = r._mapping  # type: ignore[attr-defined]
    return Entry(id=int(m["id"]), member=m["member_id"], delta=m["delta"], growth_delta=m["growth_delta"],
                 balance_after=m["balance_after"], kind=m["kind"], key=m["key"], at=m["at"], room=m["room_id"],
                 detail=m["detail"], campaign=m["campaign"], reverses=m["reverses"])


__all__ = ["Browse", "LedgerFilter", "RoomOf"]
