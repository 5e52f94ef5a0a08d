"""Shared fixtures: databases on SQLite and on a real PostgreSQL server the run starts itself."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.session import create_engine
from tests.support.postgres import PostgresServer, PostgresUnavailable, start_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
MEASUREMENTS = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[MEASUREMENTS] = []


@pytest.fixture
def measurement(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a line for the "measurements" section printed at the end of the run."""
    return request.config.stash[MEASUREMENTS].append


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Accuracy figures (red flags, question answering) belong in every test run's output."""
    lines = config.stash.get(MEASUREMENTS, [])
    if lines:
        terminalreporter.section("measurements")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the whole run; each test gets its own database inside it."""
    if os.environ.get("TWITCHCHECK_SKIP_POSTGRES") == "1":
        pytest.skip("TWITCHCHECK_SKIP_POSTGRES=1")
    try:
        server = start_server()
    except PostgresUnavailable as error:
        pytest.fail(f"PostgreSQL is required for these tests: {error}")
    try:
        yield server
    finally:
        server.stop()


async def create_pg_database(server: PostgresServer) -> str:
    """A fresh, empty database; returns its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(server.dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server.url(name)


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return await create_pg_database(server)


@pytest.fixture
async def engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a fully migrated database, on each backend."""
    engine = create_engine(empty_database_url)
    await migrate.upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
