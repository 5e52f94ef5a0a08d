"""Daily reminders: the schedule kept in ``users.next_reminder_at`` and the scheduler tick.

Why the schedule lives in the database and not in per-person jobs: in-memory jobs vanish on a
restart and cannot be shared between bot instances. Each person's next reminder is one indexed
UTC instant; every tick claims the due rows in a transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two instances never take the same row), advances them to their next due time and
writes each reminder to the outbox (bot.services.outbox) *in that same transaction*. Either
both happen or neither: a crash cannot advance a person without queuing their reminder, nor
queue one twice (the dedupe key ``reminder:<user>:<local date>[:snooze]`` makes a second write
a no-op). The outbox's dispatcher sends it under the shared send budget, at most once.

Every use case that a person triggers records the Telegram update id in its transaction
(``claim_update``), so a re-delivered update acts once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, TypeAlias

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Checkin, User
from bot.db.session import SessionFactory
from bot.domain.outbox import OutgoingMessage
from bot.domain.parsing import AnswerError, parse_clock_time
from bot.domain.pause import PauseRequestError, parse_pause
from bot.domain.schedule import (
    DEFAULT_CATCH_UP_GRACE,
    QuietHours,
    ReminderPlan,
    catch_up_decision,
    local_date,
    next_due,
    snooze_until,
)
from bot.domain.timezones import zone_for
from bot.services import outbox
from bot.services.kernel import Clock, Duplicate, Kernel, NeedsOnboarding, utc_now

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
# The "needs scheduling" pass (people with a reminder time but no next_reminder_at, e.g. set
# by a code path that did not reschedule) runs on the first tick and then every this many
# ticks; it scans the rows whose next_reminder_at is NULL, which is why it is not every tick.
DEFAULT_BACKFILL_EVERY_TICKS = 10
# Stored in paused_until for "/pause" without a date (see ReminderPlan.paused_indefinitely).
PAUSED_INDEFINITELY = date.max
# Check-ins from this many UTC days back can matter for "already done today" in any zone.
_DONE_LOOKBACK = timedelta(days=2)


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """One reminder to deliver; `Composer` turns it into the outbox message."""

    user_id: int
    local_date: date  # the person's date the reminder is for
    due_at: datetime  # UTC
    snoozed: bool  # the comeback of a snoozed reminder rather than the day's first

    @property
    def dedupe_key(self) -> str:
        """One daily reminder per person and local date; a snoozed comeback is keyed by its
        due minute, so each snooze comes back once."""
        suffix = f":snooze:{self.due_at.astimezone(UTC):%H%M}" if self.snoozed else ""
        return f"reminder:{self.user_id}:{self.local_date.isoformat()}{suffix}"


@dataclass(frozen=True)
class TickStats:
    """What one tick did; for logs and the benchmark."""

    scheduled: int = 0  # people the needs-scheduling pass gave a first next_reminder_at
    claimed: int = 0  # due rows taken by this instance
    queued: int = 0  # reminders written to the outbox
    stale: int = 0  # missed by more than the grace period: advanced without sending
    suppressed: int = 0  # already checked in (or skipped/paused) that day: advanced silently
    switched_off: int = 0  # due rows whose reminders were turned off meanwhile


# Renders a reminder as the message to send (texts and buttons live with the handlers).
Composer = Callable[[Reminder], OutgoingMessage]

Change = Literal[
    "snoozed",
    "skipped",
    "paused",
    "resumed",
    "quiet_set",
    "quiet_off",
    "reactivated",
    "deactivated",
]


@dataclass(frozen=True)
class Scheduled:
    """A change took effect; when the next reminder comes, in the person's local time."""

    change: Change
    today: date  # the person's local date now, to word "today"/"tomorrow"
    next_local: datetime | None  # None: no reminder planned (off, or paused indefinitely)
    resume_on: date | None = None  # /pause with a date: the first day with reminders again
    quiet: QuietHours | None = None


RefusalReason = Literal[
    "no_reminder_time",
    "stale_reminder",
    "already_checked_in",
    "pause_not_understood",
    "pause_in_past",
    "pause_too_far",
]


@dataclass(frozen=True)
class Refused:
    """Nothing changed, for a reason the person should hear."""

    reason: RefusalReason


