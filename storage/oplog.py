"""The operator log: every change an operator makes, in the same transaction as the change.

One log for every channel: the console (actor = the console user's name), a chat admin command (actor =
the admin's contact id) and the CLI (actor = the OS user running it), each with its kind. A row says who,
when, what (action, target, detail) and why (the reason the operator gave). Rows are never edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, select

from storage.db import Database
from storage.tables import OPERATOR_LOG

ActorKind = Literal["console", "chat", "cli"]
ACTOR_KINDS: tuple[str, ...] = ("console", "chat", "cli")


@dataclass(frozen=True)
class Op:
    id: int
    at: datetime
    actor_kind: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    reason: str


class OpLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, *, at: datetime, actor_kind: ActorKind, actor: str, action: str, target: str = "",
               detail: dict[str, Any] | None = None, reason: str = "") -> int:
        """Write one row in the open transaction (the change's own), or in a transaction of its own."""
        if actor_kind not in ACTOR_KINDS:
            raise ValueError(f"actor_kind must be one of {ACTOR_KINDS}, got {actor_kind!r}")
        if not actor:
            raise ValueError("an operator log row needs its actor")
        with self.db.transaction() as conn:
            res = conn.execute(insert(OPERATOR_LOG).values(
                at=at, actor_kind=actor_kind, actor=actor, action=action, target=target, detail=detail or {},
                reason=reason).returning(OPERATOR_LOG.c.id))
            return int(res.scalar_one())

    def page(self, *, before: int | None = None, limit: int = 50, target: str | None = None,
             actor_kind: str | None = None, action: str | None = None) -> list[Op]:
        """Newest first; `before` an id (keyset: the next page starts below the last row shown); `action`: only
        that kind of change (the 公告 screen lists the announcements)."""
        q = select(OPERATOR_LOG)
        if before is not None:
            q = q.where(OPERATOR_LOG.c.id < before)
        if target is not None:
            q = q.where(OPERATOR_LOG.c.target == target)
        if actor_kind is not None:
            q = q.where(OPERATOR_LOG.c.actor_kind == actor_kind)
        if action is not None:
            q = q.where(OPERATOR_LOG.c.action == action)
        q = q.order_by(OPERATOR_LOG.c.id.desc()).limit(limit)
        with self.db.reading() as conn:
            return [Op(id=r.id, at=r.at, actor_kind=r.actor_kind, actor=r.actor, action=r.action, target=r.target,
                       detail=dict(r.detail or {}), reason=r.reason) for r in conn.execute(q)]


__all__ = ["ACTOR_KINDS", "ActorKind", "Op", "OpLog"]
