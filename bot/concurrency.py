"""Concurrency that keeps each person's updates in order and SQLite writers in line.

Updates of different people are processed concurrently, so one person waiting on the database
or on Telegram does not hold up everybody else; updates of the same chat still run strictly
one after another (a double tap must see the first tap's effect). On SQLite, write
transactions take turns on an asyncio lock instead of colliding on the file lock, where the
busy handler would make them sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT_UPDATES = 64
HEAVY_COMMANDS = frozenset({"report", "insights", "export", "history"})
"""Commands whose answer is a rendered file or a page of history: worth answering once when
the same one is sent again while the first is still queued or running."""
# PTB takes its own semaphore before `do_process_update`, i.e. before the per-chat lock; a
# bound there would let one chat's queue hold every slot. Ours is taken inside the lock.
_UNBOUNDED = 1 << 30

Coalesced = Literal["first", "again"]


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


def heavy_command(update: object) -> str | None:
    """The heavy command a plain private message starts with ("/report 8" → "report")."""
    if not isinstance(update, Update) or update.message is None:
        return None
    text = update.message.text
    if not text or not text.startswith("/"):
        return None
    name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
    return name if name in HEAVY_COMMANDS else None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, sequential within a chat (or user, for chatless updates).

    Fair: an update takes a processing slot only once it is its chat's turn, so a chat's
    queue holds at most one slot and a flood from one chat delays only that chat. A heavy
    command sent again while the same one is still pending in that chat is *coalesced*: it
    skips the queue and the handlers answer it with one "still working on it" (later copies
    get nothing), instead of rendering the same PDF 150 times.
    """

    __slots__ = ("_chains", "_coalesced", "_heavy_pending", "_slots", "_told")

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(_UNBOUNDED)
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._chains: dict[int | None, asyncio.Lock] = {}
        self._heavy_pending: set[tuple[int | None, str]] = set()
        self._told: set[tuple[int | None, str]] = set()
        self._coalesced: dict[int, Coalesced] = {}

    @staticmethod
    def _key(update: object) -> int | None:
        return _chat_key(update)

    def coalesced(self, update: object) -> Coalesced | None:
        """ "first"/"again" for a repeat of a heavy command still pending in its chat."""
        if not isinstance(update, Update):
            return None
        return self._coalesced.get(update.update_id)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        command = heavy_command(update)
        if command is not None and isinstance(update, Update):
            pending_key = (key, command)
            if pending_key in self._heavy_pending:
                told = pending_key in self._told
                self._told.add(pending_key)
                self._coalesced[update.update_id] = "again" if told else "first"
                try:
                    async with self._slots:
                        await coroutine
                finally:
                    self._coalesced.pop(update.update_id, None)
                return
            self._heavy_pending.add(pending_key)
            try:
                await self._in_turn(key, coroutine)
            finally:
                self._heavy_pending.discard(pending_key)
                self._told.discard(pending_key)
            return
        await self._in_turn(key, coroutine)

    async def _in_turn(self, key: int | None, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's turn, then for a slot: queued updates hold no slot."""
        lock = self._chains.setdefault(key, asyncio.Lock())
        try:
            async with lock, self._slots:
                await coroutine
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._chains.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""


class SerializedWrites(async_sessionmaker[AsyncSession]):
    """A session factory whose write transactions (`begin()`) run one at a time."""

    def __init__(self, engine: AsyncEngine, **options: Any) -> None:
        super().__init__(engine, **options)
        self._writer = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self._writer, super().begin() as session:
            yield session
