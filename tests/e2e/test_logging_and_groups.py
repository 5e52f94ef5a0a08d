"""The real bot through the sandbox: what it logs, how it answers in groups, how it fails.

Logs must never hold the bot token or what a person typed; a group gets a pointer to the
private chat and nothing is stored about anyone there; an exception inside a handler is logged
by the error handler and the person gets the calm error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.context import DEPS_KEY, Deps
from bot.db.models import Checkin, Escalation, User
from bot.db.session import create_engine, create_session_factory
from bot.logs import QUIET_LIBRARIES, configure_logging
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import TOKEN, BotRunner

USER = 4343
GROUP = -1001234567890
SECRET_PART = TOKEN.split(":", 1)[1]
# What the person types during the check-in; none of it may reach a log record. Worded so
# that no message of the bot contains it (checked), so a hit can only be the person's text.
TYPED = {
    "severity": "quite noticeable",
    "locations": "left calf",
    "sleep": "six and a half hours",
    "caffeine": "two cups of coffee",
    "water": "1.5 litres",
}
UNUSABLE = "my calves buzz like a phone qwertyuiop"
QUESTION_MARKERS = (
    ("severity", "How much muscle twitching"),
    ("locations", "Where did you notice"),
    ("sleep", "How many hours did you sleep"),
    ("caffeine", "How much caffeine"),
    ("water", "How much water"),
)
PINNED_LOGGERS = (*QUIET_LIBRARIES, "telegram")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Logging as `twitchcheck run` sets it up with LOG_LEVEL=DEBUG, every record captured
    from the start (requested before `bot`, so the bot's start-up is captured too)."""
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


def every_record(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records of the fixtures' start-up and of the test itself."""
    return [*caplog.get_records("setup"), *caplog.get_records("call")]


def rendered(record: logging.LogRecord) -> str:
    """A record as a handler would write it, traceback included."""
    return logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)


def last_text(sandbox: SandboxServer, chat_id: int = USER) -> str:
    return sandbox.last_message(chat_id).plain_text or ""


async def rows(url: str, model: type[Any], **where: object) -> list[Any]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.execute(select(model).filter_by(**where))).scalars())
    finally:
        await engine.dispose()


async def onboard(sandbox: SandboxServer, user: int = USER, first_name: str = "Sam") -> None:
    await sandbox.exchange_text(user, "/start", first_name=first_name)
    await sandbox.exchange_press(user, "I agree")
    await sandbox.exchange_text(user, "Europe/Berlin", first_name=first_name)
    await sandbox.exchange_press(user, "09:00")
    assert "All set" in last_text(sandbox, user)


async def answer_open_questions(
    sandbox: SandboxServer,
    user: int = USER,
    answers: dict[str, str] = TYPED,
    first_name: str = "Sam",
) -> None:
    """Type the answer to each question as it comes; the red-flag screen by its button."""
    mark = sandbox.last_seq
    for _ in range(10):
        sent = [message.plain_text or "" for message in sandbox.new_messages_since(user, mark)]
        if any(text.startswith(("Saved for", "Updated today")) for text in sent):
            return
        question = last_text(sandbox, user)
        if "safety check" in question:
            await sandbox.exchange_press(user, "None of these")
            continue
        steps = [step for step, marker in QUESTION_MARKERS if marker in question]
        assert steps, f"unexpected message {question!r}"
        await sandbox.exchange_text(user, answers[steps[0]], first_name=first_name)
    raise AssertionError(f"check-in did not finish; last message: {last_text(sandbox, user)!r}")


# --- logs -------------------------------------------------------------------------------


def test_configure_logging_keeps_http_and_database_loggers_at_warning() -> None:
    saved = {name: logging.getLogger(name).level for name in PINNED_LOGGERS}
    factory = logging.getLogRecordFactory()
    try:
        for level_name in ("DEBUG", "INFO", "WARNING"):
            configure_logging(level_name)
            for name in ("httpx", "httpcore", "sqlalchemy.engine.Engine", "aiosqlite", "asyncpg"):
                assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
                assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    finally:
        logging.setLogRecordFactory(factory)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


async def _checkin_with_typed_answers(sandbox: SandboxServer, bot: BotRunner) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_text(USER, TYPED["severity"])
    await sandbox.exchange_text(USER, UNUSABLE)  # an answer the bot cannot use
    await answer_open_questions(sandbox)
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.severity, checkin.sleep_hours, checkin.water_litres) == (2, 6.5, 1.5)
    said_by_bot = "\n".join(message.plain_text or "" for message in sandbox.messages(USER))
    for typed in [*TYPED.values(), UNUSABLE]:
        assert typed not in said_by_bot, typed


