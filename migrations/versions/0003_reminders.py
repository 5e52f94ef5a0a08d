"""Reminder schedule per person: next due instant (indexed), pause, quiet hours, summaries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = (
    ("next_reminder_at", sa.DateTime(timezone=True)),
    ("paused_until", sa.Date()),
    ("quiet_start", sa.Time()),
    ("quiet_end", sa.Time()),
    ("skipped_date", sa.Date()),
    ("last_reminded_date", sa.Date()),
    ("weekly_summary_day", sa.SmallInteger()),
    ("last_summary_date", sa.Date()),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        for name, column_type in NEW_COLUMNS:
            batch.add_column(sa.Column(name, column_type, nullable=True))
    op.create_index(op.f("ix_users_next_reminder_at"), "users", ["next_reminder_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_users_next_reminder_at"), table_name="users")
    with op.batch_alter_table("users") as batch:
        for name, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("active")
