"""Who leads the scheduler when several bot processes share one PostgreSQL database.

Every scheduled run is claimed once in the database, so any process may fire it; but then every process
renders and claims every run. One leader is enough: the process holding a session-level advisory lock
(`pg_try_advisory_lock`) on a connection of its own. The lock goes with the connection, so a leader that dies
or loses its link hands over by itself; the others try again each time they look. On SQLite (one process on
one file, by design) every process leads.
"""

from __future__ import annotations

import contextlib
from typing import Any

from loguru import logger
from sqlalchemy import Engine, text

# the advisory lock's first key: a fixed 32-bit number nothing else on the database uses ("qjfs"); the second
# is the schema's hash, so two programmes in two schemas of one database each have a leader
LOCK_KEY = 0x716A_6673
_TRY = "SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"
_UNLOCK = "SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"


class Leadership:
    """`held()`: whether this process leads now (taking the lead when it is free)."""

    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self.sqlite = engine.dialect.name == "sqlite"
        self._conn: Any = None
        self.leading = self.sqlite

    def held(self) -> bool:
        if self.sqlite:
            return True
        try:
            if self._conn is None:
                self._conn = self.engine.connect()
            if self.leading:
                self._conn.execute(text("SELECT 1")).scalar()  # the lock lives as long as this connection
                self._conn.commit()
                return True
            got = bool(self._conn.execute(text(_TRY), {"k": self.key}).scalar())
            self._conn.commit()  # the lock is the session's; no transaction is left open beside it
        except Exception as exc:  # a lost link loses the lock with it: look again next time
            if self.leading:
                logger.warning("scheduler: lost the lead ({}); another process may take it", type(exc).__name__)
            self.leading = False
            self._drop()
            return False
        if got:
            logger.info("scheduler: this process leads the scheduled posts")
        self.leading = got
        return got

    def release(self) -> None:
        if self.sqlite or self._conn is None:
            return
        try:
            if self.leading:
                self._conn.execute(text(_UNLOCK), {"k": self.key})
                self._conn.commit()
        except Exception:
            pass  # closing the connection releases it all the same
        self.leading = False
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
