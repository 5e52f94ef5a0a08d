"""Two scheduler instances on one PostgreSQL send every due reminder exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.models import OutboxMessage, User
from bot.db.session import create_engine, create_session_factory
from bot.domain.outbox import OutboxKind, OutgoingMessage
from bot.services.reminders import Reminder, ReminderService
from tests.conftest import create_pg_database
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres

PEOPLE = 200
# 09:00 in Berlin on Monday 23 November 2026.
DUE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
async def two_engines(postgres_server: PostgresServer) -> AsyncIterator[list[AsyncEngine]]:
    """One migrated database, reached through two engines as two bot processes would."""
    url = await create_pg_database(postgres_server)
    engines = [create_engine(url), create_engine(url)]
    await migrate.upgrade(engines[0])
    try:
        yield engines
    finally:
        for engine in engines:
            await engine.dispose()


class CountingSender:
    """Counts the reminders each tick queues, per person (the outbox rows are real)."""

    def __init__(self, counts: Counter[int]) -> None:
        self.counts = counts

    def __call__(self, reminder: Reminder) -> OutgoingMessage:
        self.counts[reminder.user_id] += 1
        return OutgoingMessage(
            chat_id=reminder.user_id,
            kind=OutboxKind.REMINDER,
            dedupe_key=reminder.dedupe_key,
            text="reminder",
            buttons=None,
            not_before=reminder.due_at,
            stale_after=None,
        )


async def test_two_instances_send_each_due_reminder_exactly_once(
    two_engines: list[AsyncEngine],
) -> None:
    first_engine = two_engines[0]
    async with create_session_factory(first_engine).begin() as session:
        await session.execute(
            insert(User),
            [
                {
                    "id": 1000 + index,
                    "consented_at": DUE - timedelta(days=30),
                    "timezone": "Europe/Berlin",
                    "reminder_time": time(9, 0),
                    "next_reminder_at": DUE - timedelta(seconds=index % 60),
                }
                for index in range(PEOPLE)
            ],
        )
    services = [
        ReminderService(create_session_factory(engine), batch_size=17) for engine in two_engines
    ]
    counts: Counter[int] = Counter()
    sender = CountingSender(counts)
    claimed_by = [0, 0]
    for round_number in range(4):
        now = DUE + timedelta(seconds=20 * round_number)
        results = await asyncio.gather(
            *(service.tick(now=now, compose=sender) for service in services)
        )
        for index, stats in enumerate(results):
            claimed_by[index] += stats.claimed

    assert len(counts) == PEOPLE
    assert set(counts.values()) == {1}
    assert sum(claimed_by) == PEOPLE
    # Both instances did part of the work, so the locking was really exercised.
    assert all(claimed_by), claimed_by

    # The next day, again exactly one each.
    next_day = DUE + timedelta(days=1)
    await asyncio.gather(*(service.tick(now=next_day, compose=sender) for service in services))
    assert set(counts.values()) == {2}
    async with create_session_factory(first_engine)() as session:
        rows = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert rows == 2 * PEOPLE
