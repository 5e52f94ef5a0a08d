"""The update processor: a chat's queued updates hold no processing slot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from bot.concurrency import PerChatUpdateProcessor, heavy_command


def private_update(update_id: int, chat_id: int, text: str = "hi") -> Update:
    chat = Chat(id=chat_id, type="private")
    user = User(id=chat_id, first_name="Sam", is_bot=False)
    message = Message(
        message_id=update_id,
        date=datetime(2026, 11, 22, tzinfo=UTC),
        chat=chat,
        from_user=user,
        text=text,
    )
    return Update(update_id=update_id, message=message)


async def test_a_flood_from_one_chat_leaves_slots_for_another_chat() -> None:
    processor = PerChatUpdateProcessor(max_concurrent_updates=2)
    release_flood = asyncio.Event()
    done: list[tuple[int, int]] = []

    async def work(chat_id: int, number: int, gate: asyncio.Event | None) -> None:
        if gate is not None:
            await gate.wait()
        done.append((chat_id, number))

    flood = [
        asyncio.create_task(
            processor.process_update(private_update(n, 1), work(1, n, release_flood))
        )
        for n in range(10)
    ]
    other = asyncio.create_task(processor.process_update(private_update(99, 2), work(2, 0, None)))
    await asyncio.wait_for(other, timeout=5)  # before the flood's first update is let go
    assert done == [(2, 0)]
    release_flood.set()
    await asyncio.gather(*flood)
    assert done[1:] == [(1, n) for n in range(10)]  # the flooding chat still in order


async def test_a_repeated_heavy_command_is_coalesced_while_the_first_is_pending() -> None:
    processor = PerChatUpdateProcessor()
    release = asyncio.Event()
    seen: list[tuple[int, str | None]] = []

    async def record(update: Update, gate: asyncio.Event | None) -> None:
        seen.append((update.update_id, processor.coalesced(update)))
        if gate is not None:
            await gate.wait()

    updates = [private_update(n, 1, "/report 4") for n in range(4)]
    first = asyncio.create_task(processor.process_update(updates[0], record(updates[0], release)))
    await asyncio.sleep(0)
    repeats = [processor.process_update(u, record(u, None)) for u in updates[1:]]
    await asyncio.gather(*repeats)
    release.set()
    await first
    assert seen == [(0, None), (1, "first"), (2, "again"), (3, "again")]
    later = private_update(10, 1, "/report")
    await processor.process_update(later, record(later, None))
    assert seen[-1] == (10, None)  # once the first finished, /report is a fresh request


def test_heavy_commands_are_recognised_by_name() -> None:
    assert heavy_command(private_update(1, 1, "/report 8")) == "report"
    assert heavy_command(private_update(1, 1, "/Insights@twitchcheck_bot")) == "insights"
    assert heavy_command(private_update(1, 1, "/help")) is None
    assert heavy_command(private_update(1, 1, "report")) is None
