"""Cost of one reminder scheduler tick with 1,000 and 100,000 people, on SQLite and PostgreSQL.

A tick here is what ``ReminderService.tick`` does against the database — claim the due rows
through the ``next_reminder_at`` index, look up today's check-ins, decide, store each next due
time, write each reminder to the outbox, commit. Sending is the outbox dispatcher's job and is
not part of a tick (``make bench-outbox`` measures it).
Measured with a handful (5) and with many (1,000) people due; the median of several repeats.
The claim query's plan is printed for both backends to show the index is used: the cost follows
the number due, not the number of people.

    python -m benchmarks.scheduler_tick [--sizes 1000 100000] [--repeats 9] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import asyncpg
from sqlalchemy import delete, insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.models import OutboxMessage, User
from bot.db.session import create_engine, create_session_factory
from bot.paths import CONTENT_DIR
from bot.services.reminders import (
    DEFAULT_BACKFILL_EVERY_TICKS,
    ReminderService,
    claim_statement,
    needs_scheduling_statement,
)
from bot.texts import Texts, load_texts, message_files
from handlers.reminders import compose_reminder
from tests.support.postgres import PostgresServer, PostgresUnavailable, start_server

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HANDFUL = 5
MANY = 1_000
INSERT_CHUNK = 5_000
# Every tenth person has reminders switched off: NULL next_reminder_at, like real data.
REMINDERS_OFF_EVERY = 10
HANDFUL_REPEAT_FACTOR = 3


@dataclass(frozen=True)
class Row:
    backend: str
    people: int
    due: int
    median_ms: float
    low_ms: float
    high_ms: float


def _person(index: int, people: int) -> dict[str, object]:
    """A consented Berlin person due some time in the next 24 hours (or with reminders off)."""
    off = index % REMINDERS_OFF_EVERY == REMINDERS_OFF_EVERY - 1
    spread = timedelta(seconds=60 + index * 86_000 // people)
    return {
        "id": index + 1,
        "consented_at": NOW - timedelta(days=30),
        "timezone": "Europe/Berlin",
        "reminder_time": None if off else clock_time(9, 0),
        "next_reminder_at": None if off else NOW + spread,
    }


async def populate(engine: AsyncEngine, people: int) -> list[int]:
    """Insert the people in chunks; returns the ids that have reminders."""
    sessions = create_session_factory(engine)
    for start in range(0, people, INSERT_CHUNK):
        chunk = [
            _person(index, people) for index in range(start, min(start + INSERT_CHUNK, people))
        ]
        async with sessions.begin() as session:
            await session.execute(insert(User), chunk)
    await settle(engine)
    return [
        index + 1
        for index in range(people)
        if index % REMINDERS_OFF_EVERY != REMINDERS_OFF_EVERY - 1
    ]


async def settle(engine: AsyncEngine) -> None:
    """Fresh statistics, and on PostgreSQL no bulk-load work (vacuum, checkpoint) left over
    to run in the background while the ticks are timed."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql":
            await autocommit.execute(text("VACUUM ANALYZE users"))
            await autocommit.execute(text("CHECKPOINT"))
        else:
            await autocommit.execute(text("ANALYZE"))
            await autocommit.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


async def make_due(engine: AsyncEngine, user_ids: Sequence[int]) -> None:
    """Those people due again, and yesterday's run's outbox rows gone (same dedupe keys)."""
    async with engine.begin() as connection:
        await connection.execute(delete(OutboxMessage))
        await connection.execute(
            update(User)
            .where(User.id.in_(list(user_ids)))
            .values(next_reminder_at=NOW - timedelta(minutes=1), last_reminded_date=None)
        )


async def time_ticks(
    engine: AsyncEngine,
    service: ReminderService,
    texts: Texts,
    due_ids: Sequence[int],
    repeats: int,
) -> list[float]:
    """Seconds per tick, each after making exactly ``due_ids`` due again."""
    seconds: list[float] = []
    for _ in range(repeats):
        await make_due(engine, due_ids)
        started = time.perf_counter()
        stats = await service.tick(
            now=NOW, compose=lambda reminder: compose_reminder(texts, reminder)
        )
        seconds.append(time.perf_counter() - started)
        if stats.claimed != len(due_ids) or stats.queued != len(due_ids):
            raise RuntimeError(f"expected {len(due_ids)} reminders, tick did {stats}")
    return seconds


def _driver_value(value: object, dialect_name: str) -> object:
    """What SQLAlchemy would hand the driver: SQLite stores datetimes as UTC text."""
    if isinstance(value, datetime) and dialect_name == "sqlite":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


