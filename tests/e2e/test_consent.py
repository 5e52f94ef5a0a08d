"""Nothing is kept about someone who has not agreed: /start alone, "Not now", a day of silence.

Every table is read through the metadata, so a table added later is checked as well.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, or_, select

from bot.db.models import Base
from bot.db.session import create_engine, create_session_factory
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_checkin import last_text, onboard

USER = 5151
HOUSEKEEPING_JOB = "housekeeping"


def _columns_naming_a_person(table: Table) -> list[Any]:
    if table.name == "users":
        return [table.c.id]
    return [
        column
        for column in table.columns
        if column.name == "user_id"
        or any(key.column.table.name == "users" for key in column.foreign_keys)
    ]


async def rows_about(url: str, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every stored row that names the person, by table (tables without such rows left out)."""
    engine = create_engine(url)
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        async with create_session_factory(engine)() as session:
            for table in Base.metadata.sorted_tables:
                columns = _columns_naming_a_person(table)
                if not columns:
                    continue
                statement = select(table).where(or_(*(column == user_id for column in columns)))
                rows = [dict(row) for row in (await session.execute(statement)).mappings()]
                if rows:
                    found[table.name] = rows
    finally:
        await engine.dispose()
    return found


async def run_housekeeping(bot: BotRunner) -> None:
    """Run the hourly housekeeping job now, as the job queue would."""
    assert bot.application is not None and bot.application.job_queue is not None
    [job] = bot.application.job_queue.get_jobs_by_name(HOUSEKEEPING_JOB)
    await job.run(bot.application)


async def test_start_alone_keeps_only_the_pending_question(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await sandbox.exchange_text(USER, "/start")
    assert "agree" in last_text(sandbox, USER)

    stored = await rows_about(bot.settings.database_url, USER)
    assert set(stored) == {"consent_requests"}, stored
    [pending] = stored["consent_requests"]
    assert set(pending) == {"user_id", "token", "created_at"}


async def test_not_now_leaves_nothing(sandbox: SandboxServer, bot: BotRunner) -> None:
    await sandbox.exchange_text(USER, "/start")
    await sandbox.exchange_press(USER, "Not now")
    assert "nothing" in last_text(sandbox, USER)

    assert await rows_about(bot.settings.database_url, USER) == {}
    await sandbox.exchange_text(USER, "/checkin")
    assert "/start" in last_text(sandbox, USER)
    assert await rows_about(bot.settings.database_url, USER) == {}


async def test_typed_no_to_the_consent_question_leaves_nothing(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await sandbox.exchange_text(USER, "/start")
    await sandbox.exchange_text(USER, "no")
    assert "nothing" in last_text(sandbox, USER)
    assert await rows_about(bot.settings.database_url, USER) == {}


async def test_a_day_of_silence_forgets_the_question_and_its_button(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await sandbox.exchange_text(USER, "/start")
    bot.clock.advance(days=1, minutes=1)

    await sandbox.exchange_press(USER, "I agree")
    assert "/start" in sandbox.calls_of("answerCallbackQuery")[-1].params.get("text", "")
    await run_housekeeping(bot)

    assert await rows_about(bot.settings.database_url, USER) == {}


async def test_housekeeping_keeps_a_question_asked_today(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await sandbox.exchange_text(USER, "/start")
    bot.clock.advance(hours=23)
    await run_housekeeping(bot)
    assert set(await rows_about(bot.settings.database_url, USER)) == {"consent_requests"}

    await sandbox.exchange_press(USER, "I agree")
    assert "timezone" in last_text(sandbox, USER)


async def test_consent_creates_the_person_and_setup_goes_on(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await sandbox.exchange_text(USER, "/start")
    await sandbox.exchange_press(USER, "I agree")

    stored = await rows_about(bot.settings.database_url, USER)
    assert set(stored) == {"users", "conversation_states"}
    [user] = stored["users"]
    assert user["consented_at"] is not None and user["timezone"] is None

    # Leaving setup half-way and coming back does not ask for consent again.
    await sandbox.exchange_text(USER, "/cancel")
    await sandbox.exchange_text(USER, "/start")
    assert "timezone" in last_text(sandbox, USER) and "agree" not in last_text(sandbox, USER)
    await sandbox.exchange_text(USER, "Berlin")
    await sandbox.exchange_press(USER, "09:00")
    assert "All set" in last_text(sandbox, USER)
    await sandbox.exchange_text(USER, "/checkin")
    assert "twitching" in last_text(sandbox, USER)


async def test_full_onboarding_leaves_no_pending_question(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox, USER)
    stored = await rows_about(bot.settings.database_url, USER)
    assert "consent_requests" not in stored and len(stored["users"]) == 1


async def test_an_emergency_before_consent_is_answered_and_nothing_kept(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "I can't breathe")
    replies = [m.plain_text for m in sandbox.new_messages_since(USER, mark)]
    assert replies and replies[0].startswith("🚨")
    assert await rows_about(bot.settings.database_url, USER) == {}

    await sandbox.exchange_text(USER, "/start")
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "crushing chest pain right now")
    replies = [m.plain_text for m in sandbox.new_messages_since(USER, mark)]
    assert replies[0].startswith("🚨")
    assert "agree" in replies[-1], "the consent question is asked again after the escalation"
    assert set(await rows_about(bot.settings.database_url, USER)) == {"consent_requests"}


async def test_commands_before_consent_point_to_start_and_keep_nothing(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    for command in ("/checkin", "/settings", "/history", "/export", "/summary", "/pause"):
        await sandbox.exchange_text(USER, command)
        assert "/start" in last_text(sandbox, USER), command
    await sandbox.exchange_text(USER, "/start")
    for command in ("/checkin", "/settings", "/history", "/export"):
        await sandbox.exchange_text(USER, command)
        assert "/start" in last_text(sandbox, USER), command
    assert set(await rows_about(bot.settings.database_url, USER)) <= {"consent_requests"}