def _leaks(records: list[logging.LogRecord]) -> list[str]:
    """Records holding the token or typed text, as "logger: what leaked"."""
    found: list[str] = []
    for record in records:
        text = rendered(record)
        if TOKEN in text or SECRET_PART in text:
            found.append(f"{record.name}: the token")
        found += [
            f"{record.name}: {typed!r}" for typed in [*TYPED.values(), UNUSABLE] if typed in text
        ]
    return found


async def test_logs_of_the_bot_hold_neither_the_token_nor_what_was_typed(
    debug_logs: pytest.LogCaptureFixture, sandbox: SandboxServer, bot: BotRunner
) -> None:
    """Everything at DEBUG except python-telegram-bot's own DEBUG tracing (see the next test):
    the bot's loggers, httpx/httpcore, aiohttp, SQLAlchemy, and PTB from INFO up."""
    await _checkin_with_typed_answers(sandbox, bot)
    records = every_record(debug_logs)
    assert any(record.name.startswith("telegram") for record in records)
    checked = [
        record
        for record in records
        if not (record.name.startswith("telegram") and record.levelno < logging.INFO)
    ]
    assert checked, "nothing was captured: the check would be empty"
    assert _leaks(checked) == []


async def test_debug_logging_holds_neither_the_token_nor_what_was_typed(
    debug_logs: pytest.LogCaptureFixture, sandbox: SandboxServer, bot: BotRunner
) -> None:
    await _checkin_with_typed_answers(sandbox, bot)
    assert _leaks(every_record(debug_logs)) == []


PERSON = 918273645
NAME = "Zebulon Quackenbush"
# Values that occur nowhere else in a run, so finding one in a log can only be a leak.
PERSON_TYPED = {
    "severity": "quite noticeable",
    "locations": "left calf",
    "sleep": "7.75 hours",
    "caffeine": "215 mg",
    "water": "1.85 litres",
}
STORED_NUMBERS = ("7.75", "1.85", "215", str(PERSON))
EMERGENCY_TEXT = "since lunch I can't breathe properly"
UNREADABLE_TEXT = "a message the library cannot read"


def _personal_data_in(record: logging.LogRecord, reasons: list[str]) -> list[str]:
    text = rendered(record)
    words = [TOKEN, SECRET_PART, NAME, "Zebulon", "Quackenbush", EMERGENCY_TEXT, UNREADABLE_TEXT]
    found = [what for what in [*words, *PERSON_TYPED.values(), *reasons] if what in text]
    found += [
        number
        for number in STORED_NUMBERS
        if re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text)
    ]
    return [f"{record.name} {record.levelname}: {what!r}" for what in found]


async def test_debug_logs_of_a_whole_day_hold_nothing_personal(
    debug_logs: pytest.LogCaptureFixture, sandbox: SandboxServer, bot: BotRunner
) -> None:
    """At LOG_LEVEL=DEBUG: set-up, a full check-in, an emergency, an export and an update
    the library cannot parse. No record at any level — the bot's, SQLAlchemy's,
    aiosqlite's, python-telegram-bot's — may hold the token, the name, what was typed,
    the stored values or the person's id."""
    await onboard(sandbox, PERSON, first_name=NAME)
    await sandbox.exchange_text(PERSON, "/checkin", first_name=NAME)
    await answer_open_questions(sandbox, PERSON, PERSON_TYPED, first_name=NAME)
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=PERSON)
    assert (checkin.sleep_hours, checkin.caffeine_mg, checkin.water_litres) == (7.75, 215, 1.85)

    await sandbox.exchange_text(PERSON, EMERGENCY_TEXT, first_name=NAME)
    assert last_text(sandbox, PERSON).startswith("🚨")
    [escalation] = await rows(bot.settings.database_url, Escalation, user_id=PERSON)

    mark = sandbox.last_seq
    await sandbox.exchange_text(PERSON, "/export", first_name=NAME)
    exported = [call for call in sandbox.calls if call.seq > mark and call.method == "sendDocument"]
    assert exported, "the export sent no file"

    unreadable = sandbox.send_raw_update(
        {
            "message": {
                "message_id": 999,
                "date": 1_700_000_000,
                "chat": {"id": PERSON, "type": "private", "first_name": NAME},
                "from": [PERSON, NAME],  # not a User object: python-telegram-bot cannot read it
                "text": UNREADABLE_TEXT,
            }
        }
    )
    await sandbox.exchange_text(PERSON, "/help", first_name=NAME)
    records = every_record(debug_logs)
    assert any(str(unreadable["update_id"]) in record.getMessage() for record in records)
    leaks = [leak for record in records for leak in _personal_data_in(record, escalation.reasons)]
    assert leaks == []


