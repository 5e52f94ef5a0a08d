"""One poller per bot on one PostgreSQL: the running poller keeps its updates, a second
`serve` is refused before it asks Telegram for anything, and the lock is free again when
the holder stops or its connection dies (kill -9)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.app import build_application
from bot.cli import apply_migrations
from bot.config import Settings
from bot.db.advisory import AdvisoryLocks
from bot.db.session import create_engine
from bot.runner import POLLER_LOCK_NAMESPACE, RunState, serve
from bot.sandbox.server import SandboxServer
from bot.startup import StartupError
from tests.conftest import create_pg_database
from tests.e2e.harness import TOKEN
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


def settings_for(sandbox: SandboxServer, url: str) -> Settings:
    return Settings(telegram_api_url=sandbox.api_url, database_url=url, http_port=0, _env_file=None)


async def test_a_second_poller_on_one_database_is_refused_and_the_first_keeps_polling(
    sandbox: SandboxServer, postgres_server: PostgresServer
) -> None:
    url = await create_pg_database(postgres_server)
    await apply_migrations(url)
    settings = settings_for(sandbox, url)
    state = RunState()
    first = asyncio.create_task(
        serve(settings, build_application(settings, token=TOKEN), state=state, handle_signals=False)
    )
    try:
        await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=60)
        mark = sandbox.last_seq
        with pytest.raises(StartupError, match="already polls this bot on this database"):
            await serve(settings, build_application(settings, token=TOKEN), handle_signals=False)
        # Refused before initialize: no getMe, no getWebhookInfo, no second poll loop.
        assert {call.method for call in sandbox.calls if call.seq > mark} <= {"getUpdates"}
        await sandbox.exchange_text(701, "/start", timeout=30)
        assert "agree" in (sandbox.last_message(701).plain_text or "")
        assert not first.done()
    finally:
        state.request_stop()
        assert await asyncio.wait_for(first, timeout=60) == 0

    # Stopped: the next poller is elected.
    again = RunState()
    second = asyncio.create_task(
        serve(settings, build_application(settings, token=TOKEN), state=again, handle_signals=False)
    )
    mark = sandbox.last_seq
    try:
        await sandbox.wait_for_call(
            lambda call: call.method == "getUpdates" and call.seq > mark, timeout=60
        )
    finally:
        again.request_stop()
        assert await asyncio.wait_for(second, timeout=60) == 0


async def test_the_poller_lock_is_free_once_the_holders_connection_dies(
    postgres_server: PostgresServer,
) -> None:
    url = await create_pg_database(postgres_server)
    holder_engine, other_engine = create_engine(url), create_engine(url)
    holder = AdvisoryLocks(holder_engine, POLLER_LOCK_NAMESPACE)
    other = AdvisoryLocks(other_engine, POLLER_LOCK_NAMESPACE)
    try:
        assert await holder.try_acquire(123456789)
        assert not await other.try_acquire(123456789)
        assert await other.try_acquire(987654321)  # another bot on the same database
        # What kill -9 leaves: the holder's backend ends with its socket.
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND classid = $1 AND objid = $2",
                POLLER_LOCK_NAMESPACE,
                123456789,
            )
        finally:
            await connection.close()
        assert await other.try_acquire(123456789)
    finally:
        for locks in (holder, other):
            await locks.close()
        await holder_engine.dispose()
        await other_engine.dispose()
