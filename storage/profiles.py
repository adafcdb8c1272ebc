"""Member profiles (phone, birthday, city...): saved field by field, read back only for their owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from storage.db import Database
from storage.tables import PROFILES


@dataclass(frozen=True)
class ProfileView:
    member: str
    data: dict[str, str]
    completed_at: datetime | None


class Profiles:
    """Profile verbs on the shared database, so they join the pipeline's transaction and savepoints."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, member: str) -> ProfileView | None:
        with self.db.reading() as conn:
            row = conn.execute(select(PROFILES).where(PROFILES.c.member_id == member)).first()
            return ProfileView(member=row.member_id, data=dict(row.data), completed_at=row.completed_at) if row else None

    def save(self, member: str, values: dict[str, str]) -> dict[str, str]:
        """Merge `values` into the member's profile; returns the whole profile as it now stands."""
        P = PROFILES
        with self.db.transaction() as conn:
            row = conn.execute(select(P).where(P.c.member_id == member).with_for_update()).first()
            if row is None:
                data = dict(sorted(values.items()))
                conn.execute(insert(P).values(member_id=member, data=data, completed_at=None))
            else:
                data = dict(sorted({**row.data, **values}.items()))
                conn.execute(update(P).where(P.c.member_id == member).values(data=data))
            return data

    def mark_complete(self, member: str, at: datetime) -> bool:
        """Record when the profile was first complete; False when it was complete before."""
        P = PROFILES
        with self.db.transaction() as conn:
            res = conn.execute(update(P).where(P.c.member_id == member, P.c.completed_at.is_(None)).values(completed_at=at))
            return bool(res.rowcount)
