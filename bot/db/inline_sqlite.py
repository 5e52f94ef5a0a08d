"""SQLite for the async engine without a worker thread: stdlib `sqlite3`, run inline.

SQLAlchemy's aiosqlite driver sends every statement, fetch and commit to aiosqlite's worker
thread and waits for the answer: several event-loop hops per statement, queued behind other
chats' work, and a GIL handoff each way. A local SQLite statement takes microseconds, so the
hops cost far more than the work. This dialect is SQLAlchemy's own pysqlite dialect declared
usable by the asyncio extension: `AsyncSession`/`AsyncEngine` code stays as it is, and each
statement runs `sqlite3` directly inside the calling coroutine. The asyncio extension insists
that a statement awaits something, so each one is handed over as a coroutine that finishes
without suspending: two greenlet switches, no trip through the event loop, no thread.

What keeps that from blocking the loop: WAL with `synchronous=NORMAL` (a commit writes the
WAL without fsync, ~µs); write transactions take turns in-process (bot.concurrency), so a
statement never waits on the file lock unless another process writes; the slow work (charts,
PDFs) already runs in threads. `synchronous=FULL` would need a writer thread instead.

Registered as `sqlite+inline`; bot.db.session picks it for `sqlite://` and
`sqlite+aiosqlite://` URLs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_

DRIVER = "inline"
T = TypeVar("T")


async def _now(call: Callable[..., T], *args: Any) -> T:
    """Run `call` at once; awaiting this never suspends."""
    return call(*args)


class InlineCursor:
    """A `sqlite3.Cursor` as SQLAlchemy's asyncio extension expects an adapted cursor."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    def execute(self, operation: str, parameters: Any = ()) -> InlineCursor:
        await_(_now(self._cursor.execute, operation, parameters))
        return self

    def executemany(self, operation: str, seq_of_parameters: Any) -> InlineCursor:
        await_(_now(self._cursor.executemany, operation, seq_of_parameters))
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    def setinputsizes(self, *_sizes: Sequence[Any]) -> None:
        """Nothing to do for sqlite3."""

    def close(self) -> None:
        self._cursor.close()

    async def _async_soft_close(self) -> None:
        """The rows stay readable from sqlite3; there is nothing to close early."""


class InlineConnection:
    """A `sqlite3.Connection` whose cursors are `InlineCursor`s."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @property
    def driver_connection(self) -> sqlite3.Connection:
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._connection.isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._connection.cursor())

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.create_function(*args, **kwargs)

    def commit(self) -> None:
        self._connection.commit()

    def rollback(self) -> None:
        self._connection.rollback()

    def close(self) -> None:
        self._connection.close()


def _dbapi() -> SimpleNamespace:
    """sqlite3's DB-API names, with `connect` handing out inline connections."""
    names = (
        "DatabaseError",
        "Error",
        "IntegrityError",
        "InterfaceError",
        "InternalError",
        "NotSupportedError",
        "OperationalError",
        "ProgrammingError",
        "Warning",
        "DataError",
        "sqlite_version",
        "sqlite_version_info",
        "version",
        "version_info",
        "PARSE_COLNAMES",
        "PARSE_DECLTYPES",
        "Binary",
    )
    module = SimpleNamespace(**{name: getattr(sqlite3, name) for name in names})
    module.paramstyle = "qmark"
    module.sqlite = sqlite3

    def connect(*args: Any, **kwargs: Any) -> InlineConnection:
        return InlineConnection(sqlite3.connect(*args, **kwargs))

    module.connect = connect
    return module


class SQLiteDialect_inline(SQLiteDialect_pysqlite):
    """pysqlite for `create_async_engine`: every statement runs inline in the coroutine."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> Any:
        return _dbapi()

    def get_driver_connection(self, connection: Any) -> Any:
        return connection.driver_connection

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        """The asyncio-safe pool the aiosqlite dialect uses, for the same kinds of database."""
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def create_connect_args(self, url: URL) -> Any:
        """pysqlite's arguments; the loop thread owns every connection, but a pooled one may
        be closed from elsewhere at interpreter exit, so the same-thread check stays off."""
        args, kwargs = super().create_connect_args(url)
        kwargs.setdefault("check_same_thread", False)
        return args, kwargs


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_inline")
dialect = SQLiteDialect_inline
