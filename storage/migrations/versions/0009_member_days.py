"""member days (who sent the bot a message or earned on which local day) for the figures; check-ins by day, members by first sight

member_days is back-filled from check-ins (a check-in is a message its member sent that day, on its local day;
补签 rows are not) and from earning entries of the ledger (on their UTC date: a revision does not know
bot.timezone, so an entry made before 08:00 in Shanghai counts on the day before). Other messages sent before
this revision were never recorded, so activity before it is approximate. Two INSERT ... SELECT statements: a
database of millions of check-ins takes seconds (5M at the scale bench: ~15 s).

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


# the earning kinds as storage.stats.BUCKETS has them today (the revision keeps its own copy)
_EARNING = ("checkin", "checkin_streak", "checkin_total", "invite", "newcomer", "task", "profile", "follow", "quiz",
            "admin_award", "import")
_FILL_EARNED = """
INSERT INTO member_days (member_id, day)
SELECT DISTINCT l.member_id, {day} FROM ledger l
 WHERE l.delta > 0 AND l.kind IN ({kinds})
   AND NOT EXISTS (SELECT 1 FROM member_days d WHERE d.member_id = l.member_id AND d.day = {day})
"""


def upgrade() -> None:
    bind = op.get_bind()
    if "member_days" not in set(sa.inspect(bind).get_table_names()):
        op.create_table("member_days",
                        sa.Column("member_id", sa.String(), nullable=False),
                        sa.Column("day", sa.Date(), nullable=False),
                        sa.PrimaryKeyConstraint("member_id", "day"), sqlite_with_rowid=False)
    op.create_index("ix_checkins_day", "checkins", ["day", "makeup"], unique=False, if_not_exists=True)
    op.create_index("ix_members_created_at", "members", ["created_at"], unique=False, if_not_exists=True)
    bind.execute(sa.text(_FILL), {"no": False})
    day = "substr(l.at, 1, 10)" if bind.dialect.name == "sqlite" else "CAST(l.at AT TIME ZONE 'UTC' AS date)"
    kinds = ", ".join(f"'{k}'" for k in _EARNING)
    bind.execute(sa.text(_FILL_EARNED.format(day=day, kinds=kinds)))


def downgrade() -> None:
    op.drop_index("ix_members_created_at", table_name="members")
    op.drop_index("ix_checkins_day", table_name="checkins")
    op.drop_table("member_days")
