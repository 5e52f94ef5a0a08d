"""Readiness: can the bot serve people right now? For a health endpoint and the storage job."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text

from bot.db.session import SessionFactory
from bot.db.storage import StorageWatch
from bot.logs import describe_exception

READINESS_QUERY_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Readiness:
    """Ready only with no problems; each problem is a sentence for the operator."""

    problems: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.problems


async def check_readiness(
    sessions: SessionFactory,
    storage: StorageWatch,
    *,
    head: str | None = None,
    timeout: float = READINESS_QUERY_TIMEOUT_SECONDS,  # noqa: ASYNC109 - one bound for the probe
) -> Readiness:
    """The database files are the ones opened at start and writable (SQLite), the database
    answers a query within `timeout` seconds and, with `head`, its schema is at that
    revision (another instance may have migrated it further, or someone downgraded it)."""
    problems = storage.check()
    try:
        async with asyncio.timeout(timeout), sessions() as session:
            if head is None:
                await session.execute(text("SELECT 1"))
            else:
                current = (
                    await session.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
                if current != head:
                    problems.append(
                        f"the database schema is at {current or 'nothing'}, this bot needs "
                        f"{head}: run `twitchcheck migrate`"
                    )
    except Exception as error:  # any failure means not ready; the reason is reported
        problems.append(f"the database does not answer: {describe_exception(error)}")
    return Readiness(tuple(problems))
