"""The use-case kernel: how an update becomes one committed effect.

Every state-changing use case runs through `Kernel.run`: one transaction that

1. serialises the person — `pg_advisory_xact_lock(user_id)` on PostgreSQL, which holds across
   every instance sharing the database; on SQLite the claim below is the transaction's first
   statement and a write, so it takes the database's single write lock before anything is
   read (and in-process writers take turns on `SerializedWrites`' lock before that);
2. claims the Telegram update id (`processed_updates`), so a re-delivered update acts once and
   returns `Duplicate`;
3. with `set_up=True`, lets only people who finished /start through (`NeedsOnboarding`);
4. runs the use case and commits its effect together with the claim.

Read-only use cases (`read`) skip the claim and the lock. Services keep returning plain
results; the kernel adds exactly one `Duplicate` and one `NeedsOnboarding`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import ProcessedUpdate, User
from bot.db.session import SessionFactory

Clock = Callable[[], datetime]
R = TypeVar("R")


def utc_now() -> datetime:
    """The real clock; tests pass their own."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Duplicate:
    """This update was already processed; do nothing visible."""


@dataclass(frozen=True)
class NeedsOnboarding:
    """The person has not finished /start (no consent or no timezone yet)."""


def is_set_up(user: User | None) -> bool:
    """Consent given and a timezone chosen: what every feature beyond /start needs."""
    return user is not None and user.consented_at is not None and bool(user.timezone)


async def claim_update(session: AsyncSession, update_id: int) -> bool:
    """Record the update id; False when it was processed before."""
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(ProcessedUpdate).values(update_id=update_id).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


async def lock_person(session: AsyncSession, user_id: int) -> None:
    """Until this transaction ends, no other transaction (of any instance) acts for this
    person. PostgreSQL: a transaction-scoped advisory lock; SQLite needs none beyond its
    single writer (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(user_id)))


class Kernel:
    """Runs use cases: claim, transaction, per-person serialisation, the set-up gate."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    async def run(
        self,
        user_id: int,
        update_id: int | None,
        work: Callable[[AsyncSession], Awaitable[R]],
    ) -> R | Duplicate:
        """A state-changing use case for ``update_id`` (None: not caused by an update,
        e.g. a delivery failure being recorded; serialised but not claimed)."""
        async with self.sessions.begin() as session:
            await lock_person(session, user_id)
            if update_id is not None and not await claim_update(session, update_id):
                return Duplicate()
            return await work(session)

    async def run_set_up(
        self,
        user_id: int,
        update_id: int | None,
        work: Callable[[AsyncSession, User], Awaitable[R]],
    ) -> R | Duplicate | NeedsOnboarding:
        """As `run`, for people who finished /start; everyone else gets NeedsOnboarding."""

        async def gated(session: AsyncSession) -> R | NeedsOnboarding:
            return await _for_set_up(session, user_id, work)

        return await self.run(user_id, update_id, gated)

    async def read(
        self, user_id: int, work: Callable[[AsyncSession, User], Awaitable[R]]
    ) -> R | NeedsOnboarding:
        """A read-only use case for a set-up person: no claim, no lock."""
        async with self.sessions.begin() as session:
            return await _for_set_up(session, user_id, work)


async def _for_set_up(
    session: AsyncSession, user_id: int, work: Callable[[AsyncSession, User], Awaitable[R]]
) -> R | NeedsOnboarding:
    """The set-up gate shared by `run_set_up` and `read`."""
    user = await session.get(User, user_id)
    if user is None or not is_set_up(user):
        return NeedsOnboarding()
    return await work(session, user)
