"""ReminderService against a real database (SQLite and PostgreSQL): the tick and the use cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.db.models import Checkin, OutboxMessage, User
from bot.db.session import SessionFactory, create_session_factory
from bot.domain.outbox import OutboxKind, OutgoingMessage
from bot.domain.schedule import QuietHours
from bot.services.kernel import Duplicate, NeedsOnboarding
from bot.services.reminders import (
    PAUSED_INDEFINITELY,
    QuietHoursError,
    Refused,
    Reminder,
    ReminderService,
    Scheduled,
    as_utc,
    parse_quiet_hours,
    reschedule_in,
)
from tests.support.clock import FakeClock

SETTINGS = Settings(_env_file=None, default_timezone="UTC")
BERLIN = "Europe/Berlin"
ALICE, BOB, CAROL = 101, 102, 103
# Monday 23 November 2026: 09:00 in Berlin (CET, UTC+1) is 08:00 UTC.
MONDAY = date(2026, 11, 23)
MONDAY_DUE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TUESDAY_DUE = MONDAY_DUE + timedelta(days=1)
SUNDAY_MORNING = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class Recorder:
    """A composer that records every reminder the tick queues (the outbox rows are real)."""

    def __init__(self) -> None:
        self.calls: list[Reminder] = []

    def __call__(self, reminder: Reminder) -> OutgoingMessage:
        self.calls.append(reminder)
        return OutgoingMessage(
            chat_id=reminder.user_id,
            kind=OutboxKind.REMINDER,
            dedupe_key=reminder.dedupe_key,
            text="reminder",
            buttons=None,
            not_before=reminder.due_at,
            stale_after=None,
        )

    def users(self) -> list[int]:
        return [reminder.user_id for reminder in self.calls]


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=SUNDAY_MORNING)


@pytest.fixture
def service(sessions: SessionFactory, clock: FakeClock) -> ReminderService:
    return ReminderService(sessions, default_timezone="UTC", clock=clock)


async def add_user(
    sessions: SessionFactory,
    user_id: int,
    *,
    now: datetime = SUNDAY_MORNING,
    reminder: time | None = time(9, 0),
    timezone: str = BERLIN,
    schedule: bool = True,
    **columns: Any,
) -> None:
    """A consented person, scheduled the way onboarding completion schedules them."""
    async with sessions.begin() as session:
        user = User(
            id=user_id, consented_at=now, timezone=timezone, reminder_time=reminder, **columns
        )
        session.add(user)
        await session.flush()
        if schedule:
            await reschedule_in(session, user, now=now, settings=SETTINGS)


async def add_checkin(sessions: SessionFactory, user_id: int, day: date) -> None:
    async with sessions.begin() as session:
        session.add(
            Checkin(
                user_id=user_id,
                local_date=day,
                severity=1,
                locations="",
                sleep_hours=7.0,
                caffeine_mg=0,
                water_litres=1.5,
            )
        )


async def user_row(sessions: SessionFactory, user_id: int) -> User:
    async with sessions() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def next_at(sessions: SessionFactory, user_id: int) -> datetime | None:
    value = (await user_row(sessions, user_id)).next_reminder_at
    return as_utc(value) if value is not None else None


# --- scheduling ----------------------------------------------------------------------------


async def test_reschedule_uses_the_local_reminder_time(sessions: SessionFactory) -> None:
    await add_user(sessions, ALICE)  # Sunday 10:00 in Berlin: 09:00 has passed
    await add_user(sessions, BOB, now=datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    await add_user(sessions, CAROL, timezone="America/New_York")
    assert await next_at(sessions, ALICE) == MONDAY_DUE
    assert await next_at(sessions, BOB) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert await next_at(sessions, CAROL) == datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


async def test_people_without_reminders_get_no_schedule(sessions: SessionFactory) -> None:
    await add_user(sessions, ALICE, reminder=None)
    await add_user(sessions, BOB, active=False)
    await add_user(sessions, CAROL, paused_until=PAUSED_INDEFINITELY)
    for user_id in (ALICE, BOB, CAROL):
        assert await next_at(sessions, user_id) is None


async def test_a_due_reminder_is_sent_once_and_advanced(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    sunday_evening = SUNDAY_MORNING + timedelta(hours=9)
    await add_user(sessions, BOB, now=sunday_evening, reminder=time(18, 0))
    sender = Recorder()

    early = await service.tick(now=MONDAY_DUE - timedelta(seconds=1), compose=sender)
    assert (early.claimed, sender.calls) == (0, [])

    stats = await service.tick(now=MONDAY_DUE, compose=sender)
    assert (stats.claimed, stats.queued) == (1, 1)
    [reminder] = sender.calls
    assert reminder == Reminder(user_id=ALICE, local_date=MONDAY, due_at=MONDAY_DUE, snoozed=False)
    alice = await user_row(sessions, ALICE)
    assert as_utc(alice.next_reminder_at or MONDAY_DUE) == TUESDAY_DUE
    assert alice.last_reminded_date == MONDAY

    again = await service.tick(now=MONDAY_DUE + timedelta(minutes=1), compose=sender)
    assert again.claimed == 0 and len(sender.calls) == 1
    assert await next_at(sessions, BOB) == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


async def test_missed_by_an_hour_is_sent_once_after_downtime(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    sender = Recorder()
    await service.tick(now=MONDAY_DUE + timedelta(hours=1), compose=sender)
    await service.tick(now=MONDAY_DUE + timedelta(hours=1, minutes=1), compose=sender)
    assert sender.users() == [ALICE]
    assert await next_at(sessions, ALICE) == TUESDAY_DUE


async def test_missed_by_five_hours_is_skipped_without_a_burst(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    sender = Recorder()
    stats = await service.tick(now=MONDAY_DUE + timedelta(hours=5), compose=sender)
    assert (stats.claimed, stats.stale, sender.calls) == (1, 1, [])
    assert await next_at(sessions, ALICE) == TUESDAY_DUE


async def test_days_of_downtime_send_only_todays_reminder_when_still_fresh(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    sender = Recorder()
    back = MONDAY_DUE + timedelta(days=3, minutes=30)  # Thursday 09:30 in Berlin
    stats = await service.tick(now=back, compose=sender)
    assert stats.queued == 1
    [reminder] = sender.calls
    assert reminder.local_date == date(2026, 11, 26)
    assert await next_at(sessions, ALICE) == MONDAY_DUE + timedelta(days=4)
    await service.tick(now=back + timedelta(minutes=1), compose=sender)
    assert len(sender.calls) == 1


async def test_no_reminder_when_todays_checkin_is_done(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    await add_user(sessions, BOB)
    await add_checkin(sessions, ALICE, MONDAY)
    sender = Recorder()
    stats = await service.tick(now=MONDAY_DUE, compose=sender)
    assert sender.users() == [BOB]
    assert stats.suppressed == 1
    assert await next_at(sessions, ALICE) == TUESDAY_DUE


async def test_reschedule_after_a_checkin_moves_past_today(sessions: SessionFactory) -> None:
    early_monday = MONDAY_DUE - timedelta(hours=2)
    await add_user(sessions, ALICE, now=early_monday)
    assert await next_at(sessions, ALICE) == MONDAY_DUE
    async with sessions.begin() as session:
        session.add(
            Checkin(
                user_id=ALICE,
                local_date=MONDAY,
                severity=0,
                sleep_hours=8.0,
                caffeine_mg=0,
                water_litres=2.0,
            )
        )
        user = await session.get(User, ALICE)
        assert user is not None
        await reschedule_in(session, user, now=early_monday, settings=SETTINGS)
    assert await next_at(sessions, ALICE) == TUESDAY_DUE


async def test_people_missing_a_schedule_are_scheduled_by_the_tick(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE, schedule=False)
    await add_user(sessions, BOB, schedule=False, reminder=None)
    await add_user(sessions, CAROL, schedule=False, paused_until=PAUSED_INDEFINITELY)
    stats = await service.tick(now=SUNDAY_MORNING, compose=Recorder())
    assert stats.scheduled == 1
    assert await next_at(sessions, ALICE) == MONDAY_DUE
    assert await next_at(sessions, BOB) is None
    assert await next_at(sessions, CAROL) is None


async def test_turning_reminders_off_stops_a_pending_one(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    async with sessions.begin() as session:
        user = await session.get(User, ALICE)
        assert user is not None
        user.reminder_time = None  # e.g. /settings without the reschedule call
    sender = Recorder()
    stats = await service.tick(now=MONDAY_DUE, compose=sender)
    assert (stats.switched_off, sender.calls) == (1, [])
    assert await next_at(sessions, ALICE) is None


async def test_many_due_are_claimed_in_batches_within_one_tick(
    sessions: SessionFactory, clock: FakeClock
) -> None:
    service = ReminderService(sessions, clock=clock, batch_size=3)
    people = list(range(500, 507))
    for user_id in people:
        await add_user(sessions, user_id)
    sender = Recorder()
    stats = await service.tick(now=MONDAY_DUE, compose=sender)
    assert sorted(sender.users()) == people
    assert (stats.claimed, stats.queued) == (7, 7)


async def test_due_count_is_the_reminders_due_and_not_sent_yet(
    sessions: SessionFactory, service: ReminderService
) -> None:
    for user_id in (ALICE, BOB):
        await add_user(sessions, user_id)
    assert await service.due_count(now=MONDAY_DUE - timedelta(minutes=1)) == 0
    assert await service.due_count(now=MONDAY_DUE) == 2
    await service.tick(now=MONDAY_DUE, compose=Recorder())
    assert await service.due_count(now=MONDAY_DUE) == 0  # queued: next one is tomorrow


async def test_the_tick_writes_the_reminder_to_the_outbox_with_its_dedupe_key(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    stats = await service.tick(now=MONDAY_DUE, compose=Recorder())
    assert stats.queued == 1
    async with sessions() as session:
        [row] = (await session.execute(select(OutboxMessage))).scalars()
    assert (row.chat_id, row.user_id, row.kind, row.state) == (ALICE, ALICE, "reminder", "pending")
    assert row.dedupe_key == f"reminder:{ALICE}:{MONDAY.isoformat()}"
    assert as_utc(row.not_before) == MONDAY_DUE
    # The reminder kind's grace: not sent by two hours after its time, it is dropped.
    assert as_utc(row.stale_after or MONDAY_DUE) == MONDAY_DUE + timedelta(hours=2)


# --- snooze and skip -----------------------------------------------------------------------


async def test_snooze_brings_the_reminder_back_an_hour_later(
    sessions: SessionFactory, service: ReminderService, clock: FakeClock
) -> None:
    await add_user(sessions, ALICE)
    sender = Recorder()
    await service.tick(now=MONDAY_DUE, compose=sender)
    clock.now = MONDAY_DUE + timedelta(minutes=5)
    result = await service.snooze(ALICE, 1, MONDAY)
    assert isinstance(result, Scheduled) and result.change == "snoozed"
    comeback = MONDAY_DUE + timedelta(hours=1, minutes=5)
    assert result.next_local == comeback
    assert await next_at(sessions, ALICE) == comeback
    assert await service.snooze(ALICE, 1, MONDAY) == Duplicate()

    await service.tick(now=comeback - timedelta(seconds=1), compose=sender)
    assert len(sender.calls) == 1
    await service.tick(now=comeback, compose=sender)
    assert [reminder.snoozed for reminder in sender.calls] == [False, True]
    assert sender.calls[1].local_date == MONDAY
    assert await next_at(sessions, ALICE) == TUESDAY_DUE


async def test_snooze_refuses_old_reminders_and_done_days(
    sessions: SessionFactory, service: ReminderService, clock: FakeClock
) -> None:
    await add_user(sessions, ALICE)
    clock.now = MONDAY_DUE
    assert await service.snooze(ALICE, 1, MONDAY - timedelta(days=1)) == Refused("stale_reminder")
    await add_checkin(sessions, ALICE, MONDAY)
    assert await service.snooze(ALICE, 2, MONDAY) == Refused("already_checked_in")
    assert await service.snooze(999, 3, MONDAY) == NeedsOnboarding()


async def test_skip_today_cancels_the_snooze_and_keeps_tomorrow(
    sessions: SessionFactory, service: ReminderService, clock: FakeClock
) -> None:
    await add_user(sessions, ALICE)
    sender = Recorder()
    await service.tick(now=MONDAY_DUE, compose=sender)
    clock.now = MONDAY_DUE + timedelta(minutes=1)
    await service.snooze(ALICE, 1, MONDAY)
    result = await service.skip_today(ALICE, 2, MONDAY)
    assert isinstance(result, Scheduled) and result.next_local == TUESDAY_DUE
    await service.tick(now=MONDAY_DUE + timedelta(hours=2), compose=sender)
    assert len(sender.calls) == 1
    await service.tick(now=TUESDAY_DUE, compose=sender)
    assert [reminder.local_date for reminder in sender.calls] == [MONDAY, MONDAY + timedelta(1)]


async def test_skip_before_the_reminder_suppresses_it(
    sessions: SessionFactory, service: ReminderService, clock: FakeClock
) -> None:
    clock.now = MONDAY_DUE - timedelta(hours=2)
    await add_user(sessions, ALICE, now=clock.now)
    await service.skip_today(ALICE, 1, MONDAY)
    sender = Recorder()
    await service.tick(now=MONDAY_DUE, compose=sender)
    assert sender.calls == []
    assert await next_at(sessions, ALICE) == TUESDAY_DUE
    assert (await user_row(sessions, ALICE)).skipped_date == MONDAY


# --- pause, resume, quiet hours --------------------------------------------------------------


async def test_pause_for_days_then_reminders_come_back(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    result = await service.pause(ALICE, 1, "3 days")
    assert isinstance(result, Scheduled) and result.resume_on == date(2026, 11, 25)
    assert await next_at(sessions, ALICE) == MONDAY_DUE + timedelta(days=2)
    sender = Recorder()
    for day in range(3):
        await service.tick(now=MONDAY_DUE + timedelta(days=day), compose=sender)
    assert [reminder.local_date for reminder in sender.calls] == [date(2026, 11, 25)]


async def test_pause_indefinitely_until_resume(
    sessions: SessionFactory, service: ReminderService, clock: FakeClock
) -> None:
    await add_user(sessions, ALICE)
    result = await service.pause(ALICE, 1, "")
    assert isinstance(result, Scheduled) and result.next_local is None
    assert (await user_row(sessions, ALICE)).paused_until == PAUSED_INDEFINITELY
    sender = Recorder()
    await service.tick(now=MONDAY_DUE, compose=sender)
    clock.now = MONDAY_DUE + timedelta(days=7)
    await service.tick(now=clock.now, compose=sender)
    assert sender.calls == []

    resumed = await service.resume(ALICE, 2)
    assert isinstance(resumed, Scheduled)
    assert resumed.next_local == MONDAY_DUE + timedelta(days=8)
    await service.tick(now=MONDAY_DUE + timedelta(days=8), compose=sender)
    assert len(sender.calls) == 1


@pytest.mark.parametrize(
    ("request_text", "reason"),
    [
        ("whenever", "pause_not_understood"),
        ("2026-11-01", "pause_in_past"),
        ("2028-01-01", "pause_too_far"),
    ],
)
async def test_pause_refusals_change_nothing(
    sessions: SessionFactory, service: ReminderService, request_text: str, reason: str
) -> None:
    await add_user(sessions, ALICE)
    assert await service.pause(ALICE, 1, request_text) == Refused(reason)  # type: ignore[arg-type]
    assert await next_at(sessions, ALICE) == MONDAY_DUE
    assert (await user_row(sessions, ALICE)).paused_until is None


async def test_pause_without_a_reminder_time_is_refused(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE, reminder=None)
    assert await service.pause(ALICE, 1, "") == Refused("no_reminder_time")


async def test_quiet_hours_move_the_reminder_out_of_the_window(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE, reminder=time(6, 30))
    assert await next_at(sessions, ALICE) == datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
    night = QuietHours(start=time(22, 0), end=time(7, 0))
    result = await service.set_quiet_hours(ALICE, 1, night)
    assert isinstance(result, Scheduled) and result.quiet == night
    assert await next_at(sessions, ALICE) == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert await service.quiet_hours(ALICE) == night
    await service.set_quiet_hours(ALICE, 2, None)
    assert await next_at(sessions, ALICE) == datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
    assert await service.quiet_hours(ALICE) is None


# --- daylight saving --------------------------------------------------------------------------


async def test_berlin_reminders_follow_the_march_clock_change(
    sessions: SessionFactory, service: ReminderService
) -> None:
    saturday = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 CET
    await add_user(sessions, ALICE, now=saturday - timedelta(hours=1))
    await add_user(sessions, BOB, now=saturday - timedelta(hours=1), reminder=time(2, 30))
    assert await next_at(sessions, ALICE) == saturday
    sender = Recorder()
    await service.tick(now=saturday, compose=sender)
    sunday_due = datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert await next_at(sessions, ALICE) == sunday_due
    # 02:30 does not exist on the 29th: it is sent at 03:30 CEST (01:30 UTC).
    assert await next_at(sessions, BOB) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    await service.tick(now=datetime(2026, 3, 29, 1, 30, tzinfo=UTC), compose=sender)
    await service.tick(now=sunday_due, compose=sender)
    assert [(r.user_id, r.local_date) for r in sender.calls] == [
        (ALICE, date(2026, 3, 28)),
        (BOB, date(2026, 3, 29)),
        (ALICE, date(2026, 3, 29)),
    ]
    assert await next_at(sessions, BOB) == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)


# --- blocked and unblocked --------------------------------------------------------------------


async def test_a_person_who_blocked_the_bot_is_deactivated_and_not_retried(
    sessions: SessionFactory, service: ReminderService
) -> None:
    await add_user(sessions, ALICE)
    await add_user(sessions, BOB)
    sender = Recorder()
    stats = await service.tick(now=MONDAY_DUE, compose=sender)
    assert stats.queued == 2
    # What the outbox dispatcher does on a 403 for a private chat (an OutcomeListener).
    await service.chat_unreachable(ALICE, is_group=False)
    await service.chat_unreachable(BOB, is_group=True)  # a group's 403 is not about a person
    alice = await user_row(sessions, ALICE)
    assert (alice.active, alice.next_reminder_at) == (False, None)
    await service.tick(now=TUESDAY_DUE, compose=sender)
    await service.tick(now=TUESDAY_DUE + timedelta(days=1), compose=sender)
    assert sender.users().count(ALICE) == 1
    assert sender.users().count(BOB) == 3
    assert (await user_row(sessions, BOB)).active


async def test_unblocking_reactivates_and_reschedules(
    sessions: SessionFactory, service: ReminderService, clock: FakeClock
) -> None:
    await add_user(sessions, ALICE)
    blocked = await service.chat_member_changed(ALICE, 1, blocked=True)
    assert isinstance(blocked, Scheduled) and blocked.next_local is None
    assert (await user_row(sessions, ALICE)).active is False
    clock.now = MONDAY_DUE + timedelta(hours=3)
    back = await service.chat_member_changed(ALICE, 2, blocked=False)
    assert isinstance(back, Scheduled) and back.change == "reactivated"
    alice = await user_row(sessions, ALICE)
    assert alice.active is True
    assert await next_at(sessions, ALICE) == TUESDAY_DUE
    assert await service.chat_member_changed(ALICE, 2, blocked=True) == Duplicate()
    assert await service.chat_member_changed(999, 3, blocked=False) == NeedsOnboarding()


# --- parsing the commands (pure) --------------------------------------------------------------

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-07:00", QuietHours(time(22, 0), time(7, 0))),
        ("22:00 – 07:00", QuietHours(time(22, 0), time(7, 0))),
        ("10pm to 7am", QuietHours(time(22, 0), time(7, 0))),
        ("13:00-14:30", QuietHours(time(13, 0), time(14, 30))),
        ("off", None),
        ("None", None),
    ],
)
def test_parse_quiet_hours(text: str, expected: QuietHours | None) -> None:
    assert parse_quiet_hours(text) == expected


@pytest.mark.parametrize("text", ["22:00", "22:00-22:00", "late-early", "25:00-07:00", "-"])
def test_parse_quiet_hours_rejects_unusable_windows(text: str) -> None:
    with pytest.raises(QuietHoursError):
        parse_quiet_hours(text)
