"""the bridge's inbox (events accepted, not yet handled) and out log (numbered output lines)

Both start empty: before this revision accepted events lived in memory only and numbering began at 1
on every start, so there is nothing to back-fill. A table already there (a database adopted without its
revision stamp) is left as it is.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    had = set(sa.inspect(op.get_bind()).get_table_names())
    if "inbox" not in had:
        _inbox()
    if "out_log" not in had:
        _out_log()


def _inbox() -> None:
    op.create_table("inbox",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("line", sa.String(), nullable=False),
                    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("id"),
                    sqlite_autoincrement=True)


def _out_log() -> None:
    op.create_table("out_log",
                    sa.Column("seq", sa.Integer(), nullable=False),
                    sa.Column("line", sa.String(), nullable=False),
                    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("seq"),
                    sqlite_autoincrement=True)


def downgrade() -> None:
    op.drop_table("out_log")
    op.drop_table("inbox")