ReminderResult: TypeAlias = "Scheduled | Refused | Duplicate | NeedsOnboarding"


# --- pure helpers: parsing the commands ---------------------------------------------------


class QuietHoursError(ValueError):
    """A /quiet argument that is not "HH:MM-HH:MM" or "off"."""


_QUIET_OFF = frozenset({"off", "none", "no", "clear", "remove"})
_QUIET_SPLIT = re.compile(r"\s*(?:-|–|—|\bto\b|\buntil\b|\btill\b)\s*")


def parse_quiet_hours(text: str) -> QuietHours | None:
    """ "22:00-07:00", "10pm to 7am" → QuietHours; "off" → None; QuietHoursError otherwise."""
    normal = " ".join(text.casefold().split())
    if normal in _QUIET_OFF:
        return None
    parts = _QUIET_SPLIT.split(normal)
    if len(parts) != 2 or not all(parts):
        raise QuietHoursError(text)
    try:
        start, end = parse_clock_time(parts[0]), parse_clock_time(parts[1])
    except AnswerError as error:
        raise QuietHoursError(text) from error
    if start == end:
        raise QuietHoursError(text)
    return QuietHours(start=start, end=end)


# --- pure helpers: one person's schedule --------------------------------------------------


@dataclass(frozen=True)
class _Person:
    """The columns the schedule depends on, detached from any session."""

    user_id: int
    timezone: str | None
    reminder_time: time | None
    consented: bool
    active: bool
    paused_until: date | None
    quiet_start: time | None
    quiet_end: time | None
    skipped_date: date | None
    last_reminded_date: date | None
    next_reminder_at: datetime | None

    @classmethod
    def of(cls, user: User) -> _Person:
        return cls(
            user_id=user.id,
            timezone=user.timezone,
            reminder_time=user.reminder_time,
            consented=user.consented_at is not None,
            active=user.active,
            paused_until=user.paused_until,
            quiet_start=user.quiet_start,
            quiet_end=user.quiet_end,
            skipped_date=user.skipped_date,
            last_reminded_date=user.last_reminded_date,
            next_reminder_at=user.next_reminder_at,
        )


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything this module stores is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _zone(person: _Person, default_timezone: str) -> tzinfo:
    return zone_for(person.timezone or default_timezone)


def quiet_hours_of(start: time | None, end: time | None) -> QuietHours | None:
    """Stored quiet columns as QuietHours (None when unset or degenerate)."""
    if start is None or end is None or start == end:
        return None
    return QuietHours(start=start.replace(tzinfo=None), end=end.replace(tzinfo=None))


def _plan(person: _Person, default_timezone: str) -> ReminderPlan | None:
    """The arithmetic's view of a person, or None when they should get no reminders."""
    if not (person.active and person.consented and person.reminder_time is not None):
        return None
    try:
        zone = _zone(person, default_timezone)
    except ValueError:
        log.warning("user has an unusable timezone; reminders stay off")
        return None
    return ReminderPlan(
        remind_at=person.reminder_time.replace(tzinfo=None, microsecond=0),
        zone=zone,
        quiet=quiet_hours_of(person.quiet_start, person.quiet_end),
        paused_until=person.paused_until,
    )


def _already_had(person: _Person, *more: date | None) -> frozenset[date]:
    """Dates that must not get a (new) daily reminder: skipped, or reminded already."""
    return frozenset(
        day for day in (person.skipped_date, person.last_reminded_date, *more) if day is not None
    )


def upcoming(
    person: _Person, *, now: datetime, done: Collection[date], default_timezone: str
) -> datetime | None:
    """The person's next reminder strictly after ``now`` (UTC), or None for none."""
    plan = _plan(person, default_timezone)
    if plan is None:
        return None
    return next_due(
        plan, after=now, done_local_dates=done, skipped_local_dates=_already_had(person)
    )


@dataclass(frozen=True)
class Decision:
    """What a tick does with one claimed row."""

    outcome: Literal["send", "stale", "suppressed", "off"]
    next_at: datetime | None
    last_reminded_date: date | None
    reminder: Reminder | None = None


