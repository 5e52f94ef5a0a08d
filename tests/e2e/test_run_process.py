"""`twitchcheck run` with a token, as its own process, against the sandbox at TELEGRAM_API_URL."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

from bot.sandbox.server import SandboxServer
from tests.integration.test_cli import TWITCHCHECK, clean_env

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
    assert consented is None, "consent is stored only when setup is finished"
    assert step == "timezone"
