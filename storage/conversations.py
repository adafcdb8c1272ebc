"""Conversations in progress (multi-step chats) and per-member daily counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select

from storage.db import Database, dialect_insert, loaded_datetime
from storage.tables import CONVERSATIONS, DAILY_COUNTERS


@dataclass(frozen=True)
class Pending:
    """A multi-step chat in progress (STYLE 8): what it is, where it stands, until when."""

    chat: str
    member: str
    kind: str
    step: str
    data: dict[str, Any]
    expires_at: datetime


class Conversations:
    """Pending conversations keyed by chat (room id, or "" for private) and member; daily counters."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = dialect_insert(db.sqlite)
        # read for every message the pipeline handles: a hot-path statement, its JSON decoded by the column type
        self._get = db.statement("SELECT kind, step, data, expires_at FROM conversations "
                                 "WHERE chat = :chat AND member_id = :member")
        self._data = CONVERSATIONS.c.data.type.result_processor(db.dialect, None)

    def pending(self, chat: str, member: str, at: datetime) -> Pending | None:
        """The conversation in progress in `chat` ("" = private) with `member`; an expired one is dropped."""
        with self.db.transaction() as conn:
            row = self._get.run(conn, chat=chat, member=member).fetchone()
            if row is None:
                return None
            expires = loaded_datetime(row[3])
            if expires <= at:
                self.clear_pending(chat, member)
                return None
            data: Any = self._data(row[2]) if self._data is not None else row[2]
            return Pending(chat=chat, member=member, kind=row[0], step=row[1], data=dict(data), expires_at=expires)

    def set_pending(self, chat: str, member: str, kind: str, step: str, data: dict[str, Any], expires_at: datetime) -> None:
        values = {"kind": kind, "step": step, "data": data, "expires_at": expires_at}
        q = self._insert(CONVERSATIONS).values(chat=chat, member_id=member, **values)
        with self.db.transaction() as conn:
            conn.execute(q.on_conflict_do_update(index_elements=["chat", "member_id"], set_=values))

    def clear_pending(self, chat: str, member: str) -> bool:
        C = CONVERSATIONS
        with self.db.transaction() as conn:
            return bool(conn.execute(delete(C).where(C.c.chat == chat, C.c.member_id == member)).rowcount)

    # -- daily counters -------------------------------------------------------------------------

    def bump(self, member: str, kind: str, day: date) -> int:
        """Add one to today's counter `kind` of `member`; returns the new count."""
        D = DAILY_COUNTERS
        q = self._insert(D).values(member_id=member, kind=kind, day=day, count=1)
        with self.db.transaction() as conn:
            conn.execute(q.on_conflict_do_update(index_elements=["member_id", "kind", "day"],
                                                 set_={"count": D.c.count + 1}))
            return int(conn.execute(select(D.c.count).where(D.c.member_id == member, D.c.kind == kind,
                                                            D.c.day == day)).scalar_one())

    def counter(self, member: str, kind: str, day: date) -> int:
        D = DAILY_COUNTERS
        with self.db.transaction() as conn:
            n = conn.execute(select(D.c.count).where(D.c.member_id == member, D.c.kind == kind, D.c.day == day)).scalar()
            return int(n or 0)


__all__ = ["Conversations", "Pending"]
