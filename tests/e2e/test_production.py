"""`bot.runner.serve` in polling mode against the sandbox: health, readiness (also when the
database goes away), metrics parsed with prometheus_client.parser, a graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build_application
from bot.cli import apply_migrations
from bot.config import Settings
from bot.runner import HttpServer, RunState, serve
from bot.sandbox.server import SandboxServer
from tests.conftest import create_pg_database
from tests.e2e.harness import TOKEN
from tests.support.postgres import PostgresServer

USER = 4242


@dataclass
class Served:
    http: httpx.AsyncClient
    state: RunState
    task: asyncio.Task[int]


@contextlib.asynccontextmanager
async def served(sandbox: SandboxServer, database_url: str) -> AsyncIterator[Served]:
    settings = Settings(
        telegram_api_url=sandbox.api_url,
        database_url=database_url,
        http_port=0,
        _env_file=None,
    )
    application = build_application(settings, token=TOKEN)
    state = RunState()
    listening: asyncio.Future[HttpServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(
            settings,
            application,
            state=state,
            on_listening=listening.set_result,
            handle_signals=False,
        )
    )
    server = await asyncio.wait_for(asyncio.shield(listening), timeout=60)
    await sandbox.wait_for_call(lambda call: call.method == "getUpdates", timeout=60)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        try:
            yield Served(http, state, task)
        finally:
            state.request_stop()
            await asyncio.wait_for(task, timeout=60)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_health_readiness_metrics_and_a_clean_stop_in_polling_mode(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await apply_migrations(url)
    async with served(sandbox, url) as bot:
        await sandbox.exchange_text(USER, "/start")
        await sandbox.exchange_press(USER, "I agree")
        assert (await bot.http.get("/healthz")).text == "ok"
        ready = await bot.http.get("/readyz")
        assert ready.status_code == 200, ready.text
        metrics = await bot.http.get("/metrics")
        assert metrics.status_code == 200
        values = samples(metrics.text)
        assert values[("twitchcheck_updates_total", (("outcome", "ok"), ("type", "message")))] == 1
        assert (
            values[("twitchcheck_updates_total", (("outcome", "ok"), ("type", "callback_query")))]
            == 1
        )
        assert values[("twitchcheck_handler_seconds_count", ())] == 2
        assert values[("twitchcheck_sends_total", (("outcome", "ok"),))] >= 2
        assert values[("twitchcheck_sends_total", (("outcome", "403"),))] == 0
        # Read from the database at the scrape: nobody has a reminder time yet.
        assert values[("twitchcheck_queue_depth", (("queue", "reminders"),))] == 0
        # Nothing in the metrics identifies anyone: no label carries the person's id.
        assert str(USER) not in metrics.text

        (tmp_path / "bot.sqlite3").rename(tmp_path / "moved.sqlite3")
        gone = await bot.http.get("/readyz")
        assert gone.status_code == 503
        assert any("database" in problem for problem in gone.json()["problems"])
        assert (await bot.http.get("/healthz")).status_code == 200  # alive all the same
    assert bot.task.result() == 0


@pytest.mark.postgres
async def test_readyz_reports_a_postgresql_database_that_went_away(
    sandbox: SandboxServer, postgres_server: PostgresServer
) -> None:
    url = await create_pg_database(postgres_server)
    await apply_migrations(url)
    async with served(sandbox, url) as bot:
        assert (await bot.http.get("/readyz")).status_code == 200
        name = url.rsplit("/", 1)[1]
        connection = await asyncpg.connect(postgres_server.dsn)
        try:
            await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await connection.close()
        gone = await bot.http.get("/readyz")
        assert gone.status_code == 503
        assert any("database" in problem for problem in gone.json()["problems"])
        metrics = await bot.http.get("/metrics")  # still answers without its database
        assert metrics.status_code == 200


async def test_readyz_says_when_the_schema_is_not_at_head(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await apply_migrations(url)
    async with served(sandbox, url) as bot:
        import sqlite3

        with sqlite3.connect(tmp_path / "bot.sqlite3") as connection:
            connection.execute("UPDATE alembic_version SET version_num = '0001'")
        answer = await bot.http.get("/readyz")
    assert answer.status_code == 503
    assert any("twitchcheck migrate" in problem for problem in answer.json()["problems"])
