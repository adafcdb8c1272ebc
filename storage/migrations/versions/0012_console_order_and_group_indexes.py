"""indexes for the console's 订单 pages (orders by status, keyset on id) and 群 page (check-ins by day and group)

Three CREATE INDEX statements; on a database of 5M check-ins the one on check-ins takes some seconds.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_mall_orders_status_id", "mall_orders", ["status", "id"], unique=False, if_not_exists=True)
    op.create_index("ix_checkins_day_room", "checkins", ["day", "room_id", "member_id"], unique=False,
                    if_not_exists=True)
    op.create_index("ix_room_members_room", "room_members", ["room_id", "active"], unique=False, if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_room_members_room", table_name="room_members")
    op.drop_index("ix_checkins_day_room", table_name="checkins")
    op.drop_index("ix_mall_orders_status_id", table_name="mall_orders")
