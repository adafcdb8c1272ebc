"""ledger.reverses (the entry a refund or clawback undoes) and JSON columns

Reversals written before this revision are found by their key: a refund is `<order key>:refund`, an invite
or task-tier clawback `<original key>:revoke` (storage.keys), so each gets the id of the entry with the
key before the suffix. The text columns that held JSON become JSON (same text on SQLite; `::json` on
PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

JSON_COLUMNS = (("conversations", "data"), ("mall_items", "detail"), ("profiles", "data"),
                ("quiz_rounds", "answers"), ("quiz_rounds", "rooms"))


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("reverses", sa.Integer(), nullable=True))
    # both suffixes are seven characters long
    op.execute(sa.text(
        "UPDATE ledger SET reverses = (SELECT o.id FROM ledger o WHERE o.key = substr(ledger.key, 1, length(ledger.key) - 7)) "
        "WHERE key LIKE :refund OR key LIKE :revoke").bindparams(refund="%:refund", revoke="%:revoke"))
    for table, column in JSON_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.VARCHAR(), type_=sa.JSON(), existing_nullable=False,
                               postgresql_using=f"{column}::json")


def downgrade() -> None:
    for table, column in JSON_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.JSON(), type_=sa.VARCHAR(), existing_nullable=False,
                               postgresql_using=f"{column}::text")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("reverses")
