"""Every table of the bot, with its constraints; datetimes are stored in UTC and come back aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which has no zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use bot.clock")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


class Member(SQLModel, table=True):
    """A contact who has taken part, with the stored balance kept beside the ledger."""

    __tablename__ = "members"
    __table_args__ = (Index("ix_members_points", "points"),)

    id: str = Field(primary_key=True)  # WeChat contact id, never a nickname
    name: str = ""
    points: int = 0  # stored balance == sum of the member's ledger deltas (audit checks)
    growth: int = 0  # 成长值: sum of growth deltas; spending never lowers it
    checkin_days: int = 0
    checkin_streak: int = 0
    last_checkin: date | None = None
    points_at: datetime | None = _ts(nullable=True)  # when the balance last changed: ties on boards
    created_at: datetime = _ts(nullable=False)


class Room(SQLModel, table=True):
    """A group the bot has seen."""

    __tablename__ = "rooms"

    id: str = Field(primary_key=True)
    name: str = ""
    active: bool = True
    created_at: datetime = _ts(nullable=False)


class RoomMember(SQLModel, table=True):
    """Who is (or was) in which group."""

    __tablename__ = "room_members"

    room_id: str = Field(primary_key=True, foreign_key="rooms.id")
    member_id: str = Field(primary_key=True, foreign_key="members.id")
    active: bool = True
    joined_at: datetime = _ts(nullable=False)
    left_at: datetime | None = _ts(nullable=True)


class Checkin(SQLModel, table=True):
    """One check-in: at most one per member per local day, whichever group it came from."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("member_id", "day", name="uq_checkins_member_day"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    day: date
    at: datetime = _ts(nullable=False)
    room_id: str | None = None
    streak: int
    total_days: int
    points: int


class LedgerEntry(SQLModel, table=True):
    """An append-only ledger line; corrections are new lines, never edits."""

    __tablename__ = "ledger"
    __table_args__ = (
        UniqueConstraint("key", name="uq_ledger_key"),
        Index("ix_ledger_member_id", "member_id", "id"),
        Index("ix_ledger_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    delta: int
    growth_delta: int = 0
    balance_after: int
    kind: str
    key: str  # idempotency key derived from the source event
    at: datetime = _ts(nullable=False)
    room_id: str | None = None
    detail: str = ""


class ProcessedEvent(SQLModel, table=True):
    """Source events already handled (message ids, join ids, scheduled runs): a replay is dropped."""

    __tablename__ = "processed_events"

    id: str = Field(primary_key=True)
    at: datetime = _ts(nullable=False)