async def query_plan(engine: AsyncEngine, statement_name: str) -> list[str]:
    """EXPLAIN (PostgreSQL) / EXPLAIN QUERY PLAN (SQLite) of the claim or backfill query."""
    dialect = engine.dialect
    statement = (
        claim_statement(NOW, 500, dialect.name)
        if statement_name == "claim"
        else needs_scheduling_statement(500, dialect.name)
    )
    compiled = statement.compile(dialect=dialect)
    names = compiled.positiontup or []
    parameters = tuple(_driver_value(compiled.params[name], dialect.name) for name in names)
    prefix = "EXPLAIN " if dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    async with engine.begin() as connection:
        result = await connection.exec_driver_sql(prefix + str(compiled), parameters)
        return [" | ".join(str(value) for value in row) for row in result.all()]


async def run_backend(
    backend: str, url_for: Callable[[int], Awaitable[str]], sizes: Sequence[int], repeats: int
) -> tuple[list[Row], dict[str, list[str]], dict[int, float]]:
    rows: list[Row] = []
    plans: dict[str, list[str]] = {}
    backfill_ms: dict[int, float] = {}
    texts = load_texts(message_files(CONTENT_DIR))
    for people in sizes:
        url = await url_for(people)
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
            started = time.perf_counter()
            with_reminders = await populate(engine, people)
            print(
                f"  {backend}: {people:,} people inserted in {time.perf_counter() - started:.1f} s"
            )
            service = ReminderService(create_session_factory(engine), backfill_every_ticks=0)
            for due in (HANDFUL, min(MANY, len(with_reminders))):
                # Spread the due people over the table so no cache favours them.
                step = max(1, len(with_reminders) // due)
                due_ids = with_reminders[::step][:due]
                await time_ticks(engine, service, texts, due_ids, 2)  # warm-up
                # Handful ticks take milliseconds: more repeats keep the median steady.
                times = repeats * HANDFUL_REPEAT_FACTOR if due == HANDFUL else repeats
                seconds = await time_ticks(engine, service, texts, due_ids, times)
                millis = [value * 1000 for value in seconds]
                rows.append(
                    Row(backend, people, due, statistics.median(millis), min(millis), max(millis))
                )
            started = time.perf_counter()
            for _ in range(repeats):
                await service.schedule_missing(now=NOW)
            backfill_ms[people] = (time.perf_counter() - started) * 1000 / repeats
            if people == max(sizes):
                plans["claim"] = await query_plan(engine, "claim")
                plans["needs scheduling"] = await query_plan(engine, "needs scheduling")
        finally:
            await engine.dispose()
    return rows, plans, backfill_ms


def report(
    backend: str, rows: list[Row], plans: dict[str, list[str]], backfill: dict[int, float]
) -> None:
    print(f"\n### {backend}\n")
    print("| people | due | median ms | min–max ms |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        spread = f"{row.low_ms:.2f}–{row.high_ms:.2f}"
        print(f"| {row.people:,} | {row.due:,} | {row.median_ms:.2f} | {spread} |")
    handful = {row.people: row for row in rows if row.due == HANDFUL}
    if len(handful) >= 2:
        small, large = handful[min(handful)], handful[max(handful)]
        print(
            f"\nhandful due at {large.people:,} / handful due at {small.people:,}: "
            f"{large.median_ms / small.median_ms:.2f} by median, "
            f"{large.low_ms / small.low_ms:.2f} by fastest run"
        )
    for people, millis in sorted(backfill.items()):
        print(
            f"needs-scheduling pass (every {DEFAULT_BACKFILL_EVERY_TICKS}th tick), "
            f"{people:,} people, {people // REMINDERS_OFF_EVERY:,} of them with reminders off: "
            f"{millis:.2f} ms"
        )
    for name, lines in plans.items():
        print(f"\n{name} query plan ({backend}):")
        for line in lines:
            print(f"    {line}")


async def main(sizes: Sequence[int], repeats: int, use_postgres: bool) -> None:
    people = ", ".join(f"{size:,}" for size in sizes)
    print(
        f"scheduler tick: {people} people; {HANDFUL} due (median of "
        f"{repeats * HANDFUL_REPEAT_FACTOR}) and up to {MANY:,} due (median of {repeats})"
    )
    with tempfile.TemporaryDirectory(prefix="twitchcheck-bench-") as folder:

        async def sqlite_url(people: int) -> str:
            return f"sqlite+aiosqlite:///{Path(folder) / f'tick-{people}.sqlite3'}"

        rows, plans, backfill = await run_backend("SQLite", sqlite_url, sizes, repeats)
        report("SQLite", rows, plans, backfill)

    if not use_postgres:
        return
    try:
        server: PostgresServer = start_server()
    except PostgresUnavailable as error:
        print(f"\nPostgreSQL unavailable ({error}); only SQLite was measured.")
        return
    try:

        async def postgres_url(people: int) -> str:
            name = f"bench_{uuid.uuid4().hex[:10]}"
            connection = await asyncpg.connect(server.dsn)
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()
            return server.url(name)

        rows, plans, backfill = await run_backend("PostgreSQL", postgres_url, sizes, repeats)
        report("PostgreSQL", rows, plans, backfill)
    finally:
        server.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--no-postgres", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.sizes, arguments.repeats, not arguments.no_postgres))


if __name__ == "__main__":
    cli()
