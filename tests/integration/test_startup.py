"""`twitchcheck run` and `migrate` as their own processes when something outside the bot is
wrong: one paragraph and exit status 2, never a traceback; a database that existed is never
silently replaced by an empty one; a database file that cannot be written is refused."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.migrate import revisions
from bot.startup import StartupError, prepare_database, retry_delays
from tests.integration.test_cli import clean_env, schema_revision, twitchcheck

TOKEN = "123456789:STARTUP-test-token-0000000000000000"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ [\w.]+: ")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def explains_without_traceback(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """Exit 2, the phrases on stderr, no traceback, a paragraph rather than a page."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    explanation = [line for line in lines if line.startswith("twitchcheck:")]
    assert len(explanation) == 1, result.stderr
    # Everything else is logging (a log message may span lines): no traceback frames.
    assert LOG_LINE.match(lines[0]) or lines[0] in explanation, result.stderr
    assert not any(line.lstrip().startswith('File "') for line in lines), result.stderr
    return result.stderr


# --- DATABASE_URL and the database path --------------------------------------------------


@pytest.mark.parametrize("command", ["migrate", "run"])
def test_a_garbage_database_url_is_explained(tmp_path: Path, command: str) -> None:
    env = clean_env(DATABASE_URL="garbage", TELEGRAM_BOT_TOKEN=TOKEN)
    stderr = explains_without_traceback(
        twitchcheck(command, cwd=tmp_path, env=env), "DATABASE_URL is not a database URL"
    )
    assert "sqlite+aiosqlite:///" in stderr and "postgresql+asyncpg://" in stderr


def test_a_database_url_for_another_database_is_explained(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL="mysql://user:secret-pw@host/db")
    stderr = explains_without_traceback(
        twitchcheck("migrate", cwd=tmp_path, env=env), "SQLite and PostgreSQL only"
    )
    assert "secret-pw" not in stderr


