"""No alarm fatigue: which safety screen a check-in asked, the "seen a doctor" button and
the per-person pauses of history flags.

Check-ins stored before this revision that have a screen answer all asked the full list,
so they are marked "full"; the weekly full screen then carries on from them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkins") as batch:
        batch.add_column(sa.Column("screen_kind", sa.String(length=8), nullable=True))
    op.execute("UPDATE checkins SET screen_kind = 'full' WHERE screen IS NOT NULL")
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("doctor_token", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("doctor_seen_on", sa.Date(), nullable=True))
    op.create_table(
        "history_flag_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("flag_id", sa.String(length=64), nullable=False),
        sa.Column("seen_on", sa.Date(), nullable=False),
        sa.Column("paused_until", sa.Date(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_history_flag_pauses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_flag_pauses")),
        sa.UniqueConstraint("user_id", "flag_id", name=op.f("uq_history_flag_pauses_user_id")),
    )


def downgrade() -> None:
    op.drop_table("history_flag_pauses")
    with op.batch_alter_table("escalations") as batch:
        batch.drop_column("doctor_seen_on")
        batch.drop_column("doctor_token")
    with op.batch_alter_table("checkins") as batch:
        batch.drop_column("screen_kind")
