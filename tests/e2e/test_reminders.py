"""Reminders end to end: the real bot, its job queue and the sandbox, with a short interval.

The FakeClock decides what "now" is for the scheduler; the job queue itself ticks in real time
every 0.2 s. Instead of sleeping, tests wait for a number of finished ticks (TickWatch), so a
"nothing arrived" assertion is made after the scheduler has really looked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.config import Settings
from bot.context import DEPS_KEY
from bot.db.models import User
from bot.sandbox.models import ApiCall
from bot.sandbox.server import SandboxServer
from bot.services.reminders import TickStats, as_utc
from tests.e2e.harness import BotRunner
from tests.e2e.test_checkin import last_text, onboard, rows
from tests.support.clock import FakeClock

USER = 5151
INTERVAL = 0.2
# Onboarding happens on Sunday 22 Nov 2026 at 10:00 in Berlin with a 09:00 reminder.
MONDAY_DUE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TUESDAY_DUE = MONDAY_DUE + timedelta(days=1)


class TickWatch:
    """Counts finished scheduler ticks of the running bot (re-attach after a restart)."""

    def __init__(self) -> None:
        self.finished = 0
        self._changed = asyncio.Event()

    def attach(self, runner: BotRunner) -> None:
        assert runner.application is not None
        service = runner.application.bot_data[DEPS_KEY].reminders
        original = service.tick

        async def counted(**arguments: Any) -> TickStats:
            stats: TickStats = await original(**arguments)
            self.finished += 1
            self._changed.set()
            return stats

        service.tick = counted

    async def wait(self, ticks: int = 2, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until ``ticks`` more ticks have finished: at least one started after the call."""
        target = self.finished + ticks

        async def reached() -> None:
            while self.finished < target:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), timeout)


@pytest.fixture
def watch() -> TickWatch:
    return TickWatch()


@pytest.fixture
async def reminder_bot(
    sandbox: SandboxServer, database_url: str, clock: FakeClock, watch: TickWatch
) -> AsyncIterator[BotRunner]:
    settings = Settings(
        telegram_bot_token="",
        telegram_api_url=sandbox.api_url,
        database_url=database_url,
        default_timezone="Europe/Berlin",
        scheduler_interval_seconds=INTERVAL,
        _env_file=None,
    )
    runner = BotRunner(sandbox=sandbox, settings=settings, clock=clock)
    await runner.start()
    watch.attach(runner)
    try:
        yield runner
    finally:
        await runner.stop()


async def restart(runner: BotRunner, watch: TickWatch) -> None:
    await runner.restart()
    watch.attach(runner)


def is_reminder(call: ApiCall, user: int = USER) -> bool:
    """A sendMessage to the person carrying the reminder's buttons (sent or refused)."""
    if call.method != "sendMessage" or call.params.get("chat_id") != user:
        return False
    return "rem|snooze" in json.dumps(call.params.get("reply_markup"))


def reminder_calls(sandbox: SandboxServer, user: int = USER) -> list[ApiCall]:
    return [call for call in sandbox.calls if is_reminder(call, user)]


async def stored_user(bot: BotRunner, user: int = USER) -> User:
    [row] = await rows(bot.settings.database_url, User, id=user)
    assert isinstance(row, User)
    return row


async def wait_scheduled(bot: BotRunner, watch: TickWatch) -> datetime:
    """The stored next reminder; set at onboarding, or by the scheduler's catch-up pass."""
    for _ in range(100):
        user = await stored_user(bot)
        if user.next_reminder_at is not None:
            return as_utc(user.next_reminder_at)
        await watch.wait(1)
    raise AssertionError("the reminder was never scheduled")


async def wait_for_user(bot: BotRunner, watch: TickWatch, **expected: object) -> User:
    for _ in range(100):
        user = await stored_user(bot)
        if all(getattr(user, name) == value for name, value in expected.items()):
            return user
        await watch.wait(1)
    raise AssertionError(f"user never reached {expected}")


async def receive_reminder(sandbox: SandboxServer, clock: FakeClock, due: datetime) -> ApiCall:
    """Move the clock just past ``due`` and wait for the reminder to be sent."""
    mark = sandbox.last_seq
    clock.now = due + timedelta(seconds=10)
    return await sandbox.wait_for_call(is_reminder, after_seq=mark)


