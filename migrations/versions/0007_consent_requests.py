"""Pending consent questions live in their own table; no users row before consent.

Existing rows of people who never agreed (and have no check-ins) are removed; those who had
already pressed "I agree" but not finished setup (an onboarding draft past the consent
question) get their consent recorded instead, as the new code records it at that press.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_requests",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_consent_requests")),
    )
    op.create_index(op.f("ix_consent_requests_created_at"), "consent_requests", ["created_at"])

    users = sa.table("users", sa.column("id", sa.BigInteger()), sa.column("consented_at"))
    states = sa.table(
        "conversation_states",
        sa.column("user_id", sa.BigInteger()),
        sa.column("kind", sa.String()),
        sa.column("step", sa.String()),
        sa.column("updated_at"),
    )
    agreed_in_setup = (
        sa.select(states.c.updated_at)
        .where(
            states.c.user_id == users.c.id,
            states.c.kind == "onboarding",
            states.c.step != "consent",
        )
        .scalar_subquery()
    )
    op.execute(
        users.update()
        .where(users.c.consented_at.is_(None), agreed_in_setup.is_not(None))
        .values(consented_at=agreed_in_setup)
    )
    # Only rows that hold nothing but the unanswered question go: a migration never deletes
    # check-ins, even of a row that (inconsistently) lacks a consent time.
    checkins = sa.table("checkins", sa.column("user_id", sa.BigInteger()))
    never_agreed = sa.select(users.c.id).where(
        users.c.consented_at.is_(None),
        ~sa.exists().where(checkins.c.user_id == users.c.id),
    )
    op.execute(states.delete().where(states.c.user_id.in_(never_agreed)))
    op.execute(users.delete().where(users.c.id.in_(never_agreed)))


def downgrade() -> None:
    op.drop_index(op.f("ix_consent_requests_created_at"), table_name="consent_requests")
    op.drop_table("consent_requests")
