"""Pure reminder arithmetic: when is each person's next daily reminder, as a UTC instant.

Everything here is wall-clock arithmetic on a person's own zone (a ``ZoneInfo`` or a fixed
``datetime.timezone``); the scheduler loop stores and compares the UTC instants it gets back.

Deliberate rules, in one place:

* **Spring-forward gap** — a reminder time that does not exist that day (02:30 while clocks jump
  02:00→03:00) is moved forward by the length of the gap (→ 03:30), as most calendar apps do.
* **Fall-back overlap** — a reminder time that occurs twice is sent at its *first* occurrence
  only; the repeat of that wall time is not a second reminder.
* **Quiet hours** ``[start, end)`` — a reminder that would land inside them is moved to the
  quiet *end*: the same local day when it falls in the morning part (before ``end``), the next
  local day when it falls in the evening part of a window that wraps midnight (after ``start``).
* **One local date, one reminder** — done, skipped and paused days are judged by the local date
  on which the reminder would actually be delivered. When a shift (gap or quiet hours) carries a
  day's reminder into the next date and that date also has its own reminder, the date's own
  reminder wins and the spilled one is dropped. Example: America/Nuuk skips 23:00–24:00 on its
  spring-forward Saturday, so a 23:30 reminder is dropped that Saturday rather than sent at
  00:30 on Sunday on top of Sunday's own 23:30.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

ONE_DAY = timedelta(days=1)
DEFAULT_CATCH_UP_GRACE = timedelta(hours=2)
DEFAULT_SNOOZE_MINUTES = 60

# A day's reminder is delivered at most this many local dates after its own date (a gap of up
# to a whole day, as in Pacific/Apia on 2011-12-30, plus a quiet-hours move to the next
# morning), so the search starts this far back to see every candidate for the first open date.
_MAX_SPILL_DAYS = 3
# Every _MAX_SPILL_DAYS + 1 consecutive days yield at least one new delivery date, so this many
# days per date that can be ruled out (excluded, or not after `after`) always reach an answer.
_DAYS_PER_RULED_OUT_DATE = _MAX_SPILL_DAYS + 1
_BASE_SEARCH_DAYS = 32
# Leaving quiet hours takes one move, a second only when the quiet end itself falls in a gap
# that reaches into the next quiet window; the bound keeps pathological zones from looping.
_MAX_QUIET_MOVES = 3

CatchUp = Literal["send", "skip", "wait"]


def _as_utc(name: str, value: datetime) -> datetime:
    """``value`` in UTC. Comparing or subtracting two datetimes that share a zone uses their
    wall clocks and ignores fold, which is wrong across a DST change; UTC ones are exact."""
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def _require_wall_time(name: str, value: time) -> None:
    if value.tzinfo is not None:
        raise ValueError(f"{name} must be a naive local wall time, got {value!r}")


@dataclass(frozen=True)
class QuietHours:
    """Local wall-clock window ``[start, end)`` without reminders; may wrap midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        _require_wall_time("start", self.start)
        _require_wall_time("end", self.end)
        if self.start == self.end:
            # Ambiguous between "never quiet" and "always quiet" (which would mean no reminder
            # could ever be sent); the caller must say which by passing None or real bounds.
            raise ValueError("quiet hours need different start and end times")

    @property
    def wraps_midnight(self) -> bool:
        """True for windows such as 22:00–07:00 that continue into the next day."""
        return self.start > self.end

    def contains(self, wall_time: time) -> bool:
        """Whether a naive local wall time is inside the window (start inclusive, end not)."""
        if self.wraps_midnight:
            return wall_time >= self.start or wall_time < self.end
        return self.start <= wall_time < self.end


@dataclass(frozen=True)
class ReminderPlan:
    """One person's reminder settings, everything the arithmetic needs and nothing more."""

    remind_at: time
    zone: tzinfo
    quiet: QuietHours | None = None
    paused_until: date | None = None  # local date, inclusive; date.max means indefinitely

    def __post_init__(self) -> None:
        _require_wall_time("remind_at", self.remind_at)

    @property
    def paused_indefinitely(self) -> bool:
        """True after /pause without a date: no reminder until /resume."""
        return self.paused_until == date.max


def local_date(instant: datetime, zone: tzinfo) -> date:
    """The person's calendar date at ``instant``: what "today" means for done/skip/pause."""
    return _as_utc("instant", instant).astimezone(zone).date()


def local_occurrence(day: date, at: time, zone: tzinfo) -> datetime:
    """The UTC instant of local wall time ``at`` on ``day``.

    A time inside a spring-forward gap is moved forward by the gap length (02:30 in a
    02:00→03:00 gap is 03:30 local); a time that a fall-back repeats is its first occurrence.
    Both follow from PEP 495's ``fold=0``, which resolves a gap with the offset in force before
    the transition and a repeat with the earlier offset.
    """
    _require_wall_time("at", at)
    wall = datetime.combine(day, at, tzinfo=zone).replace(fold=0)
    return wall.astimezone(UTC)


