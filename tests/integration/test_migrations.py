"""Migration stairway: every revision upgrades, downgrades and upgrades again, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.db import migrate
from bot.db.models import Base
from bot.db.session import create_engine


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_stairway(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        previous = "base"
        for revision in migrate.revisions():
            await migrate.upgrade(engine, revision)
            assert await migrate.current_revision(engine) == revision
            await migrate.downgrade(engine, previous)
            expected = None if previous == "base" else previous
            assert await migrate.current_revision(engine) == expected
            await migrate.upgrade(engine, revision)
            previous = revision
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
        await migrate.downgrade(engine, "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(_table_names) == set()
    finally:
        await engine.dispose()


def test_revisions_form_one_line() -> None:
    revisions = migrate.revisions()
    assert revisions, "no migrations found through the installed package"
    assert len(revisions) == len(set(revisions))


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///x.db", "sqlite+inline"),
        ("sqlite+aiosqlite:///x.db", "sqlite+inline"),
        ("postgresql://u@h/d", "postgresql+asyncpg"),
    ],
)
def test_settings_urls_get_the_engine_drivers(url: str, driver: str) -> None:
    from bot.db.session import normalise_url

    assert normalise_url(url).startswith(f"{driver}://")
