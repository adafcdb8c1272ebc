"""The bot's tables as SQLAlchemy Core: GENERATED from storage/models.py by `python -m storage.gen_tables`. Do not edit.

storage/models.py (SQLModel) is the declared schema, which alembic's revisions are made from; this module is
the same tables without sqlmodel or the ORM, for the code that runs. After changing models.py, run
`python -m storage.gen_tables` (tests/storage/test_tables.py fails until you do).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    false,
)

from storage.types import UTCDateTime

METADATA = MetaData()

MEMBERS = Table(
    "members", METADATA,
    Column("id", String(), primary_key=True, nullable=False),
    Column("name", String(), nullable=False, default=""),
    Column("points", Integer(), nullable=False, default=0),
    Column("growth", Integer(), nullable=False, default=0),
    Column("checkin_days", Integer(), nullable=False, default=0),
    Column("checkin_streak", Integer(), nullable=False, default=0),
    Column("last_checkin", Date(), nullable=True),
    Column("points_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("frozen", Boolean(), nullable=False, default=False, server_default=false()),
    Column("frozen_told", Boolean(), nullable=False, default=False, server_default=false()),
    Index("ix_members_created_at", "created_at"),
    Index("ix_members_name", "name"),
    Index("ix_members_points", "points"),
)

MEMBER_FREEZES = Table(
    "member_freezes", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), nullable=False),
    Column("action", String(), nullable=False),
    Column("actor", String(), nullable=False),
    Column("actor_kind", String(), nullable=False, default="chat"),
    Column("reason", String(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    CheckConstraint("action IN ('freeze', 'unfreeze')", name="ck_member_freezes_action"),
    Index("ix_member_freezes_member", "member_id", "id"),
)

ROOMS = Table(
    "rooms", METADATA,
    Column("id", String(), primary_key=True, nullable=False),
    Column("name", String(), nullable=False, default=""),
    Column("active", Boolean(), nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

ROOM_MEMBERS = Table(
    "room_members", METADATA,
    Column("room_id", String(), ForeignKey("rooms.id"), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), primary_key=True, nullable=False),
    Column("active", Boolean(), nullable=False, default=True),
    Column("joined_at", UTCDateTime(), nullable=False),
    Column("left_at", UTCDateTime(), nullable=True),
    Index("ix_room_members_member", "member_id", "active"),
    Index("ix_room_members_room", "room_id", "active"),
)

CHECKINS = Table(
    "checkins", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), nullable=False),
    Column("day", Date(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("room_id", String(), nullable=True),
    Column("streak", Integer(), nullable=False),
    Column("total_days", Integer(), nullable=False),
    Column("points", Integer(), nullable=False),
    Column("makeup", Boolean(), nullable=False, default=False),
    UniqueConstraint("member_id", "day", name="uq_checkins_member_day"),
    Index("ix_checkins_day", "day", "makeup"),
    Index("ix_checkins_day_room", "day", "room_id", "member_id"),
)

LEDGER = Table(
    "ledger", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), nullable=False),
    Column("delta", Integer(), nullable=False),
    Column("growth_delta", Integer(), nullable=False, default=0),
    Column("balance_after", Integer(), nullable=False),
    Column("kind", String(), nullable=False),
    Column("key", String(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("room_id", String(), nullable=True),
    Column("detail", String(), nullable=False, default=""),
    Column("campaign", String(), nullable=True),
    Column("reverses", Integer(), nullable=True),
    UniqueConstraint("key", name="uq_ledger_key"),
    Index("ix_ledger_at", "at"),
    Index("ix_ledger_member_id", "member_id", "id"),
    Index("uq_ledger_reverses", "reverses", unique=True),
)

PROCESSED_EVENTS = Table(
    "processed_events", METADATA,
    Column("id", String(), primary_key=True, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

ACTIVE_DAYS = Table(
    "active_days", METADATA,
    Column("day", Date(), primary_key=True, nullable=False),
)

MEMBER_DAYS = Table(
    "member_days", METADATA,
    Column("member_id", String(), primary_key=True, nullable=False),
    Column("day", Date(), primary_key=True, nullable=False),
    sqlite_with_rowid=False,
)

NEWCOMERS = Table(
    "newcomers", METADATA,
    Column("member_id", String(), ForeignKey("members.id"), primary_key=True, nullable=False),
    Column("room_id", String(), primary_key=True, nullable=False),
    Column("joined_at", UTCDateTime(), nullable=False),
    Column("status", String(), nullable=False),
    Column("key", String(), nullable=False, default=""),
)

INVITES = Table(
    "invites", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("event_id", String(), nullable=False),
    Column("inviter_id", String(), ForeignKey("members.id"), nullable=False),
    Column("invitee_id", String(), ForeignKey("members.id"), nullable=False),
    Column("room_id", String(), nullable=False),
    Column("joined_at", UTCDateTime(), nullable=False),
    Column("status", String(), nullable=False),
    Column("reason", String(), nullable=False, default=""),
    Column("points", Integer(), nullable=False, default=0),
    Column("key", String(), nullable=False, default=""),
    Column("reversed_at", UTCDateTime(), nullable=True),
    UniqueConstraint("event_id", "invitee_id", name="uq_invites_event_invitee"),
    Index("ix_invites_invitee", "invitee_id", "room_id"),
    Index("ix_invites_inviter", "inviter_id", "status"),
)

TASK_TIERS = Table(
    "task_tiers", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), nullable=False),
    Column("task_id", String(), nullable=False),
    Column("tier_at", Integer(), nullable=False),
    Column("generation", Integer(), nullable=False),
    Column("points", Integer(), nullable=False),
    Column("key", String(), nullable=False),
    Column("paid_at", UTCDateTime(), nullable=False),
    Column("reversed_at", UTCDateTime(), nullable=True),
    UniqueConstraint("member_id", "task_id", "tier_at", "generation", name="uq_task_tiers"),
    Index("ix_task_tiers_member", "member_id", "task_id"),
)

PROFILES = Table(
    "profiles", METADATA,
    Column("member_id", String(), ForeignKey("members.id"), primary_key=True, nullable=False),
    Column("data", JSON(), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=True),
)

CONVERSATIONS = Table(
    "conversations", METADATA,
    Column("chat", String(), primary_key=True, nullable=False),
    Column("member_id", String(), primary_key=True, nullable=False),
    Column("kind", String(), nullable=False),
    Column("step", String(), nullable=False, default=""),
    Column("data", JSON(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

MALL_ITEMS = Table(
    "mall_items", METADATA,
    Column("sku", String(), primary_key=True, nullable=False),
    Column("name", String(), nullable=False),
    Column("kind", String(), nullable=False),
    Column("points", Integer(), nullable=False),
    Column("cash", Integer(), nullable=False, default=0),
    Column("stock", Integer(), nullable=True),
    Column("supplied", Integer(), nullable=True),
    Column("sold", Integer(), nullable=False, default=0),
    Column("limit_per_member", Integer(), nullable=False, default=0),
    Column("starts", UTCDateTime(), nullable=True),
    Column("ends", UTCDateTime(), nullable=True),
    Column("min_level", String(), nullable=False, default=""),
    Column("detail", JSON(), nullable=False),
    Column("position", Integer(), nullable=False, default=0),
    Column("in_config", Boolean(), nullable=False, default=True),
    Column("listed", Boolean(), nullable=False, default=True),
    Column("first_seen", UTCDateTime(), nullable=True),
    CheckConstraint("stock IS NULL OR stock >= 0", name="ck_mall_items_stock"),
    CheckConstraint("sold >= 0", name="ck_mall_items_sold"),
)

MALL_CODES = Table(
    "mall_codes", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("sku", String(), ForeignKey("mall_items.sku"), nullable=False),
    Column("code", String(), nullable=False),
    Column("order_id", Integer(), nullable=True),
    Column("imported_at", UTCDateTime(), nullable=False),
    UniqueConstraint("sku", "code", name="uq_mall_codes_sku_code"),
    Index("ix_mall_codes_free", "sku", "order_id", "id"),
)

MALL_ORDERS = Table(
    "mall_orders", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), nullable=False),
    Column("sku", String(), ForeignKey("mall_items.sku"), nullable=False),
    Column("name", String(), nullable=False),
    Column("kind", String(), nullable=False),
    Column("points", Integer(), nullable=False),
    Column("cash", Integer(), nullable=False, default=0),
    Column("status", String(), nullable=False),
    Column("key", String(), nullable=False),
    Column("room_id", String(), nullable=True),
    Column("code_id", Integer(), nullable=True),
    Column("secret", String(), nullable=False, default=""),
    Column("expires_on", Date(), nullable=True),
    Column("recipient", String(), nullable=False, default=""),
    Column("phone", String(), nullable=False, default=""),
    Column("address", String(), nullable=False, default=""),
    Column("tracking", String(), nullable=False, default=""),
    Column("note", String(), nullable=False, default=""),
    Column("restocked", Boolean(), nullable=False, default=False),
    Column("pay_by", UTCDateTime(), nullable=True),
    Column("paid_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("key", name="uq_mall_orders_key"),
    Index("ix_mall_orders_buyer", "member_id", "created_at", "status"),
    Index("ix_mall_orders_items", "sku", "created_at", "status", "points", "name"),
    Index("ix_mall_orders_member", "member_id", "sku", "status"),
    Index("ix_mall_orders_status", "status", "pay_by"),
    Index("ix_mall_orders_status_id", "status", "id"),
)

MALL_DELIVERIES = Table(
    "mall_code_deliveries", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("code_id", Integer(), ForeignKey("mall_codes.id"), nullable=False),
    Column("order_id", Integer(), ForeignKey("mall_orders.id"), nullable=False),
    Column("member_id", String(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("order_id", name="uq_mall_code_deliveries_order"),
    Index("ix_mall_code_deliveries_code", "code_id", "id"),
)

MALL_RETURNS = Table(
    "mall_code_returns", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("code_id", Integer(), ForeignKey("mall_codes.id"), nullable=False),
    Column("order_id", Integer(), ForeignKey("mall_orders.id"), nullable=False),
    Column("operator_id", String(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("note", String(), nullable=False, default=""),
    UniqueConstraint("order_id", name="uq_mall_code_returns_order"),
    Index("ix_mall_code_returns_code", "code_id"),
)

DAILY_COUNTERS = Table(
    "daily_counters", METADATA,
    Column("member_id", String(), primary_key=True, nullable=False),
    Column("kind", String(), primary_key=True, nullable=False),
    Column("day", Date(), primary_key=True, nullable=False),
    Column("count", Integer(), nullable=False, default=0),
)

LEVEL_UPS = Table(
    "level_ups", METADATA,
    Column("member_id", String(), ForeignKey("members.id"), primary_key=True, nullable=False),
    Column("level", String(), primary_key=True, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

PERIOD_SUMS = Table(
    "period_sums", METADATA,
    Column("period", String(), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), primary_key=True, nullable=False),
    Column("points", Integer(), nullable=False, default=0),
    Column("reached_at", UTCDateTime(), nullable=False),
    Index("ix_period_sums_board", "period", "points", "reached_at"),
    Index("ix_period_sums_member", "member_id"),
)

LEDGER_HOURS = Table(
    "ledger_hours", METADATA,
    Column("hour", UTCDateTime(), primary_key=True, nullable=False),
    Column("kind", String(), primary_key=True, nullable=False),
    Column("shard", Integer(), primary_key=True, nullable=False),
    Column("delta", Integer(), nullable=False, default=0),
    Column("growth_delta", Integer(), nullable=False, default=0),
    Column("entries", Integer(), nullable=False, default=0),
)

CHECKIN_COUNTS = Table(
    "checkin_counts", METADATA,
    Column("day", Date(), primary_key=True, nullable=False),
    Column("shard", Integer(), primary_key=True, nullable=False),
    Column("n", Integer(), nullable=False, default=0),
)

BOARD_COUNTS = Table(
    "board_counts", METADATA,
    Column("board", String(), primary_key=True, nullable=False),
    Column("room", String(), primary_key=True, nullable=False),
    Column("score", Integer(), primary_key=True, nullable=False),
    Column("n", Integer(), nullable=False, default=0),
)

QUIZ_ROUNDS = Table(
    "quiz_rounds", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("key", String(), nullable=False),
    Column("number", Integer(), nullable=False),
    Column("question", String(), nullable=False),
    Column("answers", JSON(), nullable=False),
    Column("points", Integer(), nullable=False),
    Column("winners", Integer(), nullable=False),
    Column("rooms", JSON(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("closed", Boolean(), nullable=False, default=False),
    UniqueConstraint("key", name="uq_quiz_rounds_key"),
    Index("ix_quiz_rounds_open", "closed", "ends_at"),
)

QUIZ_ANSWERS = Table(
    "quiz_answers", METADATA,
    Column("round_id", Integer(), ForeignKey("quiz_rounds.id"), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), primary_key=True, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("correct", Boolean(), nullable=False),
    Column("place", Integer(), nullable=True),
)

POINT_LOTS = Table(
    "point_lots", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("member_id", String(), ForeignKey("members.id"), nullable=False),
    Column("entry_id", Integer(), nullable=True),
    Column("points", Integer(), nullable=False),
    Column("remaining", Integer(), nullable=False),
    Column("earned_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("warned", Boolean(), nullable=False, default=False),
    CheckConstraint("remaining >= 0 AND remaining <= points", name="ck_point_lots_remaining"),
    Index("ix_point_lots_due", "expires_at", "remaining"),
    Index("ix_point_lots_entry", "entry_id"),
    Index("ix_point_lots_member", "member_id", "expires_at", "id"),
)

LOT_USES = Table(
    "lot_uses", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("entry_id", Integer(), nullable=True),
    Column("lot_id", Integer(), ForeignKey("point_lots.id"), nullable=False),
    Column("points", Integer(), nullable=False),
    Index("ix_lot_uses_entry", "entry_id"),
    Index("ix_lot_uses_lot", "lot_id"),
)

INBOX = Table(
    "inbox", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("line", String(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

OUT_LOG = Table(
    "out_log", METADATA,
    Column("seq", Integer(), primary_key=True, nullable=False),
    Column("line", String(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

CONSOLE_USERS = Table(
    "console_users", METADATA,
    Column("name", String(), primary_key=True, nullable=False),
    Column("password_hash", String(), nullable=False),
    Column("role", String(), nullable=False),
    Column("disabled", Boolean(), nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

CONSOLE_STATE = Table(
    "console_state", METADATA,
    Column("name", String(), primary_key=True, nullable=False),
    Column("value", String(), nullable=False),
)

OPERATOR_LOG = Table(
    "operator_log", METADATA,
    Column("id", Integer(), primary_key=True, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_kind", String(), nullable=False),
    Column("actor", String(), nullable=False),
    Column("action", String(), nullable=False),
    Column("target", String(), nullable=False, default=""),
    Column("detail", JSON(), nullable=False),
    Column("reason", String(), nullable=False, default=""),
    Index("ix_operator_log_target", "target", "id"),
)
