"""`twitchcheck run` as its own process: SIGTERM, one poller per token, a webhook that is
already set, and PostgreSQL migrations as their own step (`migrate`, `run --migrate`)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest
from telegram import Bot

from bot.db.migrate import head
from bot.sandbox.server import SandboxServer
from tests.conftest import create_pg_database
from tests.integration.test_cli import TWITCHCHECK, clean_env
from tests.integration.test_startup import free_port
from tests.support.postgres import PostgresServer

TOKEN = "123456789:RUN-modes-test-token-00000000000000"


def bot_env(sandbox: SandboxServer, database_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=sandbox.api_url,
        DATABASE_URL=database_url,
        HTTP_PORT=str(free_port()),
        **extra,
    )


async def start(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(TWITCHCHECK),
        "run",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, timeout: float = 60) -> str:  # noqa: ASYNC109
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout)
    return stderr.decode()


async def test_sigterm_stops_the_bot_cleanly_with_status_0(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    database = tmp_path / "bot.sqlite3"
    process = await start(bot_env(sandbox, f"sqlite+aiosqlite:///{database}"), tmp_path)
    try:
        await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=90)
        await sandbox.exchange_text(501, "/start", timeout=30)
        await sandbox.exchange_press(501, "I agree", timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        logs = await finish(process)
    assert process.returncode == 0, logs[-2000:]
    assert "stopped in" in logs and "Traceback" not in logs
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchone() == (1,)


async def test_a_second_poller_on_the_same_token_is_told_and_one_keeps_running(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    first = await start(
        bot_env(sandbox, f"sqlite+aiosqlite:///{first_dir / 'bot.sqlite3'}"), first_dir
    )
    second: asyncio.subprocess.Process | None = None
    try:
        await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=90)
        mark = sandbox.last_seq
        second = await start(
            bot_env(sandbox, f"sqlite+aiosqlite:///{second_dir / 'bot.sqlite3'}"), second_dir
        )
        done, _ = await asyncio.wait(
            [asyncio.create_task(first.wait()), asyncio.create_task(second.wait())],
            timeout=120,
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert done, "neither poller gave way"
        stopped, running = (first, second) if first.returncode is not None else (second, first)
        logs = await finish(stopped)
        assert stopped.returncode == 2, logs[-2000:]
        assert "409 Conflict" in logs
        assert "Another process is receiving this bot's updates" in logs
        assert "WEBHOOK_URL" in logs and "Traceback" not in logs
        # The one left keeps answering, and nobody asks Telegram on the stopped one's behalf.
        await sandbox.exchange_text(502, "/start", timeout=30)
        assert "agree" in (sandbox.last_message(502).plain_text or "")
        assert sandbox.last_seq > mark
        assert running.returncode is None
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await finish(process)


async def test_polling_refuses_to_take_over_a_webhook(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with Bot(TOKEN, base_url=sandbox.api_url) as other_deployment:
        await other_deployment.set_webhook("https://bot.example.org/telegram", secret_token="x")
    process = await start(
        bot_env(sandbox, f"sqlite+aiosqlite:///{tmp_path / 'b.sqlite3'}"), tmp_path
    )
    logs = await finish(process, timeout=120)
    assert process.returncode == 2, logs[-2000:]
    assert "A webhook is set for this bot token" in logs and "Traceback" not in logs
    assert not sandbox.calls_of("deleteWebhook"), "the other deployment's webhook stays"


@pytest.mark.postgres
async def test_postgresql_run_refuses_a_schema_not_at_head_and_migrate_is_its_own_step(
    sandbox: SandboxServer, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = await create_pg_database(postgres_server)
    env = bot_env(sandbox, url)
    refused = await start(env, tmp_path)
    logs = await finish(refused, timeout=120)
    assert refused.returncode == 2, logs[-2000:]
    assert "twitchcheck migrate" in logs and "--migrate" in logs and "Traceback" not in logs
    assert not sandbox.calls_of("getUpdates")

    # Two migrate runs at once (two deploys): both succeed, one after the other.
    migrations = [
        await asyncio.create_subprocess_exec(
            str(TWITCHCHECK), "migrate", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    for process in migrations:
        output = await finish(process, timeout=120)
        assert process.returncode == 0, output[-2000:]

    started = await start(env, tmp_path)
    try:
        await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=90)
    finally:
        started.send_signal(signal.SIGTERM)
        logs = await finish(started)
    assert started.returncode == 0, logs[-2000:]


@pytest.mark.postgres
async def test_run_with_migrate_brings_postgresql_to_head(
    sandbox: SandboxServer, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    import asyncpg

    url = await create_pg_database(postgres_server)
    process = await start(bot_env(sandbox, url), tmp_path, "--migrate")
    try:
        await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=90)
    finally:
        process.send_signal(signal.SIGTERM)
        logs = await finish(process)
    assert process.returncode == 0, logs[-2000:]
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await connection.fetchval("SELECT version_num FROM alembic_version") == head()
    finally:
        await connection.close()
