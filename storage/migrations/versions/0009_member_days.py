"""member days (who sent the bot a message on which local day) for the programme's figures; check-ins by day

member_days is back-filled from check-ins (a check-in is a message its member sent that day; 补签 rows are
not). Other messages sent before this revision were never recorded, so activity before it is approximate:
storage.stats also counts a member active on any day they earned points, which covers most of the rest.
One INSERT ... SELECT, so a database of millions of check-ins takes seconds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_FILL = """
INSERT INTO member_days (member_id, day)
SELECT DISTINCT c.member_id, c.day FROM checkins c
 WHERE c.makeup = :no AND NOT EXISTS (SELECT 1 FROM member_days d WHERE d.member_id = c.member_id AND d.day = c.day)
"""


def upgrade() -> None:
    bind = op.get_bind()
    if "member_days" not in set(sa.inspect(bind).get_table_names()):
        op.create_table("member_days",
                        sa.Column("member_id", sa.String(), nullable=False),
                        sa.Column("day", sa.Date(), nullable=False),
                        sa.PrimaryKeyConstraint("member_id", "day"))
    op.create_index("ix_member_days_day", "member_days", ["day"], unique=False, if_not_exists=True)
    op.create_index("ix_checkins_day", "checkins", ["day", "makeup"], unique=False, if_not_exists=True)
    bind.execute(sa.text(_FILL), {"no": False})


def downgrade() -> None:
    op.drop_index("ix_checkins_day", table_name="checkins")
    op.drop_index("ix_member_days_day", table_name="member_days")
    op.drop_table("member_days")
