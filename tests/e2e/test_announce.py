"""/announce through the real bot, outbox dispatcher and Bot API sandbox: text → preview
(the sandbox's Telegram HTML parser refuses broken markup) → audience and count → confirm →
people get it, the progress message is edited to the final tally, blocked people are
skipped and marked inactive; a cancel midway; a non-admin gets the unknown-command reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from bot.config import Settings
from bot.db.models import AdminAudit, User
from bot.db.session import create_engine, create_session_factory
from bot.sandbox.models import ApiCall
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_checkin import last_text, onboard
from tests.support.clock import FakeClock

ADMIN = 777
PEOPLE = (4301, 4302, 4303)
STRANGER = 555
UNKNOWN = "I don't know that command. Send /help to see the ones I do."
NEWS = "<b>New</b>: the /learn topics were rewritten."


@pytest.fixture
async def admin_bot(
    sandbox: SandboxServer, database_url: str, clock: FakeClock
) -> AsyncIterator[BotRunner]:
    settings = Settings(
        telegram_bot_token="",
        telegram_api_url=sandbox.api_url,
        database_url=database_url,
        default_timezone="Europe/Berlin",
        admin_ids=frozenset({ADMIN}),
        _env_file=None,
    )
    runner = BotRunner(sandbox=sandbox, settings=settings, clock=clock)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def users(url: str) -> dict[int, bool]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            return {row.id: row.active for row in (await session.scalars(select(User))).all()}
    finally:
        await engine.dispose()


async def audit_rows(url: str) -> list[tuple[int, str, str]]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            found = await session.execute(
                select(AdminAudit.actor_id, AdminAudit.action, AdminAudit.outcome).order_by(
                    AdminAudit.id
                )
            )
            return [(actor, action, outcome) for actor, action, outcome in found]
    finally:
        await engine.dispose()


async def seed_people(url: str, ids: range) -> None:
    """People who agreed, written straight to the database (onboarding 300 through the chat
    would only make the test slow)."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with create_session_factory(engine).begin() as session:
            await session.execute(
                insert(User),
                [{"id": i, "consented_at": now, "timezone": "UTC", "active": True} for i in ids],
            )
    finally:
        await engine.dispose()


def edit_of(chat_id: int, words: str) -> Callable[[ApiCall], bool]:
    def matches(call: ApiCall) -> bool:
        return (
            call.method == "editMessageText"
            and int(call.params.get("chat_id", 0)) == chat_id
            and words in str(call.params.get("text", ""))
        )

    return matches


def sent_to(chat_id: int, words: str) -> Callable[[ApiCall], bool]:
    def matches(call: ApiCall) -> bool:
        return (
            call.method == "sendMessage"
            and int(call.params.get("chat_id", 0)) == chat_id
            and words in str(call.params.get("text", ""))
        )

    return matches


async def start_announcement(sandbox: SandboxServer, text: str) -> None:
    await sandbox.exchange_text(ADMIN, "/announce")
    assert "Send the announcement as your next message" in last_text(sandbox, ADMIN)
    await sandbox.exchange_text(ADMIN, text)


