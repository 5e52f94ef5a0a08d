"""Reminder delivery through the outbox under Telegram's flood limits.

N people are due in the same minute. One scheduler tick writes their reminders to the outbox
(timed), then the outbox dispatcher(s) send them to the sandbox in flood mode — which answers
429 with retry_after above 30 messages/s overall (and 20/min per group), as Telegram does.
Reported: messages/s delivered (first to last delivery) as a share of the 30/s limit, the
429s received (all, and after the first second), duplicates (a person with more than one
reminder) and lost (a person with none, or a row not sent). SQLite runs one instance (one
writer per file); PostgreSQL runs two instances (two engines and two dispatchers sharing the
budget row) to show the budget holds across instances.

    python -m benchmarks.outbox_delivery [--people 2000] [--no-postgres] [--no-sqlite]

The documented run is ``--people 10000`` (at 30/s that alone takes ≥ 333 s per backend); the
default of 2,000 keeps ``make bench-outbox`` to a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import asyncpg
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.db import migrate
from bot.db.models import OutboxMessage, User
from bot.db.session import SessionFactory, create_engine, create_session_factory
from bot.domain.outbox import OutboxState, OutgoingMessage
from bot.paths import CONTENT_DIR
from bot.sandbox.server import FloodLimits, SandboxServer
from bot.services.outbox import Dispatcher
from bot.services.reminders import Reminder, ReminderService
from bot.texts import load_texts, message_files
from bot.transport import AiohttpRequest
from handlers.outbox import TelegramTransport
from handlers.reminders import compose_reminder
from tests.support.postgres import PostgresServer, PostgresUnavailable, start_server

TOKEN = "123456789:OUTBOX-BENCH-token-for-the-sandbox-00"
TELEGRAM_LIMIT = 30.0
TARGET_SHARE = 0.95
INSERT_CHUNK = 5_000
FIRST_USER = 10_000_000


@dataclass(frozen=True)
class Result:
    backend: str
    instances: int
    people: int
    tick_seconds: float
    delivered: int
    seconds: float
    rate: float
    refusals: int
    refusals_after_first_second: int
    duplicates: int
    lost: int

    @property
    def share(self) -> float:
        return self.rate / TELEGRAM_LIMIT


async def populate(engine: AsyncEngine, people: int, due: datetime) -> None:
    """People whose reminders all fall due within the minute before ``due``."""
    sessions = create_session_factory(engine)
    for start in range(0, people, INSERT_CHUNK):
        rows = [
            {
                "id": FIRST_USER + index,
                "consented_at": due - timedelta(days=30),
                "timezone": "UTC",
                "reminder_time": clock_time(due.hour, due.minute),
                "next_reminder_at": due - timedelta(seconds=index % 60),
            }
            for index in range(start, min(start + INSERT_CHUNK, people))
        ]
        async with sessions.begin() as session:
            await session.execute(insert(User), rows)


async def open_rows(sessions: SessionFactory) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]))
        )
    return int(count or 0)


async def measure(
    backend: str, engines: Sequence[AsyncEngine], people: int, *, progress: bool
) -> Result:
    """One run: populate, one tick, dispatchers until the outbox is empty, then count."""
    first = engines[0]
    await migrate.upgrade(first)
    now = datetime.now(UTC).replace(microsecond=0)
    await populate(first, people, now)
    sessions = [create_session_factory(engine) for engine in engines]
    texts = load_texts(message_files(CONTENT_DIR))

    def compose(reminder: Reminder) -> OutgoingMessage:
        return compose_reminder(texts, reminder)

    scheduler = ReminderService(sessions[0], backfill_every_ticks=0)
    started = time.perf_counter()
    stats = await scheduler.tick(now=now, compose=compose)
    tick_seconds = time.perf_counter() - started
    if stats.queued != people:
        raise RuntimeError(f"the tick queued {stats.queued} of {people}: {stats}")

    async with SandboxServer(flood_limits=FloodLimits()) as sandbox:
        bots = [
            Bot(
                TOKEN,
                base_url=sandbox.api_url,
                base_file_url=sandbox.file_url,
                request=AiohttpRequest(),
            )
            for _ in engines
        ]
        for bot in bots:
            await bot.initialize()
        dispatchers = [
            Dispatcher(factory, TelegramTransport(bot), name=f"instance-{index + 1}")
            for index, (factory, bot) in enumerate(zip(sessions, bots, strict=True))
        ]
        for dispatcher in dispatchers:
            dispatcher.start()
        try:
            while (left := await open_rows(sessions[0])) > 0:
                if progress:
                    print(f"    {backend}: {people - left:,} of {people:,} done", end="\r")
                await asyncio.sleep(1.0)
        finally:
            for dispatcher in dispatchers:
                await dispatcher.stop()
            for bot in bots:
                await bot.shutdown()
        if progress:
            print(" " * 60, end="\r")
        return count(backend, len(engines), people, tick_seconds, sandbox, sessions[0])


def count(
    backend: str,
    instances: int,
    people: int,
    tick_seconds: float,
    sandbox: SandboxServer,
    sessions: SessionFactory,
) -> Result:
    per_person: Counter[int] = Counter()
    times: list[float] = []
    for user_id in range(FIRST_USER, FIRST_USER + people):
        for message in sandbox.messages(user_id):
            per_person[user_id] += 1
            moment = sandbox.call_time(message.seq)
            if moment is not None:
                times.append(moment)
    times.sort()
    seconds = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / seconds if seconds > 0 else 0.0
    refusals = sandbox.flood_refusals
    after_first = [moment for moment in refusals if times and moment > times[0] + 1.0]
    duplicates = sum(1 for sent in per_person.values() if sent > 1)
    lost = people - len(per_person)
    return Result(
        backend=backend,
        instances=instances,
        people=people,
        tick_seconds=tick_seconds,
        delivered=sum(per_person.values()),
        seconds=seconds,
        rate=rate,
        refusals=len(refusals),
        refusals_after_first_second=len(after_first),
        duplicates=duplicates,
        lost=lost,
    )


def report(results: Sequence[Result]) -> None:
    print(
        "\n| backend | instances | people | tick s | delivered | seconds | msgs/s "
        "| share of 30/s | 429s (after 1st s) | duplicates | lost |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.backend} | {r.instances} | {r.people:,} | {r.tick_seconds:.2f} "
            f"| {r.delivered:,} | {r.seconds:.1f} | {r.rate:.2f} | {r.share:.1%} "
            f"| {r.refusals} ({r.refusals_after_first_second}) | {r.duplicates} | {r.lost} |"
        )
    failed = [
        r
        for r in results
        if r.share < TARGET_SHARE or r.refusals_after_first_second or r.duplicates or r.lost
    ]
    verdict = (
        "all targets met"
        if not failed
        else "TARGETS MISSED: " + ", ".join(f"{r.backend} ×{r.instances}" for r in failed)
    )
    print(
        f"\ntargets: share ≥ {TARGET_SHARE:.0%}, 0 429s after the first second, "
        f"0 duplicates, 0 lost — {verdict}"
    )


async def main(people: int, sqlite: bool, postgres: bool, progress: bool) -> int:
    print(f"outbox delivery: {people:,} people due in the same minute, sandbox flood mode on")
    results: list[Result] = []
    if sqlite:
        with tempfile.TemporaryDirectory(prefix="twitchcheck-outbox-") as folder:
            engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'outbox.sqlite3'}")
            try:
                results.append(await measure("SQLite", [engine], people, progress=progress))
            finally:
                await engine.dispose()
    if postgres:
        try:
            server: PostgresServer = start_server()
        except PostgresUnavailable as error:
            print(f"PostgreSQL unavailable ({error}); skipped.")
        else:
            try:
                name = f"bench_{uuid.uuid4().hex[:10]}"
                connection = await asyncpg.connect(server.dsn)
                try:
                    await connection.execute(f'CREATE DATABASE "{name}"')
                finally:
                    await connection.close()
                engines = [create_engine(server.url(name)) for _ in range(2)]
                try:
                    results.append(await measure("PostgreSQL", engines, people, progress=progress))
                finally:
                    for engine in engines:
                        await engine.dispose()
            finally:
                server.stop()
    report(results)
    bad = [r for r in results if r.duplicates or r.lost]
    return 1 if bad else 0


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    arguments = parser.parse_args()
    code = asyncio.run(
        main(
            arguments.people,
            not arguments.no_sqlite,
            not arguments.no_postgres,
            not arguments.quiet,
        )
    )
    raise SystemExit(code)


if __name__ == "__main__":
    cli()