async def test_reminder_arrives_at_its_time_and_snooze_brings_it_back(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    assert await wait_scheduled(reminder_bot, watch) == MONDAY_DUE

    clock.now = MONDAY_DUE - timedelta(minutes=1)
    await watch.wait()
    assert reminder_calls(sandbox) == []

    await receive_reminder(sandbox, clock, MONDAY_DUE)
    message = sandbox.last_message(USER)
    assert "gentle reminder" in (message.plain_text or "")
    labels = [[text for text, _ in row] for row in message.buttons()]
    assert labels == [["Check in now", "Snooze 1 hour"], ["Skip today"]]

    await sandbox.exchange_press(USER, "Snooze 1 hour")
    assert "remind you again today at 10:00" in last_text(sandbox, USER)

    clock.now += timedelta(minutes=59)
    await watch.wait()
    assert len(reminder_calls(sandbox)) == 1

    clock.now += timedelta(minutes=2)
    await sandbox.wait_for_call(is_reminder, after_seq=reminder_calls(sandbox)[0].seq)
    assert "you asked for" in last_text(sandbox, USER)
    await watch.wait()
    assert len(reminder_calls(sandbox)) == 2
    assert await wait_scheduled(reminder_bot, watch) == TUESDAY_DUE


async def test_check_in_now_starts_todays_checkin(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    due = await wait_scheduled(reminder_bot, watch)
    await receive_reminder(sandbox, clock, due)
    reminder_id = sandbox.last_message(USER).message_id
    await sandbox.exchange_press(USER, "Check in now")
    assert "twitching" in last_text(sandbox, USER)
    [reminder] = [m for m in sandbox.messages(USER) if m.message_id == reminder_id]
    assert reminder.buttons() == []


TYPED_ANSWERS = (
    ("How much muscle twitching", "none"),
    ("How many hours did you sleep", "8"),
    ("How much caffeine", "none"),
    ("How much water", "2 l"),
)


async def finish_checkin(sandbox: SandboxServer) -> None:
    """Answer whatever the check-in asks (typed; the weekly safety screen by its button)."""
    mark = sandbox.last_seq
    for _ in range(10):
        sent = [message.plain_text or "" for message in sandbox.new_messages_since(USER, mark)]
        if any(text.startswith("Saved for") for text in sent):
            return
        question = last_text(sandbox, USER)
        if "safety check" in question:
            await sandbox.exchange_press(USER, "None of these")
            continue
        answers = [answer for marker, answer in TYPED_ANSWERS if marker in question]
        assert answers, f"unexpected question {question!r}"
        await sandbox.exchange_text(USER, answers[0])
    raise AssertionError(f"the check-in did not finish: {last_text(sandbox, USER)!r}")


async def test_no_reminder_on_a_day_already_checked_in(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    await wait_scheduled(reminder_bot, watch)
    clock.now = MONDAY_DUE - timedelta(hours=1)
    await sandbox.exchange_text(USER, "/checkin")
    await finish_checkin(sandbox)

    clock.now = MONDAY_DUE + timedelta(minutes=1)
    await watch.wait()
    assert reminder_calls(sandbox) == []

    await receive_reminder(sandbox, clock, TUESDAY_DUE)
    await sandbox.exchange_press(USER, "Check in now")
    await finish_checkin(sandbox)
    assert len(reminder_calls(sandbox)) == 1


async def test_skip_today_suppresses_the_rest_of_the_day(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    due = await wait_scheduled(reminder_bot, watch)
    await receive_reminder(sandbox, clock, due)
    await sandbox.exchange_press(USER, "Snooze 1 hour")
    # After a snooze the reminder still offers to skip the rest of the day.
    await sandbox.exchange_press(USER, "Skip today")
    assert "no more reminders today" in last_text(sandbox, USER)
    assert "tomorrow at 09:00" in last_text(sandbox, USER)

    clock.now = due + timedelta(hours=2)
    await watch.wait()
    assert len(reminder_calls(sandbox)) == 1

    await receive_reminder(sandbox, clock, TUESDAY_DUE)
    assert len(reminder_calls(sandbox)) == 2


async def test_a_restart_before_the_due_time_still_delivers_once(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    due = await wait_scheduled(reminder_bot, watch)
    await restart(reminder_bot, watch)
    await receive_reminder(sandbox, clock, due)
    await restart(reminder_bot, watch)
    await watch.wait()
    assert len(reminder_calls(sandbox)) == 1

    # Down over the next reminder time and back an hour later: sent once on coming back.
    await reminder_bot.stop()
    clock.now = TUESDAY_DUE + timedelta(hours=1)
    mark = sandbox.last_seq
    await reminder_bot.start()
    watch.attach(reminder_bot)
    await sandbox.wait_for_call(is_reminder, after_seq=mark)
    await watch.wait()
    assert len(reminder_calls(sandbox)) == 2


async def test_a_blocked_person_is_deactivated_and_reactivated_on_unblock(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    due = await wait_scheduled(reminder_bot, watch)
    sandbox.block(USER)
    await receive_reminder(sandbox, clock, due)  # the attempt, answered with 403
    user = await wait_for_user(reminder_bot, watch, active=False)
    assert user.next_reminder_at is None

    clock.now = TUESDAY_DUE + timedelta(minutes=1)
    await watch.wait()
    assert len(reminder_calls(sandbox)) == 1
    assert not any(message.buttons() for message in sandbox.messages(USER)[-1:])

    sandbox.set_member_status(USER, "member")
    user = await wait_for_user(reminder_bot, watch, active=True)
    assert user.next_reminder_at is not None
    next_due = as_utc(user.next_reminder_at)
    assert next_due == TUESDAY_DUE + timedelta(days=1)
    await receive_reminder(sandbox, clock, next_due)
    assert "gentle reminder" in last_text(sandbox, USER)

    # Blocking through the chat-member update switches reminders off before any attempt.
    sandbox.set_member_status(USER, "kicked")
    await wait_for_user(reminder_bot, watch, active=False)
    clock.now = next_due + timedelta(days=1, minutes=1)
    await watch.wait()
    assert len(reminder_calls(sandbox)) == 2


async def test_a_flood_limit_answer_waits_and_delivers_once(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    due = await wait_scheduled(reminder_bot, watch)
    sandbox.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    mark = sandbox.last_seq
    clock.now = due + timedelta(seconds=10)
    first = await sandbox.wait_for_call(is_reminder, after_seq=mark)
    second = await sandbox.wait_for_call(is_reminder, after_seq=first.seq)
    assert second.seq > first.seq
    await watch.wait()
    reminders = [
        message
        for message in sandbox.messages(USER)
        if any(data.startswith("rem|") for row in message.buttons() for _, data in row)
    ]
    assert len(reminders) == 1
    assert len(reminder_calls(sandbox)) == 2


async def test_pause_resume_and_quiet_commands(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    await wait_scheduled(reminder_bot, watch)

    await sandbox.exchange_text(USER, "/pause 3 days")
    assert "come back on Wed 25 Nov" in last_text(sandbox, USER)
    user = await stored_user(reminder_bot)
    assert as_utc(user.next_reminder_at or MONDAY_DUE) == MONDAY_DUE + timedelta(days=2)

    await sandbox.exchange_text(USER, "/pause whenever")
    assert "/pause 3 days" in last_text(sandbox, USER)

    await sandbox.exchange_text(USER, "/pause")
    assert "/resume" in last_text(sandbox, USER)
    assert (await stored_user(reminder_bot)).next_reminder_at is None
    clock.now = MONDAY_DUE + timedelta(minutes=1)
    await watch.wait()
    assert reminder_calls(sandbox) == []

    await sandbox.exchange_text(USER, "/resume")
    assert "Next reminder: tomorrow at 09:00" in last_text(sandbox, USER)

    await sandbox.exchange_text(USER, "/quiet 08:00-10:00")
    assert "Quiet hours: 08:00–10:00" in last_text(sandbox, USER)
    # Today's 09:00 reminder was paused away; the window moves today's to 10:00, still ahead.
    assert "today at 10:00" in last_text(sandbox, USER)
    await sandbox.exchange_text(USER, "/quiet")
    assert "Right now they are 08:00–10:00" in last_text(sandbox, USER)
    await sandbox.exchange_text(USER, "/quiet off")
    assert "Quiet hours are off" in last_text(sandbox, USER)


async def test_pause_until_a_weekday_and_a_date_next_year_shows_its_year(
    sandbox: SandboxServer, reminder_bot: BotRunner, clock: FakeClock, watch: TickWatch
) -> None:
    await onboard(sandbox, USER)
    await wait_scheduled(reminder_bot, watch)
    clock.now = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # Wednesday 2 Dec, noon in Berlin

    await sandbox.exchange_text(USER, "/pause 1 Dec")
    assert "come back on Wed 1 Dec 2027" in last_text(sandbox, USER)

    await sandbox.exchange_text(USER, "/pause until friday")
    assert "come back on Fri 4 Dec." in last_text(sandbox, USER)
    user = await stored_user(reminder_bot)
    assert user.paused_until == date(2026, 12, 3)

    for phrase, day in (("till monday", "Mon 7 Dec"), ("until next week", "Mon 7 Dec")):
        await sandbox.exchange_text(USER, f"/pause {phrase}")
        assert f"come back on {day}." in last_text(sandbox, USER), phrase
