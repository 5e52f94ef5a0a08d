"""Engine and session factory; one async engine per process, built from settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db import inline_sqlite

SessionFactory = async_sessionmaker[AsyncSession]
SQLITE_DRIVER = f"sqlite+{inline_sqlite.DRIVER}"


def normalise_url(url: str) -> str:
    """The drivers the engine uses: SQLite URLs (`sqlite://`, `sqlite+aiosqlite://`, as
    settings spell them) get the inline stdlib driver (bot.db.inline_sqlite), PostgreSQL
    URLs asyncpg."""
    parsed = make_url(url)
    if parsed.drivername in {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}:
        parsed = parsed.set(drivername=SQLITE_DRIVER)
    elif parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs, which need WAL and a data folder."""
    return make_url(url).get_backend_name() == "sqlite"


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and the writer overlap; foreign keys make ON DELETE CASCADE work."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for SQLite (file created under its folder) or PostgreSQL; errors never
    quote statement parameters (they are people's answers)."""
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Every use case ends in commit or rollback, so the pool's reset would only cost time.
        engine = create_async_engine(url, pool_reset_on_return=None, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _enable_sqlite_wal)
        return engine
    # A server that does not answer fails within 10 s instead of asyncpg's 60.
    return create_async_engine(
        url, pool_pre_ping=True, hide_parameters=True, connect_args={"timeout": 10}
    )


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit; on SQLite, write transactions
    take turns in-process (see bot.concurrency) instead of waiting on the file lock."""
    if engine.dialect.name == "sqlite":
        from bot.concurrency import SerializedWrites

        return SerializedWrites(engine, expire_on_commit=False)
    return async_sessionmaker(engine, expire_on_commit=False)