def decide(
    person: _Person,
    *,
    now: datetime,
    grace: timedelta,
    done: Collection[date],
    default_timezone: str,
) -> Decision:
    """Send, skip as stale, or pass over silently — and the next due time either way.

    A stored due time missed by more than ``grace`` is not sent, but a later occurrence
    that is still within the grace (the bot was down for days and came back shortly after
    today's reminder time) is. A due instant whose local date already had its reminder is a
    snooze coming back: daily reminders are never scheduled on such a date.
    """
    plan = _plan(person, default_timezone)
    if plan is None or person.next_reminder_at is None:
        return Decision("off", None, person.last_reminded_date)
    due = as_utc(person.next_reminder_at)
    snoozed = False
    if catch_up_decision(due, now, grace=grace) == "skip":
        latest = next_due(
            plan,
            after=now - grace,
            done_local_dates=done,
            skipped_local_dates=_already_had(person),
        )
        if latest is None or latest > now:
            return Decision("stale", latest, person.last_reminded_date)
        due = latest
    else:
        snoozed = local_date(due, plan.zone) == person.last_reminded_date
    day = local_date(due, plan.zone)
    paused = plan.paused_until is not None and day <= plan.paused_until
    skipped = person.skipped_date == day
    following = next_due(
        plan, after=now, done_local_dates=done, skipped_local_dates=_already_had(person, day)
    )
    if day in done or paused or skipped:
        return Decision("suppressed", following, person.last_reminded_date)
    reminder = Reminder(user_id=person.user_id, local_date=day, due_at=due, snoozed=snoozed)
    return Decision("send", following, day, reminder)


# --- database helpers ---------------------------------------------------------------------

# A SELECT of _PERSON_COLUMNS (SQLAlchemy 2.1 types a select by its column types).
PersonSelect = Select[*tuple[Any, ...]]

_PERSON_COLUMNS = (
    User.id,
    User.timezone,
    User.reminder_time,
    User.consented_at,
    User.active,
    User.paused_until,
    User.quiet_start,
    User.quiet_end,
    User.skipped_date,
    User.last_reminded_date,
    User.next_reminder_at,
)


def _person_from_row(row: Sequence[Any]) -> _Person:
    (
        user_id,
        timezone,
        reminder_time,
        consented_at,
        active,
        paused_until,
        quiet_start,
        quiet_end,
        skipped_date,
        last_reminded_date,
        next_reminder_at,
    ) = row
    return _Person(
        user_id=int(user_id),
        timezone=timezone,
        reminder_time=reminder_time,
        consented=consented_at is not None,
        active=bool(active),
        paused_until=paused_until,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        skipped_date=skipped_date,
        last_reminded_date=last_reminded_date,
        next_reminder_at=next_reminder_at,
    )


def claim_statement(now: datetime, limit: int, dialect: str) -> PersonSelect:
    """The due rows, oldest first, through the next_reminder_at index; locked on PostgreSQL.

    ``SKIP LOCKED`` lets a second instance take the next rows instead of waiting for (and then
    re-sending) the ones the first is handling.
    """
    statement: PersonSelect = (
        select(*_PERSON_COLUMNS)
        .where(User.next_reminder_at <= as_utc(now), User.active.is_(True))
        .order_by(User.next_reminder_at)
        .limit(limit)
    )
    if dialect == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return statement


def needs_scheduling_statement(limit: int, dialect: str) -> PersonSelect:
    """People who should have a next reminder but have none (NULL via the same index)."""
    statement: PersonSelect = (
        select(*_PERSON_COLUMNS)
        .where(
            User.next_reminder_at.is_(None),
            User.active.is_(True),
            User.reminder_time.is_not(None),
            User.consented_at.is_not(None),
            or_(User.paused_until.is_(None), User.paused_until != PAUSED_INDEFINITELY),
        )
        .limit(limit)
    )
    if dialect == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return statement


async def _done_dates(
    session: AsyncSession, user_ids: Collection[int], now: datetime
) -> dict[int, set[date]]:
    """Recent check-in dates per person (the unique (user_id, local_date) index serves it)."""
    if not user_ids:
        return {}
    since = (as_utc(now) - _DONE_LOOKBACK).date()
    statement = select(Checkin.user_id, Checkin.local_date).where(
        Checkin.user_id.in_(list(user_ids)), Checkin.local_date >= since
    )
    found: dict[int, set[date]] = {}
    for user_id, day in await session.execute(statement):
        found.setdefault(int(user_id), set()).add(day)
    return found


