"""The bridge's durable edges: the inbox of accepted events (kept until handled) and the numbered out log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, func, insert, select

from storage.db import Database
from storage.tables import INBOX, OUT_LOG


class Accepted(NamedTuple):
    """An inbox row: an event accepted and not yet handled."""

    id: int
    line: str
    received_at: datetime


class Inbox:
    """Events written here are acknowledged; the pipeline deletes them once the batch that handled them committed."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, lines: Sequence[str], at: datetime) -> list[int]:
        """Store `lines` (received at `at`) in one transaction of their own; their ids, in order."""
        if not lines:
            return []
        # a transaction of its own even inside a batch: the caller answers "accepted" once this returns
        with self.db.engine.begin() as conn:
            rows = conn.execute(insert(INBOX).returning(INBOX.c.id, sort_by_parameter_order=True),
                                [{"line": line, "received_at": at} for line in lines])
            return [int(r.id) for r in rows]

    def waiting(self) -> list[Accepted]:
        """Every event accepted and not handled yet, oldest first (what a restart resumes)."""
        with self.db.reading() as conn:
            q = select(INBOX.c.id, INBOX.c.line, INBOX.c.received_at).order_by(INBOX.c.id)
            return [Accepted(int(r.id), r.line, r.received_at) for r in conn.execute(q)]

    def done(self, ids: Sequence[int]) -> None:
        """The events `ids` were handled (their batch committed): forget them."""
        if not ids:
            return
        with self.db.transaction() as conn:
            for i in range(0, len(ids), 500):  # stay under any bound-parameter limit
                conn.execute(delete(INBOX).where(INBOX.c.id.in_(list(ids[i:i + 500]))))


class OutLog:
    """The bridge's output lines, numbered once and for all; the oldest are trimmed, the last number never is."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, line: str, at: datetime) -> int:
        """Store `line` in a transaction of its own; its number (above every number given before)."""
        with self.db.engine.begin() as conn:
            return int(conn.execute(insert(OUT_LOG).values(line=line, at=at).returning(OUT_LOG.c.seq)).scalar_one())

    def last(self) -> int:
        """The highest number given so far (0 before the first line)."""
        with self.db.reading() as conn:
            return int(conn.execute(select(func.coalesce(func.max(OUT_LOG.c.seq), 0))).scalar_one())

    def recent(self, n: int) -> list[tuple[int, str]]:
        """The last `n` lines with their numbers, oldest first."""
        with self.db.reading() as conn:
            q = select(OUT_LOG.c.seq, OUT_LOG.c.line).order_by(OUT_LOG.c.seq.desc()).limit(n)
            return [(int(r.seq), r.line) for r in reversed(conn.execute(q).all())]

    def trim(self, keep: int) -> None:
        """Drop all but the last `keep` lines (the newest stays, so numbering goes on from it)."""
        with self.db.transaction() as conn:
            top = conn.execute(select(func.max(OUT_LOG.c.seq))).scalar_one()
            if top is not None:
                conn.execute(delete(OUT_LOG).where(OUT_LOG.c.seq <= int(top) - max(keep, 1)))
