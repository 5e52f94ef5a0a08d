"""Housekeeping that keeps tables small: old processed-update ids are forgotten."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from bot.db.models import ProcessedUpdate
from bot.db.session import SessionFactory

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
