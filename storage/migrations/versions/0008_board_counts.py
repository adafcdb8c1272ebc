"""board counts (members per score on each board) for ranks at any depth; member-keyed indexes for groups and sums

board_counts is filled from what the boards list today: every member in some group (and in each of their
groups) with a balance above zero, and the same for every week and month of period_sums. Three GROUP BY
statements, so a database of 100k members and millions of ledger lines takes seconds, not minutes (the
ledger itself is not read). A table already there (a database adopted without its revision stamp) is
rebuilt from the data.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

# as storage.boards keeps it (the revision holds its own copy: it must not change when storage does)
_FILL = """
INSERT INTO board_counts (board, room, score, n)
SELECT 'all', '', m.points, COUNT(*) FROM members m
 WHERE m.points > 0 AND EXISTS (SELECT 1 FROM room_members rm WHERE rm.member_id = m.id AND rm.active = :yes)
 GROUP BY m.points
UNION ALL
SELECT 'all', rm.room_id, m.points, COUNT(*) FROM room_members rm JOIN members m ON m.id = rm.member_id
 WHERE rm.active = :yes AND m.points > 0 GROUP BY rm.room_id, m.points
UNION ALL
SELECT ps.period, '', ps.points, COUNT(*) FROM period_sums ps
 WHERE ps.points > 0 AND EXISTS (SELECT 1 FROM room_members rm WHERE rm.member_id = ps.member_id AND rm.active = :yes)
 GROUP BY ps.period, ps.points
UNION ALL
SELECT ps.period, rm.room_id, ps.points, COUNT(*) FROM room_members rm JOIN period_sums ps ON ps.member_id = rm.member_id
 WHERE rm.active = :yes AND ps.points > 0 GROUP BY ps.period, rm.room_id, ps.points
"""


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "board_counts" not in set(inspector.get_table_names()):
        op.create_table("board_counts",
                        sa.Column("board", sa.String(), nullable=False),
                        sa.Column("room", sa.String(), nullable=False),
                        sa.Column("score", sa.Integer(), nullable=False),
                        sa.Column("n", sa.Integer(), nullable=False),
                        sa.PrimaryKeyConstraint("board", "room", "score"))
    op.create_index("ix_room_members_member", "room_members", ["member_id", "active"], unique=False,
                    if_not_exists=True)
    op.create_index("ix_period_sums_member", "period_sums", ["member_id"], unique=False, if_not_exists=True)
    bind.execute(sa.text("DELETE FROM board_counts"))
    bind.execute(sa.text(_FILL), {"yes": True})


def downgrade() -> None:
    op.drop_index("ix_period_sums_member", table_name="period_sums")
    op.drop_index("ix_room_members_member", table_name="room_members")
    op.drop_table("board_counts")
