"""Growth changes for the level-up announcer, tied to the open transaction, and the levels announced."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, select

from storage.db import Database, Locked, dialect_insert
from storage.ledger import Entry, Ledger
from storage.tables import LEVEL_UPS

_JOURNAL = "growth_changes"


class GrowthChange(NamedTuple):
    member: str
    before: int
    after: int


class Growth:
    """Notes every growth change (an entry hook) in a journal tied to its transaction: a savepoint or a
    transaction that rolls back drops its notes, so the announcer sees only growth that stands."""

    def __init__(self, ledger: Ledger) -> None:
        self.db: Database = ledger.db
        self._insert = dialect_insert(self.db.sqlite)
        ledger.entry_hooks.append(self._entries)

    def _entries(self, conn: Connection, locked: Locked, entries: Sequence[Entry]) -> None:
        grown = sum(e.growth_delta for e in entries)
        if grown:
            self.db.note(_JOURNAL, GrowthChange(locked.member, locked.growth, locked.growth + grown))

    def take(self) -> list[GrowthChange]:
        """The growth changes not taken yet, oldest first: of committed transactions and of the open one."""
        return self.db.take(_JOURNAL)

    def mark_level_up(self, member: str, levels: Sequence[str], at: datetime) -> bool:
        """Record `levels` (lowest first) as reached by `member`; True when the last, the highest, is new."""
        new = False
        with self.db.transaction() as conn:
            for name in levels:
                q = (self._insert(LEVEL_UPS).values(member_id=member, level=name, at=at).on_conflict_do_nothing()
                     .returning(LEVEL_UPS.c.level))  # psycopg reports no rowcount for this statement
                new = conn.execute(q).first() is not None
        return new

    def reached(self, member: str) -> list[str]:
        """The levels announced to `member`, ever."""
        with self.db.reading() as conn:
            return [r.level for r in conn.execute(select(LEVEL_UPS.c.level).where(LEVEL_UPS.c.member_id == member))]
