"""冻结 / 解冻: a member caught cheating earns nothing from any rule and cannot redeem until unfrozen.

The flag lives on the member's row (`members.frozen`), so the money verbs read it in the locked read they
already make (storage.db.lock_member) and refuse there (storage.ledger.refuse_frozen, MemberFrozen): no
statement is added to the check-in path, and every process sharing a PostgreSQL database sees a freeze the
moment it commits. `member_freezes` keeps who froze or unfroze whom, why and when; no ledger line moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from storage.db import Database, lock_member
from storage.oplog import OpLog
from storage.tables import MEMBER_FREEZES, MEMBERS

F = MEMBER_FREEZES
M = MEMBERS


@dataclass(frozen=True)
class Change:
    """One 冻结 / 解冻 as recorded: `changed` False when the member already stood so (nothing written)."""

    member: str
    action: str  # freeze | unfreeze
    actor: str
    actor_kind: str
    reason: str
    at: datetime
    changed: bool
    record: int | None = None  # member_freezes.id of the row written


class Freezes:
    """The verbs the chat commands (and later the console) call; each is one transaction (or the batch's)."""

    def __init__(self, db: Database, oplog: OpLog | None = None) -> None:
        self.db = db
        self.oplog = oplog  # every freeze and unfreeze is also in the operator log, in the same transaction

    def freeze(self, member: str, *, actor: str, reason: str, at: datetime, actor_kind: str = "chat") -> Change:
        """Freeze `member` (LookupError for a member never seen); the reason is required (ValueError)."""
        return self._set(member, True, actor=actor, reason=reason, at=at, actor_kind=actor_kind)

    def unfreeze(self, member: str, *, actor: str, reason: str, at: datetime, actor_kind: str = "chat") -> Change:
        return self._set(member, False, actor=actor, reason=reason, at=at, actor_kind=actor_kind)

    def _set(self, member: str, frozen: bool, *, actor: str, reason: str, at: datetime, actor_kind: str) -> Change:
        reason = reason.strip()
        if not reason:
            raise ValueError("a freeze or unfreeze needs a reason")
        action = "freeze" if frozen else "unfreeze"
        with self.db.transaction() as conn:
            locked = lock_member(conn, member)  # the same lock the money verbs take: they see it in order
            if locked.frozen == frozen:
                return Change(member, action, actor, actor_kind, reason, at, changed=False)
            conn.execute(update(M).where(M.c.id == member).values(frozen=frozen, frozen_told=False))
            done = conn.execute(insert(F).values(member_id=member, action=action, actor=actor, actor_kind=actor_kind,
                                                 reason=reason, at=at))
            record = int((done.inserted_primary_key or (0,))[0])
            if self.oplog is not None:
                self.oplog.record(at=at, actor_kind=actor_kind, actor=actor, action=action,  # type: ignore[arg-type]
                                  target=member, detail={"record": record}, reason=reason)
            return Change(member, action, actor, actor_kind, reason, at, changed=True, record=record)

    def tell_once(self, member: str) -> bool:
        """True the first time this is asked since `member` was frozen (they are told then), False after."""
        with self.db.transaction() as conn:
            done = conn.execute(update(M).where(M.c.id == member, M.c.frozen.is_(True), M.c.frozen_told.is_(False))
                                .values(frozen_told=True))
            return bool(done.rowcount)

    def is_frozen(self, member: str) -> bool:
        with self.db.reading() as conn:
            return bool(conn.execute(select(M.c.frozen).where(M.c.id == member)).scalar())

    def frozen(self) -> list[str]:
        """Every frozen member's id."""
        with self.db.reading() as conn:
            return [r[0] for r in conn.execute(select(M.c.id).where(M.c.frozen.is_(True)).order_by(M.c.id))]

    def history(self, member: str | None = None) -> list[Change]:
        with self.db.reading() as conn:
            q = select(F).order_by(F.c.id)
            if member is not None:
                q = q.where(F.c.member_id == member)
            return [Change(r.member_id, r.action, r.actor, r.actor_kind, r.reason, r.at, True, int(r.id))
                    for r in conn.execute(q)]

    @staticmethod
    def audit(conn: Connection) -> list[str]:
        """A member is frozen exactly when their last recorded change is a freeze."""
        last = (select(F.c.member_id, func.max(F.c.id).label("id")).group_by(F.c.member_id).subquery())
        latest = {r.member_id: r.action for r in conn.execute(
            select(F.c.member_id, F.c.action).join(last, last.c.id == F.c.id))}
        should = {m for m, action in latest.items() if action == "freeze"}
        stands = {r[0] for r in conn.execute(select(M.c.id).where(M.c.frozen.is_(True)))}
        return [f"member {m}: {'frozen without a freeze record' if m in stands else 'frozen by its record, not on its row'}"
                for m in sorted(should ^ stands)]


__all__ = ["Change", "Freezes"]
