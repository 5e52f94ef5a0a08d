"""The database folder deleted while the bot runs: noticed, logged, not ready, and the next
start refuses to begin with an empty database."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.context import DEPS_KEY, Deps
from bot.db.storage import SqliteFiles
from bot.sandbox.server import SandboxServer
from bot.services.health import check_readiness
from bot.startup import StartupError, prepare_database
from tests.e2e.harness import BotRunner
from tests.support.clock import FakeClock

USER = 6161


@pytest.fixture
async def own_folder_bot(
    sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[BotRunner]:
    """The bot on a database in a folder of its own, so the folder can be deleted."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'bot.sqlite3'}"
    await prepare_database(url)
    settings = Settings(telegram_api_url=sandbox.api_url, database_url=url, _env_file=None)
    runner = BotRunner(sandbox=sandbox, settings=settings, clock=clock)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


def deps_of(bot: BotRunner) -> Deps:
    assert bot.application is not None
    deps: Deps = bot.application.bot_data[DEPS_KEY]
    return deps


async def test_a_deleted_database_folder_is_noticed_and_a_restart_refuses_to_start_empty(
    caplog: pytest.LogCaptureFixture, sandbox: SandboxServer, own_folder_bot: BotRunner
) -> None:
    bot = own_folder_bot
    deps = deps_of(bot)
    await sandbox.exchange_text(USER, "/start")
    await sandbox.exchange_press(USER, "I agree")
    assert (await check_readiness(deps.sessions, deps.storage)).ready
    assert bot.application is not None and bot.application.job_queue is not None
    assert bot.application.job_queue.get_jobs_by_name("storage-check")  # checked periodically

    files = SqliteFiles.from_url(bot.settings.database_url)
    assert files is not None
    shutil.rmtree(files.folder)
    caplog.set_level(logging.INFO)
    readiness = await check_readiness(deps.sessions, deps.storage)
    assert not readiness.ready
    assert any("is gone" in problem for problem in readiness.problems)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.name for record in errors] == ["bot.db.storage"]
    assert "is gone" in errors[0].getMessage()
    await check_readiness(deps.sessions, deps.storage)  # logged once, not on every check
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    assert files.marker.exists(), "the marker is left so a restart does not start empty"

    await bot.stop()
    with pytest.raises(StartupError, match="is missing"):
        await prepare_database(bot.settings.database_url)
    assert not files.database.exists()


async def test_a_database_file_replaced_while_running_is_not_ready(
    sandbox: SandboxServer, own_folder_bot: BotRunner
) -> None:
    deps = deps_of(own_folder_bot)
    files = SqliteFiles.from_url(own_folder_bot.settings.database_url)
    assert files is not None
    copy = files.folder / "copy.sqlite3"
    shutil.copy(files.database, copy)
    copy.replace(files.database)  # e.g. a backup restored over the open database
    readiness = await check_readiness(deps.sessions, deps.storage)
    assert not readiness.ready
    assert any("was replaced" in problem for problem in readiness.problems)
