"""Alembic environment: runs on a connection handed over by bot.db.migrate (never at import)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    """Apply migrations on the given connection; batch mode lets SQLite alter tables."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `twitchcheck migrate` (bot.db.migrate)")
run_migrations(connection)
