"""console accounts, the console's state (session secret), the operator log; an index on member names

The operator console (console/) logs in accounts of console_users (argon2 hashes), signs its sessions
with a secret kept in console_state, and writes every change an operator makes — in the console, by a
chat admin command or on the CLI — to operator_log in the same transaction as the change. Member
search by name prefix reads ix_members_name instead of every member.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "console_users" not in tables:
        op.create_table("console_users",
                        sa.Column("name", sa.String(), nullable=False),
                        sa.Column("password_hash", sa.String(), nullable=False),
                        sa.Column("role", sa.String(), nullable=False),
                        sa.Column("disabled", sa.Boolean(), nullable=False),
                        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                        sa.PrimaryKeyConstraint("name"))
    if "console_state" not in tables:
        op.create_table("console_state",
                        sa.Column("name", sa.String(), nullable=False),
                        sa.Column("value", sa.String(), nullable=False),
                        sa.PrimaryKeyConstraint("name"))
    if "operator_log" not in tables:
        op.create_table("operator_log",
                        sa.Column("id", sa.Integer(), nullable=False),
                        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
                        sa.Column("actor_kind", sa.String(), nullable=False),
                        sa.Column("actor", sa.String(), nullable=False),
                        sa.Column("action", sa.String(), nullable=False),
                        sa.Column("target", sa.String(), nullable=False),
                        sa.Column("detail", sa.JSON(), nullable=False),
                        sa.Column("reason", sa.String(), nullable=False),
                        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_operator_log_target", "operator_log", ["target", "id"], unique=False, if_not_exists=True)
    op.create_index("ix_members_name", "members", ["name"], unique=False, if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_members_name", table_name="members")
    op.drop_index("ix_operator_log_target", table_name="operator_log")
    op.drop_table("operator_log")
    op.drop_table("console_state")
    op.drop_table("console_users")
