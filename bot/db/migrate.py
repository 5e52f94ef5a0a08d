"""Alembic, driven from code: `twitchcheck migrate`, `twitchcheck run` and the tests use this."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.paths import MIGRATIONS_DIR


def alembic_config() -> Config:
    """Config pointing at the installed migrations folder, whatever the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


# pg_advisory_xact_lock key for schema changes ("twchmigr" as a number): concurrent
# `twitchcheck migrate` runs (two deploys, a replica that starts with --migrate) take turns,
# and the later one finds the schema at head and does nothing.
MIGRATION_LOCK_KEY = 0x7477636D6967


def head() -> str:
    """The newest revision this code knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError("no migrations found")
    return revision


def _run(connection: Connection, action: str, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, target)
    else:
        command.downgrade(config, target)


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    """Apply pending migrations up to target; on PostgreSQL one run at a time (advisory
    lock held until the migrations' transaction ends)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        await connection.run_sync(_run, "upgrade", target)


async def downgrade(engine: AsyncEngine, target: str) -> None:
    """Revert migrations down to target ("base" removes everything)."""
    async with engine.begin() as connection:
        await connection.run_sync(_run, "downgrade", target)


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, None for an empty database."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
