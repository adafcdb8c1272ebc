"""card code deliveries and returns, the units each item was supplied, whether a refund restocked

Back-fill, from what the orders recorded:
- every order that showed its card code (no cash part, or paid) gets its delivery, at the time it was paid
  (or ordered);
- before this revision a refund put every unit and code back by itself: each closed order is `restocked`;
  a code delivered by a closed order and delivered (or reserved) again since gets a return with operator ""
  and a note saying so; a code a refund put back that nobody has had since was shown to a member, so it is
  burnt (held by its refunded order again, off the item's stock) until an operator recycles it (回收卡密);
- a limited item (not card codes) was supplied its stock plus its standing orders.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)
LIVE = "('address', 'unpaid', 'pending', 'shipped', 'done')"
CLOSED = "('cancelled', 'refunded', 'expired')"
NOTE = "0003 back-fill: the refund put it back in stock by itself"


def upgrade() -> None:
    op.create_table(
        "mall_code_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["mall_codes.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["mall_orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", name="uq_mall_code_deliveries_order"),
    )
    op.create_index("ix_mall_code_deliveries_code", "mall_code_deliveries", ["code_id", "id"], unique=False)
    op.create_table(
        "mall_code_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.String(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["mall_codes.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["mall_orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", name="uq_mall_code_returns_order"),
    )
    op.create_index("ix_mall_code_returns_code", "mall_code_returns", ["code_id"], unique=False)
    with op.batch_alter_table("mall_items") as batch:
        batch.add_column(sa.Column("supplied", sa.Integer(), nullable=True))
    with op.batch_alter_table("mall_orders") as batch:
        batch.add_column(sa.Column("restocked", sa.Boolean(), nullable=True))

    op.execute(f"UPDATE mall_orders SET restocked = (status IN {CLOSED})")
    with op.batch_alter_table("mall_orders") as batch:
        batch.alter_column("restocked", existing_type=sa.Boolean(), nullable=False)
    op.execute("UPDATE mall_items SET supplied = stock + (SELECT COUNT(*) FROM mall_orders o WHERE o.sku = mall_items.sku "
               f"AND o.status IN {LIVE}) WHERE stock IS NOT NULL AND kind <> 'card_code'")
    op.execute("INSERT INTO mall_code_deliveries (code_id, order_id, member_id, at) "
               "SELECT code_id, id, member_id, COALESCE(paid_at, created_at) FROM mall_orders "
               "WHERE code_id IS NOT NULL AND (cash = 0 OR paid_at IS NOT NULL) ORDER BY id")
    op.execute(sa.text(
        "INSERT INTO mall_code_returns (code_id, order_id, operator_id, at, note) "
        "SELECT d.code_id, d.order_id, '', o.updated_at, :note FROM mall_code_deliveries d "
        "JOIN mall_orders o ON o.id = d.order_id JOIN mall_codes c ON c.id = d.code_id "
        f"WHERE o.status IN {CLOSED} AND (c.order_id IS NULL OR c.order_id <> d.order_id) "
        "AND (c.order_id IS NOT NULL OR EXISTS (SELECT 1 FROM mall_code_deliveries l "
        "WHERE l.code_id = d.code_id AND l.id > d.id)) ORDER BY d.id").bindparams(note=NOTE))
    # what is left in stock yet was delivered: its last delivery (not returned above) takes it back
    op.execute("UPDATE mall_codes SET order_id = (SELECT d.order_id FROM mall_code_deliveries d "
               "WHERE d.code_id = mall_codes.id ORDER BY d.id DESC LIMIT 1) WHERE order_id IS NULL "
               "AND EXISTS (SELECT 1 FROM mall_code_deliveries d WHERE d.code_id = mall_codes.id)")
    op.execute("UPDATE mall_items SET stock = (SELECT COUNT(*) FROM mall_codes c WHERE c.sku = mall_items.sku "
               "AND c.order_id IS NULL) WHERE kind = 'card_code'")


def downgrade() -> None:
    # the history tables point at mall_orders, which SQLite's batch mode rebuilds: they go first
    op.drop_index("ix_mall_code_returns_code", table_name="mall_code_returns")
    op.drop_table("mall_code_returns")
    op.drop_index("ix_mall_code_deliveries_code", table_name="mall_code_deliveries")
    op.drop_table("mall_code_deliveries")
    with op.batch_alter_table("mall_orders") as batch:
        batch.drop_column("restocked")
    with op.batch_alter_table("mall_items") as batch:
        batch.drop_column("supplied")
