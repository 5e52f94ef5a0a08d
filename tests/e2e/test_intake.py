"""Updates as they reach the bot: only the types it handles, and one it cannot read is skipped.

Before `bot.intake`, an update python-telegram-bot could not parse failed the whole getUpdates
batch; the offset never moved, the same batch came back hundreds of times a second and nobody
got an answer again.
"""

from __future__ import annotations

import logging

import pytest

from bot.intake import ALLOWED_UPDATES
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner

USER = 5151
OTHER = 5252
NAME = "Zebulon Quackenbush"
TEXT = "my left calf twitched all night"
# Telegram would never send this: "from" must be a User object. The library cannot read it.
UNREADABLE_MESSAGE = {
    "message": {
        "message_id": 1,
        "date": 1_700_000_000,
        "chat": {"id": OTHER, "type": "private", "first_name": NAME},
        "from": [OTHER, NAME],
        "text": TEXT,
    }
}


def polls_after(sandbox: SandboxServer, seq: int) -> int:
    return sum(call.method == "getUpdates" and call.seq > seq for call in sandbox.calls)


async def test_an_unreadable_update_is_skipped_and_everyone_else_is_answered(
    caplog: pytest.LogCaptureFixture, sandbox: SandboxServer, bot: BotRunner
) -> None:
    caplog.set_level(logging.DEBUG)
    mark = sandbox.last_seq
    bad = sandbox.send_raw_update(UNREADABLE_MESSAGE)
    await sandbox.exchange_text(USER, "/start", timeout=15)
    assert "agree" in (sandbox.last_message(USER).plain_text or "")
    await sandbox.wait_until_confirmed()  # the offset moved past the unreadable update
    assert sandbox.pending_updates() == []
    # A stalled bot polls hundreds of times a second; a healthy one a handful of times.
    assert polls_after(sandbox, mark) < 20

    skipped = [record for record in caplog.records if record.name == "bot.intake"]
    assert len(skipped) == 1
    [record] = skipped
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert str(bad["update_id"]) in message and "message" in message
    assert "Quackenbush" not in message and TEXT not in message  # (all logs: test_logging...)


async def test_an_unreadable_update_alone_in_its_batch_is_confirmed(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    """Nothing readable comes with it, so the Updater alone would ask for it again."""
    sandbox.send_raw_update(UNREADABLE_MESSAGE)
    await sandbox.wait_until_confirmed(timeout=15)
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "/start", timeout=15)
    assert "agree" in (sandbox.last_message(USER).plain_text or "")
    assert polls_after(sandbox, mark) < 20


async def test_the_bot_asks_only_for_the_update_types_it_handles(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    poll = await sandbox.wait_for_call(lambda call: call.method == "getUpdates")
    assert poll.params.get("allowed_updates") == list(ALLOWED_UPDATES)
    assert set(ALLOWED_UPDATES) == {"message", "edited_message", "callback_query", "my_chat_member"}
