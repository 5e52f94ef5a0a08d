"""Housekeeping that keeps tables small and forgets what must not be kept: old processed-update
ids, and consent questions nobody answered within a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from bot.db.models import ConsentRequest, ProcessedUpdate
from bot.db.session import SessionFactory
from bot.services.conversations import CONSENT_REQUEST_LIFETIME

# Telegram re-delivers an unconfirmed update within hours at most; two days is ample.
PROCESSED_UPDATE_RETENTION = timedelta(days=2)


async def forget_old_updates(sessions: SessionFactory, *, now: datetime) -> int:
    """Delete update ids older than the retention; returns how many were removed."""
    cutoff = now - PROCESSED_UPDATE_RETENTION
    async with sessions.begin() as session:
        result = await session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_unanswered_consent(sessions: SessionFactory, *, now: datetime) -> int:
    """Delete consent questions older than a day: someone who stayed silent is forgotten."""
    cutoff = now - CONSENT_REQUEST_LIFETIME
    async with sessions.begin() as session:
        result = await session.execute(
            delete(ConsentRequest).where(ConsentRequest.created_at <= cutoff)
        )
    return int(getattr(result, "rowcount", 0) or 0)