async def test_admin_announces_people_get_it_and_the_progress_ends_in_the_tally(
    sandbox: SandboxServer, admin_bot: BotRunner
) -> None:
    for person in PEOPLE:
        await onboard(sandbox, person)
    sandbox.block(PEOPLE[2])  # blocked the bot after setting up

    # Broken HTML: Telegram's parser (the sandbox's) refuses the preview; nothing stored.
    await start_announcement(sandbox, "<b>New</i> topics")
    assert last_text(sandbox, ADMIN).startswith(
        "Telegram could not show that: Can't parse entities"
    )
    # An escalation mark is refused before any preview.
    await sandbox.exchange_text(ADMIN, "🚨 not an escalation")
    assert "Only red-flag escalations" in last_text(sandbox, ADMIN)

    mark = sandbox.last_seq
    await sandbox.exchange_text(ADMIN, NEWS)
    preview, question = sandbox.new_messages_since(ADMIN, mark)
    assert preview.plain_text == "New: the /learn topics were rewritten."
    assert "exactly what people will get" in (question.plain_text or "")
    assert question.buttons() == [
        [("Everyone active (3)", "ann|aud|1|everyone")],
        [("Cancel", "ann|no|1")],
    ]
    # The text went to the announcement, not to the check-in conversation.
    assert "I don't know" not in (question.plain_text or "")

    await sandbox.exchange_press(ADMIN, "Everyone active (3)")
    assert "goes to 3 (everyone active)" in last_text(sandbox, ADMIN)
    mark = sandbox.last_seq
    await sandbox.exchange_press(ADMIN, "Send to 3")
    assert last_text(sandbox, ADMIN) == "Announcement #1, sending: 0 / 3 sent, 0 blocked."
    progress_id = sandbox.last_message(ADMIN).message_id

    for person in PEOPLE[:2]:
        await sandbox.wait_for_call(sent_to(person, "/learn topics"), after_seq=mark)
    await sandbox.wait_for_call(
        edit_of(ADMIN, "Announcement #1 finished: 2 / 3 sent, 1 blocked."),
        after_seq=mark,
    )
    await sandbox.wait_for_call(sent_to(ADMIN, "1 people had blocked the bot"), after_seq=mark)
    [progress] = [m for m in sandbox.messages(ADMIN) if m.message_id == progress_id]
    assert progress.edits >= 1 and progress.buttons() == []
    assert progress.plain_text == "Announcement #1 finished: 2 / 3 sent, 1 blocked."
    for person in PEOPLE[:2]:
        announced = [m for m in sandbox.messages(person) if "/learn topics" in (m.plain_text or "")]
        assert len(announced) == 1
    assert sandbox.messages(PEOPLE[2]) == [] or all(
        "/learn topics" not in (m.plain_text or "") for m in sandbox.messages(PEOPLE[2])
    )
    active = await users(admin_bot.settings.database_url)
    assert active[PEOPLE[2]] is False and active[PEOPLE[0]] is True

    outcomes = [
        outcome
        for actor, action, outcome in await audit_rows(admin_bot.settings.database_url)
        if action == "announce" and actor == ADMIN
    ]
    assert outcomes == [
        "started",
        "invalid_html",
        "invalid_text",
        "previewed",
        "counted",
        "confirmed",
        "finished",
    ]


async def test_cancel_midway_stops_the_rest(sandbox: SandboxServer, admin_bot: BotRunner) -> None:
    recipients = range(60_000, 60_300)
    await seed_people(admin_bot.settings.database_url, recipients)
    await start_announcement(sandbox, NEWS)
    await sandbox.exchange_press(ADMIN, "Everyone active (300)")
    mark = sandbox.last_seq
    await sandbox.exchange_press(ADMIN, "Send to 300")

    # The progress message is edited while the run goes on (~30 a second)…
    def counted_some(call: ApiCall) -> bool:
        text = str(call.params.get("text", ""))
        return edit_of(ADMIN, "Announcement #1, sending: ")(call) and "sending: 0 /" not in text

    edit = await sandbox.wait_for_call(counted_some, after_seq=mark)
    assert str(edit.params["text"]).endswith(" / 300 sent, 0 blocked.")

    await sandbox.exchange_text(ADMIN, "/announce cancel")
    reply = last_text(sandbox, ADMIN)
    assert reply.startswith("Announcement #1 cancelled: ") and "were withdrawn" in reply
    after_cancel = sandbox.last_seq
    # …and once the messages already on their way are done, the final tally arrives.
    await sandbox.wait_for_call(sent_to(ADMIN, " / 300 sent"), after_seq=after_cancel)
    report = sandbox.last_message(ADMIN).plain_text or ""
    delivered = sum(len(sandbox.messages(chat)) for chat in recipients)
    assert 0 < delivered < 300
    assert report.startswith(f"Announcement #1 cancelled: {delivered} / 300 sent, 0 blocked, ")
    assert f"{300 - delivered} withdrawn" in report
    # /announce cancel again: nothing open.
    await sandbox.exchange_text(ADMIN, "/announce cancel")
    assert last_text(sandbox, ADMIN) == "No announcement is open: nothing to cancel."


async def test_a_non_admin_gets_the_unknown_command_reply_and_is_audited(
    sandbox: SandboxServer, admin_bot: BotRunner
) -> None:
    await onboard(sandbox, STRANGER)
    await sandbox.exchange_text(STRANGER, "/announce")
    assert last_text(sandbox, STRANGER) == UNKNOWN
    await sandbox.exchange_text(STRANGER, "/announce cancel")
    assert last_text(sandbox, STRANGER) == UNKNOWN
    # Their next text is an ordinary message, not an announcement.
    await sandbox.exchange_text(STRANGER, "<b>Hello everyone</b>")
    assert "Hello everyone" not in last_text(sandbox, STRANGER)
    assert await audit_rows(admin_bot.settings.database_url) == [
        (STRANGER, "announce", "refused"),
        (STRANGER, "announce", "refused"),
    ]
