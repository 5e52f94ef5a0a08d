"""The real bot through the sandbox with updates that are not a fresh typed answer.

Edited messages, buttons pressed on a group's message, commands typed in a group, media,
unknown commands and forwarded messages: none of them may be taken as the person's answer,
answer with personal data outside their private chat, or go without a kind reply.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import Checkin, ConversationState, Escalation, ProcessedUpdate, User
from bot.db.session import create_engine, create_session_factory
from bot.logs import QUIET_LIBRARIES, configure_logging
from bot.sandbox.models import ApiCall
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner

USER = 4747
OTHER = 5858
GROUP = -1009876543210
SLEEP_QUESTION = "How many hours did you sleep"
CAFFEINE_QUESTION = "How much caffeine"
EDIT_NOTICE = "Edits aren't picked up"
PINNED_LOGGERS = (*QUIET_LIBRARIES, "telegram")


async def rows(url: str, model: type[Any], **where: object) -> list[Any]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.execute(select(model).filter_by(**where))).scalars())
    finally:
        await engine.dispose()


def last_text(sandbox: SandboxServer, chat_id: int = USER) -> str:
    return sandbox.last_message(chat_id).plain_text or ""


def texts_since(sandbox: SandboxServer, mark: int, chat_id: int = USER) -> list[str]:
    return [message.plain_text or "" for message in sandbox.new_messages_since(chat_id, mark)]


async def onboard(sandbox: SandboxServer, user: int = USER) -> None:
    await sandbox.exchange_text(user, "/start")
    await sandbox.exchange_press(user, "I agree")
    await sandbox.exchange_text(user, "Berlin")
    await sandbox.exchange_press(user, "09:00")
    assert "All set" in last_text(sandbox, user)


async def open_sleep_question(sandbox: SandboxServer) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_text(USER, "none")  # no twitching
    await sandbox.exchange_text(USER, "none")  # nothing on the safety check
    assert SLEEP_QUESTION in last_text(sandbox)


async def open_draft(url: str) -> ConversationState:
    [state] = await rows(url, ConversationState, user_id=USER)
    assert isinstance(state, ConversationState)
    return state


# --- 1. edited messages -----------------------------------------------------------------


async def test_an_edited_answer_is_not_taken_as_the_next_answer(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await open_sleep_question(sandbox)
    mark = sandbox.last_seq
    sleep_answer = sandbox.send_text(USER, "6.5")
    await sandbox.settle(USER, after_seq=mark)
    assert CAFFEINE_QUESTION in last_text(sandbox)

    mark = sandbox.last_seq
    sandbox.edit_text(USER, sleep_answer["message"]["message_id"], "7.5")
    await sandbox.settle(USER, after_seq=mark)
    [notice] = texts_since(sandbox, mark)
    assert EDIT_NOTICE in notice and "send it again" in notice
    state = await open_draft(bot.settings.database_url)
    assert state.step == "caffeine" and "caffeine" not in state.answers

    # A second edit the same day is not answered again; the next real answer still counts.
    sandbox.edit_text(USER, sleep_answer["message"]["message_id"], "8")
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "2 coffees")
    assert [text for text in texts_since(sandbox, mark) if EDIT_NOTICE in text] == []
    assert "How much water" in last_text(sandbox)
    await sandbox.exchange_text(USER, "1.5 l")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.sleep_hours, checkin.caffeine_mg, checkin.water_litres) == (6.5, 190, 1.5)


async def test_an_old_message_edited_to_cancel_cancels_nothing(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    mark = sandbox.last_seq
    checkin_command = sandbox.send_text(USER, "/checkin")
    await sandbox.settle(USER, after_seq=mark)
    await sandbox.exchange_text(USER, "mild")

    mark = sandbox.last_seq
    sandbox.edit_text(USER, checkin_command["message"]["message_id"], "/cancel")
    await sandbox.settle(USER, after_seq=mark)
    assert [EDIT_NOTICE in text for text in texts_since(sandbox, mark)] == [True]
    state = await open_draft(bot.settings.database_url)
    assert state.step == "locations" and str(state.answers["severity"]) == "1"


async def test_edits_in_a_group_get_no_reply(sandbox: SandboxServer, bot: BotRunner) -> None:
    chatter = sandbox.send_text(USER, "hello everyone", chat_id=GROUP)
    sandbox.edit_text(USER, chatter["message"]["message_id"], "/start", chat_id=GROUP)
    mark = sandbox.last_seq
    sandbox.send_text(USER, "/checkin", chat_id=GROUP)  # the one pointer this group gets
    await sandbox.settle(GROUP, after_seq=mark)
    assert [call.method for call in sandbox.calls_of("sendMessage")] == ["sendMessage"]
    assert sandbox.messages(USER) == []


# --- 4. buttons and commands in a group -------------------------------------------------


FORGED_IN_GROUP = ("hist|0", "rem|checkin", "set|timezone", "sum|0", "del|ask", "learn|menu")


def effects_since(sandbox: SandboxServer, mark: int) -> list[ApiCall]:
    """Every call after mark that shows something, other than answering a callback query."""
    return [
        call
        for call in sandbox.calls
        if call.seq > mark and call.method not in {"getUpdates", "answerCallbackQuery"}
    ]


async def handled_so_far(sandbox: SandboxServer, chat_id: int) -> None:
    """Wait until every update sent to the group so far has been handled: a button press on
    a group message is always answered, and a chat's updates are handled in order."""
    query_id = sandbox.press_button(USER, 1, "hist|0", chat_id=chat_id)["callback_query"]["id"]
    await sandbox.wait_for_call(
        lambda call: (
            call.method == "answerCallbackQuery"
            and call.params.get("callback_query_id") == query_id
        )
    )


