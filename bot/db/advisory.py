"""PostgreSQL session advisory locks held on a connection of their own.

A session-level lock (`pg_try_advisory_lock(namespace, key)`) stays held until it is
released or its connection ends, so a process killed with -9 lets go as soon as PostgreSQL
notices the connection is gone: no lease to expire, no row to clean up. The two-int4 form
keeps each use (the poller election, the webhook's per-chat locks) in its own namespace.
On SQLite there is one process per database file, so every lock is granted at once.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def int4_key(value: int) -> int:
    """Fold a 64-bit id (negative for groups) into PostgreSQL's int4 second key; two ids
    that share a key only wait for each other."""
    folded = (value ^ (value >> 32)) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= 1 << 31 else folded


class AdvisoryLocks:
    """Session advisory locks in one namespace, on one connection of this process."""

    def __init__(self, engine: AsyncEngine, namespace: int) -> None:
        self._engine = engine
        self._namespace = namespace
        self.shared = engine.dialect.name == "postgresql"
        self._connection: AsyncConnection | None = None
        self._turn = asyncio.Lock()  # one statement at a time on the lock connection

    async def _conn(self) -> AsyncConnection:
        if self._connection is None or self._connection.closed:
            connection = await self._engine.connect()
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    async def try_acquire(self, key: int) -> bool:
        """True when this process now holds the lock (or already did: they nest)."""
        if not self.shared:
            return True
        statement = select(func.pg_try_advisory_lock(self._namespace, int4_key(key)))
        async with self._turn:
            try:
                connection = await self._conn()
                return bool((await connection.execute(statement)).scalar_one())
            except Exception:
                await self._drop()  # a broken connection holds no lock any more
                raise

    async def release(self, key: int) -> None:
        if not self.shared:
            return
        statement = select(func.pg_advisory_unlock(self._namespace, int4_key(key)))
        async with self._turn:
            if self._connection is None:
                return
            try:
                await self._connection.execute(statement)
            except Exception:
                await self._drop()
                raise

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        """Let go of every lock (closing the connection ends its session)."""
        async with self._turn:
            await self._drop()
