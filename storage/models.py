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
    makeup: bool = False  # filled later by 补签, paid for in points


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
    campaign: str | None = None  # the campaign whose override paid this entry


class ProcessedEvent(SQLModel, table=True):
    """Source events already handled (message ids, join ids, scheduled runs): a replay is dropped."""

    __tablename__ = "processed_events"

    id: str = Field(primary_key=True)
    at: datetime = _ts(nullable=False)


class ActiveDay(SQLModel, table=True):
    """Local days on which the bot handled any event; a day missing here (bot down) breaks no streak."""

    __tablename__ = "active_days"

    day: date = Field(primary_key=True)


class Newcomer(SQLModel, table=True):
    """A join that may earn new-member points: paid on joining, or pending a 新人礼 claim."""

    __tablename__ = "newcomers"

    member_id: str = Field(primary_key=True, foreign_key="members.id")
    room_id: str = Field(primary_key=True)
    joined_at: datetime = _ts(nullable=False)
    status: str  # pending | paid | expired
    key: str = ""  # ledger key of the payment


class Invite(SQLModel, table=True):
    """Who brought whom into which group; `valid` invites are paid, `reversed` ones were clawed back."""

    __tablename__ = "invites"
    __table_args__ = (
        UniqueConstraint("event_id", "invitee_id", name="uq_invites_event_invitee"),
        Index("ix_invites_inviter", "inviter_id", "status"),
        Index("ix_invites_invitee", "invitee_id", "room_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    inviter_id: str = Field(foreign_key="members.id")
    invitee_id: str = Field(foreign_key="members.id")
    room_id: str
    joined_at: datetime = _ts(nullable=False)
    status: str  # valid | reversed | ineligible
    reason: str = ""  # why an invite is ineligible
    points: int = 0
    key: str = ""  # ledger key of the award
    reversed_at: datetime | None = _ts(nullable=True)


class TaskTier(SQLModel, table=True):
    """A tier of a task paid to a member; a reversed tier can be paid again (next generation)."""

    __tablename__ = "task_tiers"
    __table_args__ = (
        UniqueConstraint("member_id", "task_id", "tier_at", "generation", name="uq_task_tiers"),
        Index("ix_task_tiers_member", "member_id", "task_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    task_id: str
    tier_at: int
    generation: int
    points: int
    key: str
    paid_at: datetime = _ts(nullable=False)
    reversed_at: datetime | None = _ts(nullable=True)


class Profile(SQLModel, table=True):
    """What a member told the bot about themself; shown back only to that member."""

    __tablename__ = "profiles"

    member_id: str = Field(primary_key=True, foreign_key="members.id")
    data: str = "{}"  # JSON object: field -> value
    completed_at: datetime | None = _ts(nullable=True)


class Conversation(SQLModel, table=True):
    """A multi-step chat in progress, keyed by chat (room id, or "" for private) and member."""

    __tablename__ = "conversations"

    chat: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True)
    kind: str
    step: str = ""
    data: str = "{}"  # JSON
    expires_at: datetime = _ts(nullable=False)


class DailyCounter(SQLModel, table=True):
    """Per-member counters that reset each local day (wrong follow codes, ...)."""

    __tablename__ = "daily_counters"

    member_id: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    count: int = 0
