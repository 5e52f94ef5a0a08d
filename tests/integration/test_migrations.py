"""Migration stairway: every revision upgrades, downgrades and upgrades again, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
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


async def test_0007_forgets_people_who_never_agreed(empty_database_url: str) -> None:
    """Rows the old /start left behind go; someone who pressed "I agree" but had not finished
    setup keeps a users row with consent recorded (as the new code records it)."""
    engine = create_engine(empty_database_url)
    asked_at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    try:
        await migrate.upgrade(engine, "0006")
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO users (id, consented_at) VALUES (1, NULL), (2, NULL), (3, :at)"),
                {"at": asked_at},
            )
            await connection.execute(
                text(
                    "INSERT INTO conversation_states "
                    "(user_id, kind, step, token, answers, extra, updated_at) VALUES "
                    "(1, 'onboarding', 'consent', 'aaaaaa', '{}', '{}', :at), "
                    "(2, 'onboarding', 'timezone', 'bbbbbb', '{}', '{}', :at)"
                ),
                {"at": asked_at},
            )
            # Inconsistent (a check-in without consent), but a migration never deletes check-ins.
            await connection.execute(text("INSERT INTO users (id) VALUES (4)"))
            await connection.execute(
                text(
                    "INSERT INTO checkins (user_id, local_date, severity, locations, "
                    "sleep_hours, caffeine_mg, water_litres) "
                    "VALUES (4, '2026-11-19', 1, '', 7, 0, 2)"
                )
            )
        await migrate.upgrade(engine, "0007")
        async with engine.connect() as connection:
            users = (
                await connection.execute(
                    text("SELECT id, consented_at IS NOT NULL FROM users ORDER BY id")
                )
            ).all()
            states = (
                await connection.execute(text("SELECT user_id, step FROM conversation_states"))
            ).all()
        assert [tuple(row) for row in users] == [(2, True), (3, True), (4, False)]
        assert [tuple(row) for row in states] == [(2, "timezone")]
    finally:
        await engine.dispose()
