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
    timeout: float = READINESS_QUERY_TIMEOUT_SECONDS,  # noqa: ASYNC109 - one bound for the probe
) -> Readiness:
    """The database files are the ones opened at start and writable (SQLite), and the
    database answers a query within `timeout` seconds."""
    problems = storage.check()
    try:
        async with asyncio.timeout(timeout), sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as error:  # any failure means not ready; the reason is reported
        problems.append(f"the database does not answer: {describe_exception(error)}")
    return Readiness(tuple(problems))
