"""Snippets shown, red-flag escalations, and the screen answers of a check-in.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "snippet_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("snippet_id", sa.String(length=64), nullable=False),
        sa.Column("content_version", sa.String(length=32), nullable=False),
        sa.Column("shown_on", sa.Date(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column(
            "shown_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        _user_fk("snippet_views"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snippet_views")),
    )
    op.create_index(op.f("ix_snippet_views_user_id"), "snippet_views", ["user_id"])
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("flag_ids", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        _user_fk("escalations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
    )
    op.create_index(op.f("ix_escalations_user_id"), "escalations", ["user_id"])
    with op.batch_alter_table("checkins") as batch:
        batch.add_column(sa.Column("screen", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkins") as batch:
        batch.drop_column("screen")
    op.drop_index(op.f("ix_escalations_user_id"), table_name="escalations")
    op.drop_table("escalations")
    op.drop_index(op.f("ix_snippet_views_user_id"), table_name="snippet_views")
    op.drop_table("snippet_views")
