"""ledger_hours and checkin_counts: the ledger by UTC hour and kind, check-ins by day, for the figures (storage.hours)

Each back-filled in one INSERT ... SELECT (grouped by hour and kind; by day, makeups aside) into shard 0; a
database of 5M entries at the scale bench takes some seconds. The row counts are logged. And two indexes of orders
(by member and time; by item and time), for the figures' redeemers and top items.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from loguru import logger

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

_FILL = """
INSERT INTO ledger_hours (hour, kind, shard, delta, growth_delta, entries)
SELECT {hour}, kind, 0, SUM(delta), SUM(growth_delta), COUNT(*) FROM ledger GROUP BY {hour}, kind
"""


_COUNT = """
INSERT INTO checkin_counts (day, shard, n) SELECT day, 0, COUNT(*) FROM checkins WHERE makeup = :no GROUP BY day
"""


def upgrade() -> None:
    bind = op.get_bind()
    if "ledger_hours" not in set(sa.inspect(bind).get_table_names()):
        op.create_table("ledger_hours",
                        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
                        sa.Column("kind", sa.String(), nullable=False),
                        sa.Column("shard", sa.Integer(), nullable=False),
                        sa.Column("delta", sa.Integer(), nullable=False),
                        sa.Column("growth_delta", sa.Integer(), nullable=False),
                        sa.Column("entries", sa.Integer(), nullable=False),
                        sa.PrimaryKeyConstraint("hour", "kind", "shard"))
    if "checkin_counts" not in set(sa.inspect(bind).get_table_names()):
        op.create_table("checkin_counts",
                        sa.Column("day", sa.Date(), nullable=False),
                        sa.Column("shard", sa.Integer(), nullable=False),
                        sa.Column("n", sa.Integer(), nullable=False),
                        sa.PrimaryKeyConstraint("day", "shard"))
    op.create_index("ix_mall_orders_buyer", "mall_orders", ["member_id", "created_at", "status"], unique=False,
                    if_not_exists=True)
    op.create_index("ix_mall_orders_items", "mall_orders", ["sku", "created_at", "status", "points", "name"],
                    unique=False, if_not_exists=True)
    # SQLite stores naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (storage.codecs); PostgreSQL an aware timestamp
    hour = ("substr(at, 1, 13) || ':00:00.000000'" if bind.dialect.name == "sqlite"
            else "date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")
    if bind.execute(sa.text("SELECT 1 FROM ledger_hours LIMIT 1")).first() is None:
        rows = bind.execute(sa.text(_FILL.format(hour=hour))).rowcount
        logger.info("storage: ledger_hours back-filled from the ledger: {} rows (hour, kind)", rows)
    if bind.execute(sa.text("SELECT 1 FROM checkin_counts LIMIT 1")).first() is None:
        rows = bind.execute(sa.text(_COUNT), {"no": False}).rowcount
        logger.info("storage: checkin_counts back-filled from the check-ins: {} days", rows)


def downgrade() -> None:
    op.drop_index("ix_mall_orders_items", table_name="mall_orders")
    op.drop_index("ix_mall_orders_buyer", table_name="mall_orders")
    op.drop_table("checkin_counts")
    op.drop_table("ledger_hours")