async def _store_next(
    session: AsyncSession, user: User, *, now: datetime, default_timezone: str
) -> datetime | None:
    """Recompute and set ``user.next_reminder_at`` from what is stored now."""
    done = (await _done_dates(session, [user.id], now)).get(user.id, set())
    next_at = upcoming(_Person.of(user), now=now, done=done, default_timezone=default_timezone)
    user.next_reminder_at = next_at
    return next_at


async def reschedule_in(
    session: AsyncSession, user: User, *, now: datetime, settings: Settings
) -> None:
    """Bring ``user.next_reminder_at`` up to date inside the caller's transaction.

    Call it wherever reminder time, timezone, consent or a check-in changes (onboarding and
    /settings completion, a stored check-in), so the change takes effect at once instead of at
    the scheduler's next needs-scheduling pass. Pending check-ins in the session are flushed
    by the query, so "checked in today" already counts.
    """
    await reschedule_user(session, user, now=now, default_timezone=settings.default_timezone)


async def reschedule_user(
    session: AsyncSession, user: User, *, now: datetime, default_timezone: str
) -> None:
    """reschedule_in for callers that hold the default timezone rather than Settings."""
    await _store_next(session, user, now=as_utc(now), default_timezone=default_timezone)


# --- the service --------------------------------------------------------------------------


@dataclass
class _Counts:
    scheduled: int = 0
    claimed: int = 0
    queued: int = 0
    stale: int = 0
    suppressed: int = 0
    switched_off: int = 0

    def frozen(self) -> TickStats:
        return TickStats(
            scheduled=self.scheduled,
            claimed=self.claimed,
            queued=self.queued,
            stale=self.stale,
            suppressed=self.suppressed,
            switched_off=self.switched_off,
        )


