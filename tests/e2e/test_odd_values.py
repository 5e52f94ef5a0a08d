"""Odd values from outside — superscript digits, forged buttons, a huge first name, a private
message without a sender — get a clear answer or are ignored, never a traceback."""

from __future__ import annotations

import logging

import pytest

from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_records import USER, rows_about, seed_four_weeks, uploads

FORGED_BUTTON = "Sorry, I couldn't use that button."
DELETE_NOT_OPEN = (
    "That button doesn't belong to an open /delete question, so nothing was deleted. "
    "Send /delete if you want to erase your data."
)


@pytest.fixture
async def seeded(bot: BotRunner) -> BotRunner:
    await seed_four_weeks(bot.settings.database_url)
    return bot


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


async def test_report_with_superscript_weeks_explains_the_usage(
    sandbox: SandboxServer, seeded: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    for odd in ("/report ²", "/report ³²", "/report ⁴"):
        await sandbox.exchange_text(USER, odd)
        assert "from 1 to 26" in (sandbox.last_message(USER).plain_text or ""), odd
    assert failures(caplog) == []


@pytest.mark.parametrize("data", ["hist|²", "hist|¹⁰", "sum|²", "del|yes|²", "del|yes|¹²³"])
async def test_buttons_with_superscript_digits_are_refused_politely(
    sandbox: SandboxServer, seeded: BotRunner, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    await sandbox.exchange_text(USER, "/history")
    message = sandbox.last_message(USER)
    mark = sandbox.last_seq
    sandbox.press_button(USER, message.message_id, data)
    calls = await sandbox.settle(USER, after_seq=mark)
    answers = [call.params.get("text") for call in calls if call.method == "answerCallbackQuery"]
    expected = DELETE_NOT_OPEN if data.startswith("del|") else FORGED_BUTTON
    assert answers == [expected]
    assert failures(caplog) == []
    assert (await rows_about(seeded.settings.database_url, USER))["checkins"] == 28


async def test_report_for_a_ten_thousand_character_first_name_is_a_pdf(
    sandbox: SandboxServer, seeded: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    huge = "Alexandra " * 1000
    mark = sandbox.last_seq
    sandbox.send_text(USER, "/report", first_name=huge[:10_000])
    await sandbox.wait_for_call(
        lambda call: call.method == "sendDocument" and str(call.params.get("chat_id")) == str(USER),
        after_seq=mark,
    )
    calls = await sandbox.settle(USER, after_seq=mark)
    [(_, pdf)] = uploads(calls, "sendDocument", "document")
    assert pdf.startswith(b"%PDF-")
    assert failures(caplog) == []

    # Markup characters in a name are text, not tags.
    mark = sandbox.last_seq
    sandbox.send_text(USER, "/report", first_name="<b>Bob & <i>Co")
    await sandbox.wait_for_call(
        lambda call: call.method == "sendDocument" and str(call.params.get("chat_id")) == str(USER),
        after_seq=mark,
    )
    assert failures(caplog) == []


async def test_private_message_without_a_sender_is_ignored_and_the_bot_goes_on(
    sandbox: SandboxServer, seeded: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    chat = {"id": USER, "type": "private", "first_name": "Sam"}
    for offset, text in enumerate(("/history", "/report ²", "/delete", "6.5", "hello")):
        message: dict[str, object] = {"message_id": 500 + offset, "chat": chat, "date": 0}
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        sandbox.enqueue_update({"update_id": 900_000 + offset, "message": message})
    await sandbox.exchange_text(USER, "/history")
    assert sandbox.last_message(USER).plain_text.startswith("Your check-ins, 9–22 Nov 2026")
    assert failures(caplog) == []
