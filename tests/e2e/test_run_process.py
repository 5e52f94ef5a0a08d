"""`twitchcheck run` with a token, as its own process, against the sandbox at TELEGRAM_API_URL."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

from bot.sandbox.server import SandboxServer
from tests.integration.test_cli import TWITCHCHECK, clean_env
from tests.integration.test_startup import free_port

TOKEN = "123456789:RUN-process-test-token-000000000000"
USER = 777


async def test_run_migrates_polls_the_configured_api_and_stops_gracefully(
    tmp_path: Path,
) -> None:
    database = tmp_path / "bot.sqlite3"
    async with SandboxServer() as sandbox:
        env = clean_env(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=sandbox.api_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{database}",
            LOG_LEVEL="INFO",
        )
        process = await asyncio.create_subprocess_exec(
            str(TWITCHCHECK),
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=60)
            await sandbox.exchange_text(USER, "/start", timeout=30)
            assert "agree" in (sandbox.last_message(USER).plain_text or "")
            await sandbox.exchange_press(USER, "I agree", timeout=30)
            assert "timezone" in (sandbox.last_message(USER).plain_text or "")
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()[-2000:]
    logs = stderr.decode()
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs
    assert "Traceback" not in logs
    with sqlite3.connect(database) as connection:
        [(consented,)] = connection.execute(
            "SELECT consented_at FROM users WHERE id = ?", (USER,)
        ).fetchall()
        [(step,)] = connection.execute(
            "SELECT step FROM conversation_states WHERE user_id = ?", (USER,)
        ).fetchall()
    assert consented is not None, "the users row is created together with the consent"
    assert step == "timezone"


async def _read_stderr_until(stream: asyncio.StreamReader, phrase: str, seen: list[str]) -> None:
    """Collect stderr lines into `seen` until one holds `phrase` (at most a minute)."""
    async with asyncio.timeout(60):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"stderr ended before {phrase!r}: {''.join(seen)[-2000:]}")
            seen.append(line)
            if phrase in line:
                return


async def test_run_waits_for_a_bot_api_that_comes_up_late(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=f"http://127.0.0.1:{port}/bot",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        STARTUP_RETRY_SECONDS="120",
    )
    process = await asyncio.create_subprocess_exec(
        str(TWITCHCHECK), "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        await _read_stderr_until(process.stderr, "not reachable", seen)
        sandbox = SandboxServer()
        await sandbox.start(port=port)
        try:
            await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=60)
            await sandbox.exchange_text(USER, "/start", timeout=30)
            assert "agree" in (sandbox.last_message(USER).plain_text or "")
        finally:
            process.send_signal(signal.SIGINT)
            _, rest = await asyncio.wait_for(process.communicate(), timeout=60)
            await sandbox.stop()
    finally:
        if process.returncode is None:
            process.kill()
    logs = "".join(seen) + rest.decode()
    assert process.returncode == 0, logs[-2000:]
    assert "Traceback" not in logs
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs


async def test_a_fatal_signal_leaves_its_cause_and_a_traceback_in_the_log(tmp_path: Path) -> None:
    """SQLite maps -shm into memory; when that goes wrong the process dies by SIGBUS. The log
    must then say so (faulthandler) instead of ending silently."""
    async with SandboxServer() as sandbox:
        env = clean_env(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=sandbox.api_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        )
        process = await asyncio.create_subprocess_exec(
            str(TWITCHCHECK), "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
        )
        await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=60)
        process.send_signal(signal.SIGBUS)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == -signal.SIGBUS
    logs = stderr.decode()
    assert "Fatal Python error: Bus error" in logs
    assert "most recent call first" in logs
