"""冻结 / 解冻: members.frozen and frozen_told, and member_freezes (who froze or unfroze a member, why, when)

Every member starts unfrozen (the columns' server default), so there is nothing to back-fill. A table or
column already there (a database adopted without its revision stamp) is left as it is.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("members")}
    with op.batch_alter_table("members") as batch:
        if "frozen" not in columns:
            batch.add_column(sa.Column("frozen", sa.Boolean(), nullable=False, server_default=sa.false()))
        if "frozen_told" not in columns:
            batch.add_column(sa.Column("frozen_told", sa.Boolean(), nullable=False, server_default=sa.false()))
    if "member_freezes" not in set(inspector.get_table_names()):
        op.create_table("member_freezes",
                        sa.Column("id", sa.Integer(), nullable=False),
                        sa.Column("member_id", sa.String(), nullable=False),
                        sa.Column("action", sa.String(), nullable=False),
                        sa.Column("actor", sa.String(), nullable=False),
                        sa.Column("actor_kind", sa.String(), nullable=False),
                        sa.Column("reason", sa.String(), nullable=False),
                        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
                        sa.CheckConstraint("action IN ('freeze', 'unfreeze')", name="ck_member_freezes_action"),
                        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
                        sa.PrimaryKeyConstraint("id"))
        op.create_index("ix_member_freezes_member", "member_freezes", ["member_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_member_freezes_member", table_name="member_freezes")
    op.drop_table("member_freezes")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("frozen_told")
        batch.drop_column("frozen")
