"""baseline: the schema of release 0.1, adopting databases written before schema versions

A database written before schema versions has some or all of these tables and no alembic_version; on it
this revision creates only what is missing, adds mall_items.first_seen (added in place by release 0.1,
NULL: not new) and fills period_sums from the ledger when they are empty (a database from before
周榜/月榜), then alembic stamps it 0001. On an empty database it is plain CREATE TABLE.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)  # storage.types.UTCDateTime stores this


def upgrade() -> None:
    bind = op.get_bind()
    had = set(sa.inspect(bind).get_table_names())
    if "mall_items" in had and "first_seen" not in {c["name"] for c in sa.inspect(bind).get_columns("mall_items")}:
        op.add_column("mall_items", sa.Column("first_seen", TS, nullable=True))
    _tables()
    _backfill_period_sums(bind, context.config.attributes.get("tz") or ZoneInfo("Asia/Shanghai"))


def _index(name: str, table: str, columns: list[str]) -> None:
    op.create_index(name, table, columns, unique=False, if_not_exists=True)


def _tables() -> None:
    op.create_table(
        "active_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
        if_not_exists=True,
    )
    op.create_table(
        "conversations",
        sa.Column("chat", sa.String(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("data", sa.String(), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("chat", "member_id"),
        if_not_exists=True,
    )
    op.create_table(
        "daily_counters",
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "kind", "day"),
        if_not_exists=True,
    )
    op.create_table(
        "mall_items",
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("cash", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("limit_per_member", sa.Integer(), nullable=False),
        sa.Column("starts", TS, nullable=True),
        sa.Column("ends", TS, nullable=True),
        sa.Column("min_level", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("in_config", sa.Boolean(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("first_seen", TS, nullable=True),
        sa.PrimaryKeyConstraint("sku"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="ck_mall_items_stock"),
        sa.CheckConstraint("sold >= 0", name="ck_mall_items_sold"),
        if_not_exists=True,
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("growth", sa.Integer(), nullable=False),
        sa.Column("checkin_days", sa.Integer(), nullable=False),
        sa.Column("checkin_streak", sa.Integer(), nullable=False),
        sa.Column("last_checkin", sa.Date(), nullable=True),
        sa.Column("points_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    _index("ix_members_points", "members", ["points"])

    op.create_table(
        "processed_events",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_table(
        "quiz_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("answers", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("winners", sa.Integer(), nullable=False),
        sa.Column("rooms", sa.String(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_quiz_rounds_key"),
        if_not_exists=True,
    )
    _index("ix_quiz_rounds_open", "quiz_rounds", ["closed", "ends_at"])

    op.create_table(
        "rooms",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("room_id", sa.String(), nullable=True),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("total_days", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("makeup", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "day", name="uq_checkins_member_day"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("inviter_id", sa.String(), nullable=False),
        sa.Column("invitee_id", sa.String(), nullable=False),
        sa.Column("room_id", sa.String(), nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("reversed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "invitee_id", name="uq_invites_event_invitee"),
        sa.ForeignKeyConstraint(["inviter_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["invitee_id"], ["members.id"]),
        if_not_exists=True,
    )
    _index("ix_invites_invitee", "invites", ["invitee_id", "room_id"])
    _index("ix_invites_inviter", "invites", ["inviter_id", "status"])

    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("growth_delta", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("room_id", sa.String(), nullable=True),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("campaign", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_ledger_key"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    _index("ix_ledger_at", "ledger", ["at"])
    _index("ix_ledger_member_id", "ledger", ["member_id", "id"])

    op.create_table(
        "level_ups",
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("member_id", "level"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    op.create_table(
        "mall_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sku", "code", name="uq_mall_codes_sku_code"),
        sa.ForeignKeyConstraint(["sku"], ["mall_items.sku"]),
        if_not_exists=True,
    )
    _index("ix_mall_codes_free", "mall_codes", ["sku", "order_id", "id"])

    op.create_table(
        "mall_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("cash", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("room_id", sa.String(), nullable=True),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("tracking", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("pay_by", TS, nullable=True),
        sa.Column("paid_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_mall_orders_key"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["sku"], ["mall_items.sku"]),
        if_not_exists=True,
    )
    _index("ix_mall_orders_member", "mall_orders", ["member_id", "sku", "status"])
    _index("ix_mall_orders_status", "mall_orders", ["status", "pay_by"])

    op.create_table(
        "newcomers",
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("room_id", sa.String(), nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "room_id"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    op.create_table(
        "period_sums",
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reached_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("period", "member_id"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    _index("ix_period_sums_board", "period_sums", ["period", "points", "reached_at"])

    op.create_table(
        "point_lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("earned_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("remaining >= 0 AND remaining <= points", name="ck_point_lots_remaining"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    _index("ix_point_lots_due", "point_lots", ["expires_at", "remaining"])
    _index("ix_point_lots_entry", "point_lots", ["entry_id"])
    _index("ix_point_lots_member", "point_lots", ["member_id", "expires_at", "id"])

    op.create_table(
        "profiles",
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("data", sa.String(), nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("member_id"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    op.create_table(
        "quiz_answers",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("place", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("round_id", "member_id"),
        sa.ForeignKeyConstraint(["round_id"], ["quiz_rounds.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    op.create_table(
        "room_members",
        sa.Column("room_id", sa.String(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("left_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("room_id", "member_id"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    op.create_table(
        "task_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("tier_at", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("paid_at", TS, nullable=False),
        sa.Column("reversed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "task_id", "tier_at", "generation", name="uq_task_tiers"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        if_not_exists=True,
    )
    _index("ix_task_tiers_member", "task_tiers", ["member_id", "task_id"])

    op.create_table(
        "lot_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["lot_id"], ["point_lots.id"]),
        if_not_exists=True,
    )
    _index("ix_lot_uses_entry", "lot_uses", ["entry_id"])
    _index("ix_lot_uses_lot", "lot_uses", ["lot_id"])


def _periods(day: date) -> tuple[str, str]:
    """The period_sums keys of the local week (from Monday) and month of `day`, as storage.ledger makes them."""
    monday = day - timedelta(days=day.weekday())
    return f"week:{monday.isoformat()}", f"month:{day.replace(day=1).isoformat()}"


def _backfill_period_sums(bind: Any, tz: ZoneInfo) -> None:
    """Growth per member and local week and month from the ledger, when period_sums is empty."""
    ledger = sa.table("ledger", sa.column("id", sa.Integer), sa.column("member_id", sa.String),
                      sa.column("growth_delta", sa.Integer), sa.column("at", TS))
    sums_t = sa.table("period_sums", sa.column("period", sa.String), sa.column("member_id", sa.String),
                      sa.column("points", sa.Integer), sa.column("reached_at", TS))
    if bind.execute(sa.select(sums_t.c.member_id).limit(1)).first() is not None:
        return
    sums: dict[tuple[str, str], list[Any]] = {}
    q = sa.select(ledger.c.member_id, ledger.c.growth_delta, ledger.c.at).where(ledger.c.growth_delta != 0)
    for e in bind.execute(q.order_by(ledger.c.id)):
        at: datetime = e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)  # SQLite keeps naive UTC
        for key in _periods(at.astimezone(tz).date()):
            row = sums.setdefault((key, e.member_id), [0, e.at])
            row[0] += int(e.growth_delta)
            row[1] = e.at
    if sums:
        op.bulk_insert(sums_t, [{"period": p, "member_id": m, "points": v[0], "reached_at": v[1]}
                                for (p, m), v in sums.items()])


def downgrade() -> None:
    for table in ("lot_uses", "task_tiers", "room_members", "quiz_answers", "profiles", "point_lots", "period_sums",
                  "newcomers", "mall_orders", "mall_codes", "level_ups", "ledger", "invites", "checkins", "rooms",
                  "quiz_rounds", "processed_events", "members", "mall_items", "daily_counters", "conversations",
                  "active_days"):
        op.drop_table(table)
