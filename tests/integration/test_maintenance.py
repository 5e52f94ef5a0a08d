"""Housekeeping on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import ConsentRequest, ProcessedUpdate
from bot.db.session import create_session_factory
from bot.services.maintenance import (
    PROCESSED_UPDATE_RETENTION,
    forget_old_updates,
    forget_unanswered_consent,
)


async def test_old_update_ids_are_forgotten_recent_ones_kept(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        session.add(ProcessedUpdate(update_id=1, processed_at=now - timedelta(days=5)))
        session.add(
            ProcessedUpdate(
                update_id=2, processed_at=now - PROCESSED_UPDATE_RETENTION - timedelta(minutes=1)
            )
        )
        session.add(ProcessedUpdate(update_id=3, processed_at=now - timedelta(hours=3)))
    assert await forget_old_updates(sessions, now=now) == 2
    async with sessions() as session:
        left = list((await session.execute(select(ProcessedUpdate.update_id))).scalars())
    assert left == [3]


async def test_consent_questions_older_than_a_day_are_forgotten(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        session.add(ConsentRequest(user_id=1, token="aaaaaa", created_at=now - timedelta(days=3)))
        session.add(
            ConsentRequest(user_id=2, token="bbbbbb", created_at=now - timedelta(days=1, seconds=1))
        )
        session.add(ConsentRequest(user_id=3, token="cccccc", created_at=now - timedelta(hours=23)))
    assert await forget_unanswered_consent(sessions, now=now) == 2
    async with sessions() as session:
        left = list((await session.execute(select(ConsentRequest.user_id))).scalars())
    assert left == [3]