async def test_buttons_pressed_on_a_group_message_change_and_reveal_nothing(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    forged_checkin = sandbox.last_message(USER).buttons()[0][0][1]  # a real token of USER's
    mark = sandbox.last_seq
    sandbox.send_text(USER, "/start", chat_id=GROUP)
    await sandbox.settle(GROUP, after_seq=mark)
    pointer = sandbox.last_message(GROUP)
    processed_before = len(await rows(bot.settings.database_url, ProcessedUpdate))
    state_before = await open_draft(bot.settings.database_url)

    mark = sandbox.last_seq
    for data in (*FORGED_IN_GROUP, forged_checkin):
        sandbox.press_button(USER, pointer.message_id, data, chat_id=GROUP)
    sandbox.press_button(USER, 999, "hist|0", chat_id=GROUP)  # an inaccessible group message
    await handled_so_far(sandbox, GROUP)

    answers = [call for call in sandbox.calls_of("answerCallbackQuery") if call.seq > mark]
    assert len(answers) == len(FORGED_IN_GROUP) + 3
    assert all("private chat" in str(call.params.get("text", "")) for call in answers)
    assert effects_since(sandbox, mark) == []
    assert last_text(sandbox, GROUP) == pointer.plain_text
    assert len(await rows(bot.settings.database_url, ProcessedUpdate)) == processed_before
    state_after = await open_draft(bot.settings.database_url)
    assert (state_after.step, state_after.answers) == (state_before.step, state_before.answers)


async def test_private_commands_in_a_group_get_one_pointer_at_most(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    mark = sandbox.last_seq
    for command in ("/history", "/report", "/start", "/checkin", "/settings", "/export"):
        sandbox.send_text(USER, command, chat_id=GROUP)
    sandbox.send_text(OTHER, "/delete", chat_id=GROUP)
    await handled_so_far(sandbox, GROUP)
    assert [call.method for call in effects_since(sandbox, mark)] == ["sendMessage"]
    assert "private chat" in last_text(sandbox, GROUP)

    bot.clock.advance(hours=1)  # an hour later the group may get one more pointer
    mark = sandbox.last_seq
    sandbox.send_text(USER, "/learn", chat_id=GROUP)
    await handled_so_far(sandbox, GROUP)
    effects = effects_since(sandbox, mark)
    assert [call.method for call in effects] == ["sendMessage"]
    assert effects[0].params["chat_id"] == GROUP
    assert sandbox.messages(USER) == [] and sandbox.messages(OTHER) == []
    assert await rows(bot.settings.database_url, User) == []


# --- 11. media and unknown commands ---------------------------------------------------------


MEDIA = (
    ("photo", "6.5"),
    ("sticker", None),
    ("voice", None),
    ("document", "7"),
    ("location", None),
)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Logging as `twitchcheck run` sets it up with LOG_LEVEL=DEBUG."""
    saved = {name: logging.getLogger(name).level for name in PINNED_LOGGERS}
    factory = logging.getLogRecordFactory()
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        logging.setLogRecordFactory(factory)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


async def test_media_mid_question_gets_a_kind_reply_and_the_question_again(
    debug_logs: pytest.LogCaptureFixture, sandbox: SandboxServer, bot: BotRunner
) -> None:
    await open_sleep_question(sandbox)
    for kind, caption in MEDIA:
        mark = sandbox.last_seq
        sandbox.send_media(USER, kind, caption=caption)
        await sandbox.settle(USER, after_seq=mark)
        replies = texts_since(sandbox, mark)
        assert len(replies) == 1, (kind, replies)
        assert "typed" in replies[0] and SLEEP_QUESTION in replies[0], kind
        assert sandbox.last_message(USER).buttons(), "the question comes with its buttons"
    state = await open_draft(bot.settings.database_url)
    assert state.step == "sleep" and "sleep" not in state.answers
    assert await rows(bot.settings.database_url, Checkin, user_id=USER) == []
    # Start-up (setup phase) included: at DEBUG the database libraries are pinned at WARNING
    # (bot.logs), so the check-in itself may log nothing at all.
    records = [*debug_logs.get_records("setup"), *debug_logs.records]
    logged = "\n".join(record.getMessage() for record in records)
    assert logged, "nothing was captured: the check would be empty"
    for kind, _caption in MEDIA:
        assert f"user-{kind}" not in logged  # the file ids the sandbox gave the media
    assert "notes.pdf" not in logged and "52.52" not in logged


async def test_media_outside_a_question_points_to_help(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    for kind, caption in MEDIA:
        mark = sandbox.last_seq
        sandbox.send_media(USER, kind, caption=caption)
        await sandbox.settle(USER, after_seq=mark)
        [reply] = texts_since(sandbox, mark)
        assert "/help" in reply and "typed" in reply, kind


async def test_an_unknown_command_gets_a_short_pointer_to_help(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await open_sleep_question(sandbox)
    for command in ("/foo", "/Sleep 7", "/start_over"):
        mark = sandbox.last_seq
        await sandbox.exchange_text(USER, command)
        [reply] = texts_since(sandbox, mark)
        assert "don't know that command" in reply and "/help" in reply, command
    state = await open_draft(bot.settings.database_url)
    assert state.step == "sleep" and "sleep" not in state.answers


# --- 12. forwarded messages -----------------------------------------------------------------


@pytest.mark.parametrize("author", [OTHER, "Alex"], ids=["user", "hidden_user"])
async def test_a_forwarded_emergency_is_escalated_for_the_person_who_wrote_it(
    sandbox: SandboxServer, bot: BotRunner, author: int | str
) -> None:
    await open_sleep_question(sandbox)
    mark = sandbox.last_seq
    sandbox.send_text(USER, "I can't breathe", forwarded_from=author)
    await sandbox.settle(USER, after_seq=mark)
    escalation, *rest = texts_since(sandbox, mark)
    assert escalation.startswith("🚨")
    assert "forwarded" in escalation and "112" in escalation
    assert "the person who wrote it" in escalation
    assert "If someone is with you" not in escalation  # that is the wording for oneself
    assert rest and SLEEP_QUESTION in rest[-1], "the open question stays open"
    # Someone else's health is not stored as this person's.
    assert await rows(bot.settings.database_url, Escalation, user_id=USER) == []


async def test_a_forwarded_message_is_not_taken_as_an_answer(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await open_sleep_question(sandbox)
    mark = sandbox.last_seq
    sandbox.send_text(USER, "6.5", forwarded_from=OTHER)
    await sandbox.settle(USER, after_seq=mark)
    [reply] = texts_since(sandbox, mark)
    assert "forwarded" in reply and SLEEP_QUESTION in reply
    state = await open_draft(bot.settings.database_url)
    assert state.step == "sleep" and "sleep" not in state.answers


async def test_a_forwarded_emergency_of_ones_own_is_escalated_as_ones_own(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    mark = sandbox.last_seq
    sandbox.send_text(USER, "I can't breathe", forwarded_from=USER)
    await sandbox.settle(USER, after_seq=mark)
    escalation = texts_since(sandbox, mark)[0]
    assert escalation.startswith("🚨") and "If someone is with you" in escalation
    [stored] = await rows(bot.settings.database_url, Escalation, user_id=USER)
    assert stored.tier == 2