def _first_at_or_after(day: date, at: time, zone: tzinfo, not_before: datetime) -> datetime:
    """Wall time ``at`` on ``day``, taking its repeat when the first occurrence is too early.

    Needed when an instant inside a fall-back repeat is moved to a quiet end that falls in the
    same repeated hour: the first occurrence is already past, the repeat is not.
    """
    first = local_occurrence(day, at, zone)
    if first >= not_before:
        return first
    repeat = datetime.combine(day, at, tzinfo=zone).replace(fold=1).astimezone(UTC)
    # For a gap time, fold=1 resolves backwards (before `first`); only a true repeat is later.
    return repeat if repeat > first else first


def _leave_quiet_hours(instant: datetime, plan: ReminderPlan) -> datetime:
    """Move ``instant`` to the end of the quiet window it falls in; unchanged when outside."""
    quiet = plan.quiet
    if quiet is None:
        return instant
    for _ in range(_MAX_QUIET_MOVES):
        wall = instant.astimezone(plan.zone)
        wall_time = wall.time()
        if not quiet.contains(wall_time):
            break
        in_evening_part = quiet.wraps_midnight and wall_time >= quiet.start
        end_day = wall.date() + ONE_DAY if in_evening_part else wall.date()
        instant = _first_at_or_after(end_day, quiet.end, plan.zone, instant)
    return instant


def _delivery_for_day(day: date, plan: ReminderPlan) -> datetime:
    """When the reminder scheduled for ``day`` would be delivered, before any deduplication."""
    return _leave_quiet_hours(local_occurrence(day, plan.remind_at, plan.zone), plan)


def next_due(
    plan: ReminderPlan,
    *,
    after: datetime,
    done_local_dates: Collection[date] = (),
    skipped_local_dates: Collection[date] = (),
) -> datetime | None:
    """The next reminder strictly after ``after`` (UTC), or None when paused indefinitely.

    A delivery date is passed over when it is in ``done_local_dates`` (checked in already),
    ``skipped_local_dates`` or on or before ``plan.paused_until``. To keep "at most one reminder
    a day" across a change of reminder time, the caller adds dates that already had a reminder
    to ``skipped_local_dates``. Deliveries follow the module rules for gaps, repeats, quiet hours
    and spill-over. Also returns None when no delivery date exists before ``date.max``.
    """
    after = _as_utc("after", after)
    if plan.paused_indefinitely:
        return None
    zone = plan.zone
    excluded = frozenset(done_local_dates) | frozenset(skipped_local_dates)
    try:
        first_open_day = local_date(after, zone)
        if plan.paused_until is not None and plan.paused_until >= first_open_day:
            first_open_day = plan.paused_until + ONE_DAY
        ruled_out = sum(1 for excluded_day in excluded if excluded_day >= first_open_day)
        search_days = _BASE_SEARCH_DAYS + _DAYS_PER_RULED_OUT_DATE * ruled_out
        scan_start = first_open_day - timedelta(days=_MAX_SPILL_DAYS)

        # Later candidate days overwrite earlier ones: a date's own reminder beats a spill-over.
        # A delivery date is final once the scan passes it, since no day delivers before itself.
        candidates: dict[date, datetime] = {}
        for offset in range(search_days):
            scanned_day = scan_start + timedelta(days=offset)
            delivery = _delivery_for_day(scanned_day, plan)
            candidates[local_date(delivery, zone)] = delivery
            for delivery_day in sorted(day for day in candidates if day < scanned_day):
                final = candidates.pop(delivery_day)
                # Dates before first_open_day are paused or already past; from it on, every
                # day that can deliver on a date has been scanned before the date is final.
                if (
                    final > after
                    and delivery_day >= first_open_day
                    and delivery_day not in excluded
                ):
                    return final
    except OverflowError:
        # Only reachable with dates next to date.max, e.g. a pause until 9999-12-30.
        return None
    # search_days always reaches an open date (see _DAYS_PER_RULED_OUT_DATE); returning None
    # here would read as "paused indefinitely" and silently end this person's reminders.
    raise RuntimeError(f"no reminder found within {search_days} days after {after.isoformat()}")


def snooze_until(
    now: datetime, *, minutes: int = DEFAULT_SNOOZE_MINUTES, plan: ReminderPlan
) -> datetime:
    """When a snoozed reminder comes back: ``minutes`` of real time later, outside quiet hours.

    Real (UTC) minutes, so snoozing across a DST change still waits one actual hour.
    """
    now = _as_utc("now", now)
    if minutes <= 0:
        raise ValueError(f"snooze minutes must be positive, got {minutes}")
    return _leave_quiet_hours(now + timedelta(minutes=minutes), plan)


def catch_up_decision(
    due: datetime, now: datetime, *, grace: timedelta = DEFAULT_CATCH_UP_GRACE
) -> CatchUp:
    """What to do with a reminder found due at ``now``, e.g. after downtime.

    "wait" before it is due, "send" when it is at most ``grace`` late (sent once on coming
    back), "skip" when older, so a restart never produces a burst of stale reminders.
    """
    due = _as_utc("due", due)
    now = _as_utc("now", now)
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, got {grace}")
    if due > now:
        return "wait"
    if now - due <= grace:
        return "send"
    return "skip"