class ReminderService:
    """The scheduler tick plus /pause, /resume, /quiet, snooze, skip and block/unblock."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        default_timezone: str = "UTC",
        clock: Clock | None = None,
        catch_up_grace: timedelta = DEFAULT_CATCH_UP_GRACE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        backfill_every_ticks: int = DEFAULT_BACKFILL_EVERY_TICKS,
    ) -> None:
        """``backfill_every_ticks=0`` turns the needs-scheduling pass off (benchmarks)."""
        if batch_size <= 0 or backfill_every_ticks < 0:
            raise ValueError("batch_size must be positive, backfill_every_ticks not negative")
        self._sessions = sessions
        self._default_timezone = default_timezone
        self._clock = clock or utc_now
        self._kernel = Kernel(sessions)
        self._grace = catch_up_grace
        self._batch_size = batch_size
        self._backfill_every = backfill_every_ticks
        self._ticks_until_backfill = 0

    # --- the scheduler --------------------------------------------------------------------

    async def due_count(self, *, now: datetime) -> int:
        """People whose reminder is due and not sent yet (the metrics' reminders depth):
        a number that keeps growing means the scheduler falls behind."""
        statement = select(func.count()).where(
            User.next_reminder_at <= as_utc(now), User.active.is_(True)
        )
        async with self._sessions() as session:
            return int((await session.execute(statement)).scalar_one())

    async def tick(self, *, now: datetime, compose: Composer) -> TickStats:
        """Claim and advance every reminder due at ``now`` and queue it in the outbox, one
        batch (one transaction) at a time. Nothing is sent here: that is the dispatcher's."""
        now = as_utc(now)
        counts = _Counts()
        if self._backfill_every:
            if self._ticks_until_backfill <= 0:
                counts.scheduled = await self.schedule_missing(now=now)
                full = counts.scheduled >= self._batch_size
                self._ticks_until_backfill = 0 if full else self._backfill_every
            self._ticks_until_backfill -= 1
        while True:
            claimed = await self._claim_batch(now, compose, counts)
            if claimed < self._batch_size:
                return counts.frozen()

    async def _claim_batch(self, now: datetime, compose: Composer, counts: _Counts) -> int:
        """One transaction: lock due rows, decide, store the next due time, queue the
        reminders in the outbox, commit."""
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            rows = (await session.execute(claim_statement(now, self._batch_size, dialect))).all()
            if not rows:
                return 0
            people = [_person_from_row(row) for row in rows]
            done = await _done_dates(session, [person.user_id for person in people], now)
            changes: list[dict[str, Any]] = []
            reminders: list[Reminder] = []
            for person in people:
                decision = decide(
                    person,
                    now=now,
                    grace=self._grace,
                    done=done.get(person.user_id, set()),
                    default_timezone=self._default_timezone,
                )
                changes.append(
                    {
                        "id": person.user_id,
                        "next_reminder_at": decision.next_at,
                        "last_reminded_date": decision.last_reminded_date,
                    }
                )
                if decision.reminder is not None:
                    reminders.append(decision.reminder)
                elif decision.outcome == "stale":
                    counts.stale += 1
                elif decision.outcome == "suppressed":
                    counts.suppressed += 1
                else:
                    counts.switched_off += 1
            await session.execute(update(User), changes)
            if reminders:
                counts.queued += await outbox.enqueue_many(
                    session, (compose(reminder) for reminder in reminders)
                )
            counts.claimed += len(rows)
            # Leaving the block commits the advanced rows and their outbox messages together.
        return len(rows)

    async def schedule_missing(self, *, now: datetime) -> int:
        """Give a first next_reminder_at to people who have a reminder time but none yet."""
        now = as_utc(now)
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            statement = needs_scheduling_statement(self._batch_size, dialect)
            people = [_person_from_row(row) for row in (await session.execute(statement)).all()]
            if not people:
                return 0
            done = await _done_dates(session, [person.user_id for person in people], now)
            changes = []
            for person in people:
                next_at = upcoming(
                    person,
                    now=now,
                    done=done.get(person.user_id, set()),
                    default_timezone=self._default_timezone,
                )
                if next_at is not None:
                    changes.append({"id": person.user_id, "next_reminder_at": next_at})
            if changes:
                await session.execute(update(User), changes)
            return len(changes)

    async def chat_unreachable(self, chat_id: int, *, is_group: bool) -> None:
        """The outbox got a 403 for this chat (an OutcomeListener): a private chat is a
        person who blocked the bot, so their reminders stop."""
        if not is_group:
            await self.deactivate([chat_id])

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        """Only groups migrate; people are not affected (an OutcomeListener)."""

    async def deactivate(self, user_ids: Iterable[int]) -> None:
        """People who blocked the bot: no more reminders until they unblock it."""
        ids = list(user_ids)
        async with self._sessions.begin() as session:
            await session.execute(
                update(User)
                .where(User.id.in_(ids))
                .values(active=False, next_reminder_at=None)
                .execution_options(synchronize_session=False)
            )

    async def reschedule(self, session: AsyncSession, user_id: int, *, now: datetime) -> None:
        """Recompute one person's next reminder inside the caller's transaction."""
        user = await session.get(User, user_id)
        if user is not None:
            await _store_next(
                session, user, now=as_utc(now), default_timezone=self._default_timezone
            )

    # --- use cases ------------------------------------------------------------------------

    def _local_today(self, user: User, now: datetime) -> date:
        return now.astimezone(_zone(_Person.of(user), self._default_timezone)).date()

    async def _scheduled(
        self, session: AsyncSession, user: User, change: Change, now: datetime, **extra: Any
    ) -> Scheduled:
        """Store the new next reminder and describe it in the person's local time."""
        next_at = await _store_next(session, user, now=now, default_timezone=self._default_timezone)
        zone = _zone(_Person.of(user), self._default_timezone)
        return Scheduled(
            change=change,
            today=now.astimezone(zone).date(),
            next_local=next_at.astimezone(zone) if next_at else None,
            **extra,
        )

    async def _for_ready_user(
        self,
        user_id: int,
        update_id: int,
        act: Callable[[AsyncSession, User, datetime], Awaitable[ReminderResult]],
    ) -> ReminderResult:
        """One person-level use case: record the update, require a set-up person, then act."""
        now = as_utc(self._clock())

        async def work(session: AsyncSession, user: User) -> ReminderResult:
            return await act(session, user, now)

        return await self._kernel.run_set_up(user_id, update_id, work)

    async def snooze(self, user_id: int, update_id: int, reminder_date: date) -> ReminderResult:
        """ "Snooze 1 hour" on the reminder of ``reminder_date``."""

        async def act(session: AsyncSession, user: User, now: datetime) -> ReminderResult:
            person = _Person.of(user)
            plan = _plan(person, self._default_timezone)
            if plan is None:
                return Refused("no_reminder_time")
            today = now.astimezone(plan.zone).date()
            if reminder_date != today:
                return Refused("stale_reminder")
            if today in (await _done_dates(session, [user_id], now)).get(user_id, set()):
                return Refused("already_checked_in")
            comeback = snooze_until(now, plan=plan)
            user.next_reminder_at = comeback
            # The snooze counts as today's reminder, so a settings change cannot add another.
            user.last_reminded_date = today
            return Scheduled(
                change="snoozed", today=today, next_local=comeback.astimezone(plan.zone)
            )

        return await self._for_ready_user(user_id, update_id, act)

    async def skip_today(self, user_id: int, update_id: int, reminder_date: date) -> ReminderResult:
        """ "Skip today": no more reminders (nor the snooze) on the person's today."""

        async def act(session: AsyncSession, user: User, now: datetime) -> ReminderResult:
            today = self._local_today(user, now)
            if reminder_date != today:
                return Refused("stale_reminder")
            user.skipped_date = today
            return await self._scheduled(session, user, "skipped", now)

        return await self._for_ready_user(user_id, update_id, act)

    async def pause(self, user_id: int, update_id: int, request: str) -> ReminderResult:
        """/pause [until]: no reminders until a date, or until /resume."""

        async def act(session: AsyncSession, user: User, now: datetime) -> ReminderResult:
            if user.reminder_time is None:
                return Refused("no_reminder_time")
            today = self._local_today(user, now)
            try:
                resume_on = parse_pause(request, today)
            except PauseRequestError as error:
                return Refused(_PAUSE_REFUSALS[error.reason])
            user.paused_until = (
                PAUSED_INDEFINITELY if resume_on is None else resume_on - timedelta(days=1)
            )
            return await self._scheduled(session, user, "paused", now, resume_on=resume_on)

        return await self._for_ready_user(user_id, update_id, act)

    async def resume(self, user_id: int, update_id: int) -> ReminderResult:
        """/resume: reminders as usual from the next due time on."""

        async def act(session: AsyncSession, user: User, now: datetime) -> ReminderResult:
            if user.reminder_time is None:
                return Refused("no_reminder_time")
            user.paused_until = None
            return await self._scheduled(session, user, "resumed", now)

        return await self._for_ready_user(user_id, update_id, act)

    async def set_quiet_hours(
        self, user_id: int, update_id: int, quiet: QuietHours | None
    ) -> ReminderResult:
        """/quiet HH:MM-HH:MM or /quiet off: no reminder ever lands inside the window."""

        async def act(session: AsyncSession, user: User, now: datetime) -> ReminderResult:
            user.quiet_start = quiet.start if quiet else None
            user.quiet_end = quiet.end if quiet else None
            change: Change = "quiet_set" if quiet else "quiet_off"
            return await self._scheduled(session, user, change, now, quiet=quiet)

        return await self._for_ready_user(user_id, update_id, act)

    async def quiet_hours(self, user_id: int) -> QuietHours | None:
        """The person's quiet hours, for showing them (read only)."""
        async with self._sessions() as session:
            user = await session.get(User, user_id)
            return quiet_hours_of(user.quiet_start, user.quiet_end) if user else None

    async def chat_member_changed(
        self, user_id: int, update_id: int, *, blocked: bool
    ) -> ReminderResult:
        """my_chat_member in the private chat: blocked → inactive; unblocked → back on."""
        now = as_utc(self._clock())

        async def work(session: AsyncSession) -> ReminderResult:
            user = await session.get(User, user_id)
            if user is None:
                return NeedsOnboarding()
            user.active = not blocked
            change: Change = "deactivated" if blocked else "reactivated"
            return await self._scheduled(session, user, change, now)

        return await self._kernel.run(user_id, update_id, work)


_PAUSE_REFUSALS: dict[str, RefusalReason] = {
    "not_understood": "pause_not_understood",
    "past": "pause_in_past",
    "too_far": "pause_too_far",
}