def test_a_database_path_whose_parent_is_a_file_is_explained(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    env = clean_env(DATABASE_URL=sqlite_url(tmp_path / "data" / "bot.sqlite3"))
    explains_without_traceback(twitchcheck("migrate", cwd=tmp_path, env=env), "is a file")


def test_an_unreachable_postgresql_is_explained(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://bot:secret-pw@127.0.0.1:{free_port()}/twitchcheck"
    stderr = explains_without_traceback(
        twitchcheck("migrate", cwd=tmp_path, env=clean_env(DATABASE_URL=url)),
        "Could not reach the PostgreSQL server at 127.0.0.1:",
        "database 'twitchcheck'",
    )
    assert "secret-pw" not in stderr


# --- a database that existed -------------------------------------------------------------


def migrated(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    database = tmp_path / "db" / "bot.sqlite3"
    env = clean_env(DATABASE_URL=sqlite_url(database), TELEGRAM_BOT_TOKEN=TOKEN)
    result = twitchcheck("migrate", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return database, env


@pytest.mark.parametrize("command", ["migrate", "run"])
def test_a_missing_database_that_existed_is_not_replaced_by_an_empty_one(
    tmp_path: Path, command: str
) -> None:
    database, env = migrated(tmp_path)
    database.unlink()
    stderr = explains_without_traceback(
        twitchcheck(command, cwd=tmp_path, env=env), "is missing", "Restore the database"
    )
    assert "bot.sqlite3.has-data" in stderr
    assert not database.exists()  # nothing was created in its place


async def test_a_first_start_says_it_creates_a_database_and_leaves_a_marker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "db" / "bot.sqlite3"
    caplog.set_level(logging.WARNING, logger="bot.startup")
    await prepare_database(sqlite_url(database))
    assert [record.getMessage() for record in caplog.records] == [
        f"no database at {database}: creating a new, empty one"
    ]
    marker = database.with_name("bot.sqlite3.has-data")
    assert "refuses to start on a missing or empty database" in marker.read_text()
    caplog.clear()
    await prepare_database(sqlite_url(database))
    assert caplog.records == []


async def test_an_emptied_database_that_had_data_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    await prepare_database(sqlite_url(database))
    database.write_bytes(b"")
    with pytest.raises(StartupError, match="is empty"):
        await prepare_database(sqlite_url(database))
    assert database.stat().st_size == 0  # not even opened


async def test_a_database_replaced_by_one_without_tables_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    await prepare_database(sqlite_url(database))
    database.unlink()
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE unrelated (x)")
    with pytest.raises(StartupError, match="has no tables"):
        await prepare_database(sqlite_url(database))
    with sqlite3.connect(database) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    assert tables == {"unrelated"}  # nothing was migrated into it


async def test_deleting_the_marker_allows_a_fresh_start_on_purpose(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    await prepare_database(sqlite_url(database))
    database.unlink()
    database.with_name("bot.sqlite3.has-data").unlink()
    await prepare_database(sqlite_url(database))
    assert schema_revision(database) == revisions()[-1]


async def test_a_database_made_before_markers_gets_one(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    await prepare_database(sqlite_url(database))
    marker = database.with_name("bot.sqlite3.has-data")
    marker.unlink()
    await prepare_database(sqlite_url(database))
    assert marker.exists()


async def test_the_sandbox_keeps_no_marker(tmp_path: Path) -> None:
    database = tmp_path / "sandbox.sqlite3"
    await prepare_database(sqlite_url(database), remember_data=False)
    database.unlink()
    await prepare_database(sqlite_url(database), remember_data=False)  # starts afresh
    assert not database.with_name("sandbox.sqlite3.has-data").exists()


# --- files SQLite cannot write -----------------------------------------------------------


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make a file impossible to open for writing for this process: read-only permissions,
    or for root (who ignores them) the immutable attribute."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("running as root without a usable chattr: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def leave_wal_files(database: Path) -> None:
    """A -wal and -shm as a crashed process leaves them (sqlite3 deletes them on close)."""
    script = (
        "import os, sqlite3, sys\n"
        "connection = sqlite3.connect(sys.argv[1])\n"
        "connection.execute('PRAGMA journal_mode=WAL')\n"
        "connection.execute('CREATE TABLE IF NOT EXISTS crash_probe (x)')\n"
        "connection.commit()\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(database)], check=True)
    assert database.with_name(database.name + "-shm").exists()


def test_a_read_only_shm_file_is_refused_before_sqlite_maps_it(tmp_path: Path) -> None:
    database, env = migrated(tmp_path)
    leave_wal_files(database)
    shm = database.with_name("bot.sqlite3-shm")
    with unwritable(shm):
        stderr = explains_without_traceback(
            twitchcheck("run", cwd=tmp_path, env=env), "cannot be opened for writing"
        )
    assert "bot.sqlite3-shm" in stderr and "write access" in stderr
    with sqlite3.connect(database) as connection:  # the database itself is untouched
        assert connection.execute("SELECT count(*) FROM users").fetchone() == (0,)


# --- the Bot API -------------------------------------------------------------------------


def test_an_unreachable_bot_api_is_retried_then_explained(tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{free_port()}/bot"
    env = clean_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api_url,
        DATABASE_URL=sqlite_url(tmp_path / "bot.sqlite3"),
        STARTUP_RETRY_SECONDS="3",
    )
    stderr = explains_without_traceback(
        twitchcheck("run", cwd=tmp_path, env=env), "could not be reached", "STARTUP_RETRY_SECONDS"
    )
    retries = [line for line in stderr.splitlines() if "not reachable" in line]
    assert len(retries) == len(retry_delays(3)) >= 2  # each attempt logged, then given up
    assert "attempt 1 of" in retries[0] and api_url in retries[0]
    assert TOKEN not in stderr and TOKEN.split(":")[1] not in stderr


def test_retry_waits_double_up_to_thirty_seconds_within_the_budget() -> None:
    assert retry_delays(0) == []
    assert retry_delays(3) == [1.0, 2.0]
    assert retry_delays(120) == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 29.0]
    assert sum(retry_delays(1000)) == pytest.approx(1000)