def test_library_records_keep_their_template_but_lose_their_arguments(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    logging.getLogger("telegram.ext.ExtBot").critical(
        "Error while parsing updates! Received data was %r", [{"text": UNREADABLE_TEXT}]
    )
    logging.getLogger("aiosqlite").warning("executing %s with %s", "INSERT", (PERSON, 7.75))
    logging.getLogger("bot.example").warning("update %s failed", 12345)
    try:
        int(UNREADABLE_TEXT)
    except ValueError:
        logging.getLogger("bot.example").exception("update %s failed", 12346)
    library, quiet, own, failed = debug_logs.records[-4:]
    assert library.getMessage() == "Error while parsing updates! Received data was <…>"
    assert library.levelno == logging.CRITICAL  # kept, only its data is gone
    assert quiet.getMessage() == "executing <…> with <…>"
    assert own.getMessage() == "update 12345 failed"  # our own loggers pass ids only
    text = rendered(failed)
    assert "Traceback (most recent call last)" in text and "int(UNREADABLE_TEXT)" in text
    assert "ValueError: <…>" in text and UNREADABLE_TEXT not in text


# --- groups -----------------------------------------------------------------------------


async def test_start_in_a_group_points_to_the_private_chat(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    mark = sandbox.last_seq
    sandbox.send_text(USER, "hello everyone", chat_id=GROUP)
    sandbox.send_text(USER, "/start", chat_id=GROUP)
    calls = await sandbox.settle(GROUP, after_seq=mark)
    assert [call.method for call in calls] == ["sendMessage"]  # plain chatter gets no reply
    reply = last_text(sandbox, GROUP)
    assert "private chat" in reply and "/start" in reply
    assert sandbox.last_message(GROUP).buttons() == []

    # Another private command soon after gets no second pointer: the group is not flooded.
    # A button press on a group message is always answered; a chat's updates are handled in
    # order, so once it is, the /checkin before it has been handled.
    sandbox.send_text(USER, "/checkin", chat_id=GROUP)
    query_id = sandbox.press_button(USER, 1, "hist|0", chat_id=GROUP)["callback_query"]["id"]
    await sandbox.wait_for_call(
        lambda call: (
            call.method == "answerCallbackQuery"
            and call.params.get("callback_query_id") == query_id
        )
    )
    assert len(sandbox.messages(GROUP)) == 1
    assert sandbox.messages(USER) == []  # nothing was sent privately
    assert await rows(bot.settings.database_url, User) == []  # nobody was stored


# --- failures ---------------------------------------------------------------------------


async def test_an_exception_in_a_handler_is_logged_and_reported_calmly(
    debug_logs: pytest.LogCaptureFixture,
    sandbox: SandboxServer,
    bot: BotRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await onboard(sandbox)
    assert bot.application is not None
    deps: Deps = bot.application.bot_data[DEPS_KEY]

    class DatabaseDown(RuntimeError):
        pass

    async def failing(*_args: object, **_kwargs: object) -> object:
        raise DatabaseDown("the database went away")

    monkeypatch.setattr(deps.conversations, "begin_checkin", failing)
    await sandbox.exchange_text(USER, "/checkin")
    reply = last_text(sandbox)
    assert reply == deps.texts("error")
    assert "something went wrong" in reply and "is lost" in reply
    assert not reply.startswith(("🚨", "⚠"))

    failures = [
        record
        for record in every_record(debug_logs)
        if record.levelno >= logging.ERROR and record.exc_info is not None
    ]
    assert len(failures) == 1
    [failure] = failures
    assert failure.name == "bot.app"
    assert failure.exc_info is not None and isinstance(failure.exc_info[1], DatabaseDown)
    assert "/checkin" not in failure.getMessage()

    monkeypatch.undo()  # the bot keeps serving once the cause is gone
    await sandbox.exchange_text(USER, "/checkin")
    assert "twitching" in last_text(sandbox)
