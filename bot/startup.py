"""What `twitchcheck run` and `migrate` check before the bot starts.

Each failure a person running the bot can fix — a malformed DATABASE_URL, a database path
that cannot be used, PostgreSQL not reachable, the Bot API not reachable — becomes a
StartupError holding one paragraph (what is wrong, what to do); the CLI prints it and exits
with status 2, like a missing token. An unreachable Bot API is retried with backoff first.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, RetryAfter

from bot.db import migrate as migrations
from bot.db.session import create_engine, normalise_url
from bot.db.storage import (
    SqliteFiles,
    StorageError,
    ensure_folder,
    mark_has_data,
    refuse_if_emptied,
    refuse_if_lost,
    refuse_unwritable,
)
from bot.logs import describe_exception

log = logging.getLogger(__name__)

URL_EXAMPLES = (
    "sqlite+aiosqlite:///data/twitchcheck.sqlite3 (a file, relative to where the bot starts; "
    "four slashes for an absolute path) or postgresql+asyncpg://user:password@host:5432/dbname"
)
FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 30.0

Sleep = Callable[[float], Awaitable[None]]


class StartupError(Exception):
    """The bot cannot start; the message is one paragraph saying why and what to do."""


def parse_database_url(url: str) -> URL:
    """The URL, if it names a database twitchcheck can use (SQLite or PostgreSQL)."""
    try:
        parsed = make_url(normalise_url(url))
    except (ArgumentError, ValueError):
        # Not echoed: a URL can hold a password.
        raise StartupError(
            f"DATABASE_URL is not a database URL. It should look like {URL_EXAMPLES}."
        ) from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise StartupError(
            f"DATABASE_URL names a {parsed.get_backend_name()!r} database; twitchcheck works "
            f"with SQLite and PostgreSQL only, e.g. {URL_EXAMPLES}."
        )
    return parsed


def describe_server(parsed: URL) -> str:
    """host:port/database as a person would recognise it, never the password."""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.host or 'localhost'}{port}, database {parsed.database!r}"


class SchemaNotAtHead(StartupError):
    """PostgreSQL's schema is not the one this code needs, and `run` does not migrate it."""


def schema_refusal(parsed: URL, current: str | None, head: str) -> str:
    where = describe_server(parsed)
    if current is not None and current not in migrations.revisions():
        return (
            f"The PostgreSQL database at {where} is at schema revision {current}, which this "
            f"version of twitchcheck does not know (it needs {head}): a newer version migrated "
            "it. Run that version, or downgrade the database with the version that migrated it."
        )
    state = "empty" if current is None else f"at schema revision {current}"
    return (
        f"The PostgreSQL database at {where} is {state}; this version of twitchcheck needs "
        f"revision {head}. On PostgreSQL migrations are their own step: run `twitchcheck "
        "migrate` once (with docker compose: `docker compose run --rm migrate`), then start "
        "the bot again, or start it with `twitchcheck run --migrate`."
    )


async def prepare_database(url: str, *, remember_data: bool = True, migrate: bool = True) -> None:
    """Check the database location, apply pending migrations, and (SQLite, unless
    remember_data is off) leave the has-data marker; StartupError for what a person can fix.

    With `migrate` off (PostgreSQL `run` without --migrate) the schema must already be at
    head, else SchemaNotAtHead says which command to run. SQLite always migrates: it is the
    one-process laptop set-up, and `make run` stays one command."""
    parsed = parse_database_url(url)
    files = SqliteFiles.from_url(url)
    try:
        if files is not None:
            ensure_folder(files)
            if remember_data:
                refuse_if_lost(files)
            if not files.database.exists():
                log.warning("no database at %s: creating a new, empty one", files.database)
            refuse_unwritable(files)
        engine = create_engine(url)
    except StorageError as error:
        raise StartupError(str(error)) from None
    except NoSuchModuleError:
        raise StartupError(
            f"DATABASE_URL names a database driver that is not installed. Use {URL_EXAMPLES}."
        ) from None
    try:
        if files is not None and remember_data:
            refuse_if_emptied(files, await migrations.current_revision(engine))
        if migrate or files is not None:
            await migrations.upgrade(engine)
        else:
            current, head = await migrations.current_revision(engine), migrations.head()
            if current != head:
                raise SchemaNotAtHead(schema_refusal(parsed, current, head))
    except StorageError as error:
        raise StartupError(str(error)) from None
    except (OSError, SQLAlchemyError, TimeoutError, asyncpg.PostgresError) as error:
        raise StartupError(database_failure(parsed, files, error)) from None
    finally:
        await engine.dispose()
    if files is not None and remember_data:
        mark_has_data(files)


def database_failure(parsed: URL, files: SqliteFiles | None, error: BaseException) -> str:
    reason = describe_exception(error)
    if files is not None:
        return (
            f"The SQLite database {files.database} could not be opened or migrated ({reason}). "
            "Check that the file is a twitchcheck database and that the user running "
            "twitchcheck can write it and its folder."
        )
    return (
        f"Could not reach the PostgreSQL server at {describe_server(parsed)} ({reason}). "
        "Check that the server is running and reachable from here, and the host, port, user, "
        "password and database name in DATABASE_URL; `docker compose up db` starts the one "
        "in docker-compose.yml."
    )


def retry_delays(budget_seconds: float) -> list[float]:
    """Waits of 1, 2, 4 … up to 30 s between attempts, adding up to at most the budget."""
    delays: list[float] = []
    delay, total = FIRST_RETRY_SECONDS, 0.0
    while total + delay <= budget_seconds:
        delays.append(delay)
        total += delay
        delay = min(delay * 2, LONGEST_RETRY_SECONDS)
    remainder = budget_seconds - total
    if remainder > 0.05:
        delays.append(remainder)
    return delays


async def wait_for_bot_api(
    token: str,
    api_url: str,
    *,
    base_file_url: str,
    budget_seconds: float,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Ask the Bot API who we are (getMe) until it answers, retrying network failures with
    backoff for up to budget_seconds; StartupError if it never does or rejects the token."""
    delays = retry_delays(budget_seconds)
    for attempt in range(1, len(delays) + 2):
        try:
            async with Bot(token, base_url=api_url, base_file_url=base_file_url):
                return
        except InvalidToken:
            raise StartupError(
                f"The Bot API at {api_url} did not accept TELEGRAM_BOT_TOKEN. Check the token "
                "with @BotFather (/mybots → API Token); it may have been revoked."
            ) from None
        except RetryAfter as error:
            after = error.retry_after
            seconds = after.total_seconds() if isinstance(after, dtm.timedelta) else after
            wait = max(float(seconds), 1.0)
            failure = describe_exception(error)
        except NetworkError as error:  # connection refused, DNS, timeouts, 5xx
            wait = 0.0
            failure = describe_exception(error)
        if attempt > len(delays):
            break
        wait = max(wait, delays[attempt - 1])
        log.warning(
            "Bot API at %s not reachable (%s); attempt %d of %d, next in %.0f s",
            api_url,
            failure,
            attempt,
            len(delays) + 1,
            wait,
        )
        await sleep(wait)
    raise StartupError(
        f"The Bot API at {api_url} could not be reached ({failure}); tried {len(delays) + 1} "
        f"times over {budget_seconds:.0f} s. Check the network connection and TELEGRAM_API_URL "
        "(leave it unset for Telegram itself); the bot stopped before answering anyone. "
        "STARTUP_RETRY_SECONDS sets how long it keeps trying."
    )
