"""Member profiles (phone, birthday, city...): saved field by field, read back only for their owner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from storage.ledger import Ledger
from storage.models import Profile

PR = Profile.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ProfileView:
    member: str
    data: dict[str, str]
    completed_at: datetime | None


class Profiles:
    """Profile verbs on the ledger's connection, so they share the pipeline's transaction and savepoints."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get(self, member: str) -> ProfileView | None:
        with self.ledger.reading() as conn:
            row = conn.execute(select(PR).where(PR.c.member_id == member)).first()
            return _view(row) if row else None

    def save(self, member: str, values: dict[str, str]) -> dict[str, str]:
        """Merge `values` into the member's profile; returns the whole profile as it now stands."""
        with self.ledger.transaction() as conn:
            row = conn.execute(select(PR).where(PR.c.member_id == member).with_for_update()).first()
            if row is None:
                data = dict(values)
                conn.execute(insert(PR).values(member_id=member, data=_dump(data), completed_at=None))
            else:
                data = {**_load(row.data), **values}
                conn.execute(update(PR).where(PR.c.member_id == member).values(data=_dump(data)))
            return data

    def mark_complete(self, member: str, at: datetime) -> bool:
        """Record when the profile was first complete; False when it was complete before."""
        with self.ledger.transaction() as conn:
            res = conn.execute(
                update(PR).where(PR.c.member_id == member, PR.c.completed_at.is_(None)).values(completed_at=at)
            )
            return bool(res.rowcount)


def _load(raw: Any) -> dict[str, str]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _dump(data: dict[str, str]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _view(row: Any) -> ProfileView:
    return ProfileView(member=row.member_id, data=_load(row.data), completed_at=row.completed_at)
