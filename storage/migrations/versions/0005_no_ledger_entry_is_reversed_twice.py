"""no ledger entry is reversed twice: a UNIQUE index on ledger.reverses

Nothing to back-fill: every reversal written so far names a different entry (revision 0002 derived
`reverses` from refund and clawback keys, each the key of one original; refunds, clawbacks and 撤销
each undo an entry once). Many NULLs (entries that reverse nothing) are allowed on SQLite and PostgreSQL.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("uq_ledger_reverses", "ledger", ["reverses"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_ledger_reverses", table_name="ledger")
