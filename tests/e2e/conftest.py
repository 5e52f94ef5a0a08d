"""End-to-end fixtures: sandbox server, migrated database, running bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.cli import apply_migrations
from bot.config import Settings
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.support.clock import FakeClock


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite"])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}"
    await apply_migrations(url)
    return url


@pytest.fixture
async def bot(
    sandbox: SandboxServer, database_url: str, clock: FakeClock
) -> AsyncIterator[BotRunner]:
    settings = Settings(
        telegram_bot_token="",
        telegram_api_url=sandbox.api_url,
        database_url=database_url,
        default_timezone="Europe/Berlin",
        _env_file=None,
    )
    runner = BotRunner(sandbox=sandbox, settings=settings, clock=clock)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()
