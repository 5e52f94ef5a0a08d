"""The benchmark's load process: a drive ends even while the bot keeps calling the API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from benchmarks.load_process import drive
from bot.sandbox.server import SandboxServer

EXTRA_CALLS = 2_000


@contextlib.asynccontextmanager
async def busy_bot(sandbox: SandboxServer) -> AsyncIterator[None]:
    """Answers every queued message, and in every loop turn makes one more API call, as a bot
    still sending when the last person got their reply: each call wakes the reply watcher."""
    answered: set[int] = set()

    async def run() -> None:
        for _turn in range(EXTRA_CALLS):
            for update in sandbox.pending_updates():
                if update["update_id"] not in answered:
                    answered.add(update["update_id"])
                    chat_id = update["message"]["chat"]["id"]
                    sandbox._record("sendMessage", {"chat_id": chat_id}, {})
            sandbox._record("sendChatAction", {"chat_id": 1}, {})
            await asyncio.sleep(0)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("round_", range(20))
async def test_drive_returns_while_the_bot_is_still_calling(round_: int) -> None:
    """Python 3.11's wait_for can swallow a cancellation that lands while the awaited event
    has just fired; the drive must still end on its own (before: it waited for the watcher
    until the outer timeout cancelled it again)."""
    async with SandboxServer() as sandbox, busy_bot(sandbox):
        async with asyncio.timeout(30) as limit:
            latencies, _seconds = await drive(sandbox, [101 + round_, 202 + round_], ["a", "b"])
        assert not limit.expired(), "the drive ended only when cancelled from outside"
    assert len(latencies) == 4
