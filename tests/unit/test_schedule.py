"""Reminder arithmetic: exact instants for the awkward zones, and properties over many zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.schedule import (
    QuietHours,
    ReminderPlan,
    catch_up_decision,
    local_date,
    local_occurrence,
    next_due,
    snooze_until,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
APIA = ZoneInfo("Pacific/Apia")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")
ST_JOHNS = ZoneInfo("America/St_Johns")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
SANTIAGO = ZoneInfo("America/Santiago")
NUUK = ZoneInfo("America/Nuuk")
INDIA_FIXED = timezone(timedelta(hours=5, minutes=30))
NIGHT = QuietHours(start=time(22, 0), end=time(7, 0))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def plan_for(at: time, zone: tzinfo, **options: object) -> ReminderPlan:
    return ReminderPlan(remind_at=at, zone=zone, **options)  # type: ignore[arg-type]


def following(plan: ReminderPlan, after: datetime, count: int) -> list[datetime]:
    """The next `count` reminders, each computed from the previous one, as the loop does."""
    due: list[datetime] = []
    for _ in range(count):
        upcoming = next_due(plan, after=after)
        assert upcoming is not None
        due.append(upcoming)
        after = upcoming
    return due


# --- local_occurrence: exact instants --------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at", "zone", "expected"),
    [
        pytest.param(date(2024, 6, 1), time(9, 0), BERLIN, utc(2024, 6, 1, 7), id="berlin-summer"),
        pytest.param(
            date(2024, 1, 15), time(9, 0), BERLIN, utc(2024, 1, 15, 8), id="berlin-winter"
        ),
        # 02:30 does not exist (02:00→03:00): forward by the gap, 03:30 CEST.
        pytest.param(
            date(2024, 3, 31), time(2, 30), BERLIN, utc(2024, 3, 31, 1, 30), id="berlin-gap"
        ),
        # 02:30 happens twice (03:00 CEST→02:00 CET): the first, still CEST.
        pytest.param(
            date(2024, 10, 27), time(2, 30), BERLIN, utc(2024, 10, 27, 0, 30), id="berlin-repeat"
        ),
        pytest.param(
            date(2024, 3, 10), time(2, 30), NEW_YORK, utc(2024, 3, 10, 7, 30), id="ny-gap"
        ),
        pytest.param(
            date(2024, 11, 3), time(1, 30), NEW_YORK, utc(2024, 11, 3, 5, 30), id="ny-repeat"
        ),
        # Lord Howe moves its clocks by 30 minutes: 02:00→02:30 and 02:00→01:30.
        pytest.param(
            date(2024, 10, 6), time(2, 15), LORD_HOWE, utc(2024, 10, 5, 15, 45), id="lhi-gap"
        ),
        pytest.param(
            date(2024, 4, 7), time(1, 45), LORD_HOWE, utc(2024, 4, 6, 14, 45), id="lhi-repeat"
        ),
        pytest.param(
            date(2024, 4, 8), time(1, 45), LORD_HOWE, utc(2024, 4, 7, 15, 15), id="lhi-after"
        ),
        pytest.param(
            date(2024, 6, 1), time(9, 0), KIRITIMATI, utc(2024, 5, 31, 19), id="kiritimati+14"
        ),
        pytest.param(date(2024, 6, 1), time(9, 0), APIA, utc(2024, 5, 31, 20), id="apia+13"),
        # Apia skipped 2011-12-30 entirely (−10 → +14): its 09:00 is the 31st's 09:00.
        pytest.param(
            date(2011, 12, 30), time(9, 0), APIA, utc(2011, 12, 30, 19), id="apia-lost-day"
        ),
        pytest.param(
            date(2024, 1, 15), time(8, 0), ST_JOHNS, utc(2024, 1, 15, 11, 30), id="stjohns-3:30"
        ),
        pytest.param(
            date(2024, 7, 15), time(8, 0), ST_JOHNS, utc(2024, 7, 15, 10, 30), id="stjohns-2:30"
        ),
        pytest.param(
            date(2024, 1, 15), time(8, 0), KATHMANDU, utc(2024, 1, 15, 2, 15), id="kathmandu+5:45"
        ),
        pytest.param(
            date(2024, 1, 15), time(8, 0), INDIA_FIXED, utc(2024, 1, 15, 2, 30), id="fixed+5:30"
        ),
        pytest.param(
            date(2024, 6, 1), time(0, 0), BERLIN, utc(2024, 5, 31, 22), id="berlin-midnight"
        ),
        # Santiago springs forward at midnight: 00:00 becomes 01:00 (−03).
        pytest.param(
            date(2024, 9, 8), time(0, 0), SANTIAGO, utc(2024, 9, 8, 4), id="santiago-midnight-gap"
        ),
    ],
)
def test_local_occurrence_exact_instants(
    day: date, at: time, zone: tzinfo, expected: datetime
) -> None:
    occurrence = local_occurrence(day, at, zone)
    assert occurrence == expected
    assert occurrence.tzinfo is UTC


def test_local_occurrence_ignores_a_fold_on_the_wall_time() -> None:
    assert local_occurrence(date(2024, 11, 3), time(1, 30, fold=1), NEW_YORK) == utc(
        2024, 11, 3, 5, 30
    )


def test_local_occurrence_rejects_an_aware_wall_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_occurrence(date(2024, 1, 1), time(9, 0, tzinfo=UTC), BERLIN)


def test_local_date_uses_the_persons_calendar() -> None:
    assert local_date(utc(2024, 5, 31, 18), KIRITIMATI) == date(2024, 6, 1)
    assert local_date(utc(2024, 6, 1, 2), ST_JOHNS) == date(2024, 5, 31)  # 23:30 NDT
    assert local_date(utc(2024, 6, 1, 2, 30), ST_JOHNS) == date(2024, 6, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2024, 6, 1), BERLIN)


# --- next_due: examples ----------------------------------------------------------------------


def test_next_due_later_today() -> None:
    plan = plan_for(time(9, 0), BERLIN)
    assert next_due(plan, after=utc(2024, 6, 1, 6)) == utc(2024, 6, 1, 7)


def test_next_due_is_strictly_after_an_equal_instant() -> None:
    plan = plan_for(time(9, 0), BERLIN)
    assert next_due(plan, after=utc(2024, 6, 1, 7)) == utc(2024, 6, 2, 7)
    assert next_due(plan, after=utc(2024, 6, 1, 6, 59)) == utc(2024, 6, 1, 7)


def test_next_due_for_a_person_far_east_of_utc() -> None:
    # 18:00 UTC on 31 May is already 08:00 on 1 June on Kiritimati.
    plan = plan_for(time(9, 0), KIRITIMATI)
    assert next_due(plan, after=utc(2024, 5, 31, 18)) == utc(2024, 5, 31, 19)
    assert next_due(plan, after=utc(2024, 5, 31, 19)) == utc(2024, 6, 1, 19)


@pytest.mark.parametrize(
    ("zone", "at", "after", "expected"),
    [
        pytest.param(ST_JOHNS, time(8, 0), utc(2024, 1, 15), utc(2024, 1, 15, 11, 30), id="nst"),
        pytest.param(KATHMANDU, time(8, 0), utc(2024, 1, 14, 3), utc(2024, 1, 15, 2, 15), id="npt"),
        pytest.param(INDIA_FIXED, time(8, 0), utc(2024, 1, 15), utc(2024, 1, 15, 2, 30), id="fix"),
        pytest.param(BERLIN, time(0, 0), utc(2024, 5, 31, 21), utc(2024, 5, 31, 22), id="midnight"),
    ],
)
def test_next_due_in_offset_zones(
    zone: tzinfo, at: time, after: datetime, expected: datetime
) -> None:
    assert next_due(plan_for(at, zone), after=after) == expected


def test_spring_forward_reminder_in_the_gap_is_moved_by_the_gap() -> None:
    plan = plan_for(time(2, 30), BERLIN)
    assert following(plan, utc(2024, 3, 29, 12), 3) == [
        utc(2024, 3, 30, 1, 30),  # 02:30 CET
        utc(2024, 3, 31, 1, 30),  # 03:30 CEST: 02:30 did not exist
        utc(2024, 4, 1, 0, 30),  # 02:30 CEST
    ]


def test_fall_back_reminder_is_sent_once_at_the_first_occurrence() -> None:
    plan = plan_for(time(1, 30), NEW_YORK)
    assert following(plan, utc(2024, 11, 2, 12), 2) == [
        utc(2024, 11, 3, 5, 30),  # 01:30 EDT; the 01:30 EST an hour later is not a reminder
        utc(2024, 11, 4, 6, 30),  # 01:30 EST on the next day
    ]
    berlin = plan_for(time(2, 30), BERLIN)
    assert following(berlin, utc(2024, 10, 26, 12), 2) == [
        utc(2024, 10, 27, 0, 30),
        utc(2024, 10, 28, 1, 30),
    ]


def test_lord_howe_half_hour_changes() -> None:
    spring = plan_for(time(2, 15), LORD_HOWE)
    assert following(spring, utc(2024, 10, 5, 12), 2) == [
        utc(2024, 10, 5, 15, 45),  # 02:45 +11, the 02:00–02:30 gap skipped
        utc(2024, 10, 6, 15, 15),  # 02:15 +11
    ]
    autumn = plan_for(time(1, 45), LORD_HOWE)
    assert following(autumn, utc(2024, 4, 6, 12), 2) == [
        utc(2024, 4, 6, 14, 45),  # first 01:45 (+11), not the repeat at +10:30
        utc(2024, 4, 7, 15, 15),
    ]


@pytest.mark.parametrize(
    ("zone", "start", "expected_local_dates"),
    [
        # Both skipped a whole calendar day to move across the date line.
        (APIA, utc(2011, 12, 29), ["2011-12-29", "2011-12-31", "2012-01-01"]),
        (KIRITIMATI, utc(1994, 12, 30), ["1994-12-30", "1995-01-01", "1995-01-02"]),
    ],
)
def test_a_calendar_day_that_never_happened_gets_no_reminder(
    zone: ZoneInfo, start: datetime, expected_local_dates: list[str]
) -> None:
    due = following(plan_for(time(9, 0), zone), start, 3)
    assert [local_date(instant, zone).isoformat() for instant in due] == expected_local_dates
    assert all(later - earlier == timedelta(days=1) for earlier, later in pairwise(due))
    assert all(instant.astimezone(zone).time() == time(9, 0) for instant in due)


def test_reminder_spilling_into_the_next_date_yields_to_that_dates_own() -> None:
    # Nuuk skips 23:00–24:00 on Saturday 30 March 2024: a 23:30 reminder would land at 00:30
    # on Sunday, a date that has its own 23:30 reminder, so Saturday goes without.
    plan = plan_for(time(23, 30), NUUK)
    assert following(plan, utc(2024, 3, 29, 12), 2) == [
        utc(2024, 3, 30, 1, 30),  # Friday 23:30 (−02)
        utc(2024, 4, 1, 0, 30),  # Sunday 23:30 (−01)
    ]


def test_done_or_skipped_today_moves_to_tomorrow() -> None:
    plan = plan_for(time(9, 0), BERLIN)
    today = date(2024, 6, 1)
    assert next_due(plan, after=utc(2024, 6, 1, 6), done_local_dates={today}) == utc(2024, 6, 2, 7)
    assert next_due(plan, after=utc(2024, 6, 1, 6), skipped_local_dates=[today]) == utc(
        2024, 6, 2, 7
    )
    assert next_due(
        plan,
        after=utc(2024, 6, 1, 6),
        done_local_dates={today},
        skipped_local_dates={date(2024, 6, 2)},
    ) == utc(2024, 6, 3, 7)


def test_many_excluded_dates_still_find_the_first_open_one() -> None:
    plan = plan_for(time(9, 0), BERLIN)
    done = {date(2024, 6, 1) + timedelta(days=offset) for offset in range(1000)}
    assert next_due(plan, after=utc(2024, 6, 1), done_local_dates=done) == utc(2027, 2, 26, 8)


def test_pause_until_a_date_is_inclusive() -> None:
    plan = plan_for(time(9, 0), BERLIN, paused_until=date(2024, 6, 5))
    assert next_due(plan, after=utc(2024, 6, 1)) == utc(2024, 6, 6, 7)
    assert next_due(plan, after=utc(2024, 6, 10)) == utc(2024, 6, 10, 7)


def test_pause_far_ahead_is_jumped_not_searched() -> None:
    plan = plan_for(time(9, 0), BERLIN, paused_until=date(2031, 1, 1))
    assert next_due(plan, after=utc(2024, 6, 1)) == utc(2031, 1, 2, 8)


def test_paused_indefinitely_has_no_next_reminder() -> None:
    plan = plan_for(time(9, 0), BERLIN, paused_until=date.max)
    assert plan.paused_indefinitely
    assert next_due(plan, after=utc(2024, 6, 1)) is None


def test_pause_up_to_the_end_of_the_calendar_has_no_next_reminder() -> None:
    plan = plan_for(time(9, 0), BERLIN, paused_until=date(9999, 12, 30))
    assert next_due(plan, after=utc(2024, 6, 1)) is None


def test_reminder_inside_wrapping_quiet_hours_moves_to_the_morning() -> None:
    evening = plan_for(time(23, 0), BERLIN, quiet=NIGHT)
    assert next_due(evening, after=utc(2024, 6, 1, 12)) == utc(2024, 6, 2, 5)  # 07:00 next day
    early = plan_for(time(6, 0), BERLIN, quiet=NIGHT)
    assert next_due(early, after=utc(2024, 6, 1, 3)) == utc(2024, 6, 1, 5)  # 07:00 same day


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (time(21, 59), utc(2024, 6, 1, 19, 59)),  # just before quiet: unchanged
        (time(22, 0), utc(2024, 6, 2, 5)),  # start is quiet
        (time(0, 0), utc(2024, 6, 2, 5)),  # 1 June's 00:00 already passed; 2 June's moves
        (time(7, 0), utc(2024, 6, 2, 5)),  # end is not quiet; 1 June's 07:00 already passed
    ],
)
def test_quiet_hour_bounds(at: time, expected: datetime) -> None:
    plan = plan_for(at, BERLIN, quiet=NIGHT)
    assert next_due(plan, after=utc(2024, 6, 1, 12)) == expected


def test_done_is_judged_on_the_date_the_reminder_is_delivered() -> None:
    # 23:00 inside 22:00–07:00 is delivered at 07:00 the next morning, so a check-in done on
    # that morning's date already covers it.
    plan = plan_for(time(23, 0), BERLIN, quiet=NIGHT)
    assert next_due(plan, after=utc(2024, 6, 1, 12), done_local_dates={date(2024, 6, 2)}) == utc(
        2024, 6, 3, 5
    )


def test_quiet_end_inside_a_gap_moves_on_to_the_next_open_window() -> None:
    # Quiet 03:00–02:00 leaves only 02:00–03:00 open, and on 31 March 2024 Berlin has no
    # 02:00–03:00 at all: the reminder waits for the open hour of 1 April (02:00 CEST).
    plan = plan_for(time(1, 0), BERLIN, quiet=QuietHours(start=time(3, 0), end=time(2, 0)))
    assert following(plan, utc(2024, 3, 29, 12), 2) == [
        utc(2024, 3, 30, 1),  # 02:00 CET
        utc(2024, 4, 1, 0),  # 02:00 CEST; 31 March had no open minute
    ]


def test_daytime_quiet_hours() -> None:
    plan = plan_for(time(13, 0), BERLIN, quiet=QuietHours(start=time(12, 0), end=time(14, 0)))
    assert next_due(plan, after=utc(2024, 6, 1)) == utc(2024, 6, 1, 12)


@pytest.mark.parametrize(
    ("quiet", "wall_time", "inside"),
    [
        (NIGHT, time(22, 0), True),
        (NIGHT, time(23, 59, 59), True),
        (NIGHT, time(0, 0), True),
        (NIGHT, time(6, 59, 59), True),
        (NIGHT, time(7, 0), False),
        (NIGHT, time(21, 59), False),
        (QuietHours(time(12, 0), time(14, 0)), time(12, 0), True),
        (QuietHours(time(12, 0), time(14, 0)), time(14, 0), False),
        (QuietHours(time(12, 0), time(14, 0)), time(0, 0), False),
    ],
)
def test_quiet_hours_contains(quiet: QuietHours, wall_time: time, inside: bool) -> None:
    assert quiet.contains(wall_time) is inside


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="different"):
        QuietHours(start=time(22, 0), end=time(22, 0))
    with pytest.raises(ValueError, match="naive"):
        QuietHours(start=time(22, 0, tzinfo=UTC), end=time(7, 0))
    with pytest.raises(ValueError, match="naive"):
        ReminderPlan(remind_at=time(9, 0, tzinfo=UTC), zone=BERLIN)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_due(plan_for(time(9, 0), BERLIN), after=datetime(2024, 6, 1))


# --- snooze ----------------------------------------------------------------------------------


def test_snooze_is_one_real_hour() -> None:
    plan = plan_for(time(9, 0), BERLIN)
    assert snooze_until(utc(2024, 6, 1, 7, 5), plan=plan) == utc(2024, 6, 1, 8, 5)
    # Across spring-forward: 01:30 CET + 1 h is 03:30 CEST, one real hour later.
    assert snooze_until(utc(2024, 3, 31, 0, 30), plan=plan) == utc(2024, 3, 31, 1, 30)
    assert snooze_until(utc(2024, 6, 1, 7), minutes=15, plan=plan) == utc(2024, 6, 1, 7, 15)


def test_snooze_into_quiet_hours_waits_for_their_end() -> None:
    plan = plan_for(time(21, 30), BERLIN, quiet=NIGHT)
    assert snooze_until(utc(2024, 6, 1, 19, 30), plan=plan) == utc(2024, 6, 2, 5)


def test_snooze_in_a_repeated_hour_waits_for_the_repeat_of_the_quiet_end() -> None:
    # 27 Oct 2024, Berlin repeats 02:00–03:00. Quiet 01:00–02:30; snoozing at the second 02:10
    # lands at the second 02:20. The first 02:30 is already past, so the end is the second one.
    plan = plan_for(time(9, 0), BERLIN, quiet=QuietHours(start=time(1, 0), end=time(2, 30)))
    assert snooze_until(utc(2024, 10, 27, 1, 10), minutes=10, plan=plan) == utc(2024, 10, 27, 1, 30)


def test_snooze_needs_a_positive_duration_and_an_aware_instant() -> None:
    plan = plan_for(time(9, 0), BERLIN)
    with pytest.raises(ValueError, match="positive"):
        snooze_until(utc(2024, 6, 1), minutes=0, plan=plan)
    with pytest.raises(ValueError, match="timezone-aware"):
        snooze_until(datetime(2024, 6, 1), plan=plan)


# --- catch-up after downtime -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "decision"),
    [
        (utc(2024, 6, 1, 9, 59), "wait"),
        (utc(2024, 6, 1, 10), "send"),
        (utc(2024, 6, 1, 11, 59), "send"),
        (utc(2024, 6, 1, 12), "send"),
        (utc(2024, 6, 1, 12, 1), "skip"),
        (utc(2024, 6, 3), "skip"),
    ],
)
def test_catch_up_default_grace_is_two_hours(now: datetime, decision: str) -> None:
    assert catch_up_decision(utc(2024, 6, 1, 10), now) == decision


def test_catch_up_grace_is_configurable_and_zone_independent() -> None:
    due = utc(2024, 6, 1, 10)
    now_in_berlin = datetime(2024, 6, 1, 12, 20, tzinfo=BERLIN)  # 10:20 UTC
    assert catch_up_decision(due, now_in_berlin, grace=timedelta(minutes=30)) == "send"
    assert catch_up_decision(due, now_in_berlin, grace=timedelta(minutes=10)) == "skip"
    assert catch_up_decision(due, due, grace=timedelta(0)) == "send"
    with pytest.raises(ValueError, match="negative"):
        catch_up_decision(due, now_in_berlin, grace=timedelta(minutes=-1))


# --- properties ------------------------------------------------------------------------------

# Diverse zones: DST north and south, half-hour and 45-minute offsets, ±12..14, midnight
# transitions, negative DST (Dublin), a two-hour DST (Troll), lost days (Apia, Kiritimati,
# Kwajalein) and a fall-back across midnight (Casey, 2010).
PROPERTY_ZONE_NAMES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Havana",
    "America/Asuncion",
    "America/Nuuk",
    "America/Scoresbysund",
    "America/Caracas",
    "Africa/Casablanca",
    "Africa/Cairo",
    "Africa/Windhoek",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Asia/Gaza",
    "Asia/Beirut",
    "Asia/Dhaka",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Australia/Adelaide",
    "Australia/Eucla",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Pacific/Kwajalein",
    "Pacific/Tongatapu",
    "Pacific/Norfolk",
    "Pacific/Honolulu",
    "Antarctica/Troll",
    "Antarctica/Casey",
]
FIXED_ZONES: list[tzinfo] = [
    INDIA_FIXED,
    timezone(-timedelta(hours=3, minutes=30)),
    timezone(timedelta(hours=14)),
    timezone(-timedelta(hours=12)),
]

zones = st.sampled_from([ZoneInfo(name) for name in PROPERTY_ZONE_NAMES] + FIXED_ZONES)
# Times where transitions happen are drawn often; the rest of the day is covered too.
remind_times = st.one_of(
    st.sampled_from([time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 30), time(23, 30)]),
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
)
quiet_hours = (
    st.tuples(
        st.builds(time, st.integers(0, 23), st.sampled_from([0, 30])),
        st.builds(time, st.integers(0, 23), st.sampled_from([0, 15])),
    )
    .filter(lambda bounds: bounds[0] != bounds[1])
    .map(lambda bounds: QuietHours(start=bounds[0], end=bounds[1]))
)
MAX_GAP_BETWEEN_REMINDERS = timedelta(days=2, hours=3)


def test_property_zones_exist_in_tzdata() -> None:
    assert set(PROPERTY_ZONE_NAMES) <= available_timezones()


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    """Local wall clock at ``instant``; via UTC, since astimezone to a datetime's own zone is
    a no-op that would hide a non-existent wall time."""
    return instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None)


def _delivered_wall_time(day: date, at: time, zone: tzinfo) -> datetime:
    """Where a wall time lands on ``day`` (PEP 495 arithmetic, independent of the code)."""
    naive = datetime.combine(day, at)
    earlier = naive.replace(tzinfo=zone, fold=0)
    later = naive.replace(tzinfo=zone, fold=1)
    exists = _wall(earlier, zone) == naive
    if exists:
        return naive
    gap = later.utcoffset() - earlier.utcoffset()  # type: ignore[operator]
    return naive + gap


def _own_reminder_spills(day: date, at: time, zone: tzinfo) -> bool:
    """True when ``day``'s reminder time lands on a later date (a gap across midnight)."""
    return _delivered_wall_time(day, at, zone).date() != day


@settings(max_examples=150, deadline=None)
@given(zone=zones, at=remind_times, after=instants)
def test_sixty_days_give_exactly_one_reminder_per_local_date(
    zone: tzinfo, at: time, after: datetime
) -> None:
    plan = plan_for(at, zone)
    due = following(plan, after, 60)
    assert due[0] > after
    assert due[0] - after <= MAX_GAP_BETWEEN_REMINDERS
    dates = [local_date(instant, zone) for instant in due]
    for (earlier, later), (earlier_date, later_date) in zip(
        pairwise(due), pairwise(dates), strict=True
    ):
        assert earlier < later <= earlier + MAX_GAP_BETWEEN_REMINDERS
        assert earlier_date < later_date
        # A date is left out only when its own reminder time lands on a later date.
        missing = [
            earlier_date + timedelta(days=offset)
            for offset in range(1, (later_date - earlier_date).days)
        ]
        assert all(_own_reminder_spills(day, at, zone) for day in missing)
    for instant, day in zip(due, dates, strict=True):
        assert _wall(instant, zone) == _delivered_wall_time(day, at, zone)


@settings(max_examples=150, deadline=None)
@given(zone=zones, at=remind_times, after=instants, quiet=quiet_hours)
def test_with_quiet_hours_reminders_stay_outside_them_and_one_per_date(
    zone: tzinfo, at: time, after: datetime, quiet: QuietHours
) -> None:
    plan = plan_for(at, zone, quiet=quiet)
    due = following(plan, after, 30)
    assert due[0] > after
    assert due[0] - after <= MAX_GAP_BETWEEN_REMINDERS
    dates = [local_date(instant, zone) for instant in due]
    assert dates == sorted(set(dates))
    for earlier, later in pairwise(due):
        assert earlier < later <= earlier + MAX_GAP_BETWEEN_REMINDERS
    for instant in due:
        wall = _wall(instant, zone)
        assert not quiet.contains(wall.time())
        # Its own time (possibly spilled from the day before) or the end of quiet hours.
        allowed = {
            _delivered_wall_time(wall.date() - timedelta(days=back), wall_time, zone)
            for back in (0, 1)
            for wall_time in (at, quiet.end)
        }
        assert wall in allowed


@settings(max_examples=200, deadline=None)
@given(
    zone=zones,
    at=remind_times,
    after=instants,
    done_offsets=st.sets(st.integers(-2, 6), max_size=6),
    skipped_offsets=st.sets(st.integers(-2, 6), max_size=3),
    pause_offset=st.none() | st.integers(-3, 6),
    quiet=st.none() | quiet_hours,
)
def test_next_due_honours_done_skipped_and_pause(
    zone: tzinfo,
    at: time,
    after: datetime,
    done_offsets: set[int],
    skipped_offsets: set[int],
    pause_offset: int | None,
    quiet: QuietHours | None,
) -> None:
    today = local_date(after, zone)
    done = {today + timedelta(days=offset) for offset in done_offsets}
    skipped = {today + timedelta(days=offset) for offset in skipped_offsets}
    paused_until = None if pause_offset is None else today + timedelta(days=pause_offset)
    plan = plan_for(at, zone, quiet=quiet, paused_until=paused_until)
    due = next_due(plan, after=after, done_local_dates=done, skipped_local_dates=skipped)
    assert due is not None
    assert due > after
    due_date = local_date(due, zone)
    assert due_date not in done
    assert due_date not in skipped
    assert paused_until is None or due_date > paused_until
    # Nothing earlier was possible: the unrestricted schedule between `after` and `due`
    # only has dates that are excluded.
    unrestricted = following(plan_for(at, zone, quiet=quiet), after, 14)
    assert due in unrestricted
    for candidate in unrestricted[: unrestricted.index(due)]:
        candidate_date = local_date(candidate, zone)
        assert (
            candidate_date in done
            or candidate_date in skipped
            or (paused_until is not None and candidate_date <= paused_until)
        )


@settings(max_examples=150, deadline=None)
@given(
    zone=zones,
    at=remind_times,
    after=instants,
    quiet=st.none() | quiet_hours,
    fraction=st.floats(0, 1, exclude_max=True),
)
def test_restarting_anywhere_between_two_reminders_finds_the_second(
    zone: tzinfo, at: time, after: datetime, quiet: QuietHours | None, fraction: float
) -> None:
    """What a restart sees: recomputing from any moment gives the same next reminder."""
    plan = plan_for(at, zone, quiet=quiet)
    first, second = following(plan, after, 2)
    # Microsecond rounding of the product may reach `second`; stay strictly before it.
    restart = min(first + (second - first) * fraction, second - timedelta(microseconds=1))
    assert next_due(plan, after=restart) == second


@settings(max_examples=150, deadline=None)
@given(
    zone=zones,
    now=instants,
    minutes=st.integers(1, 180),
    quiet=st.none() | quiet_hours,
)
def test_snooze_is_later_by_at_least_the_snooze_and_outside_quiet_hours(
    zone: tzinfo, now: datetime, minutes: int, quiet: QuietHours | None
) -> None:
    plan = plan_for(time(9, 0), zone, quiet=quiet)
    wake = snooze_until(now, minutes=minutes, plan=plan)
    assert wake.tzinfo is UTC
    assert wake >= now + timedelta(minutes=minutes)
    if quiet is None:
        assert wake == now + timedelta(minutes=minutes)
    else:
        assert not quiet.contains(_wall(wake, zone).time())
        assert wake - now <= timedelta(days=1, hours=3, minutes=minutes)


@settings(max_examples=100, deadline=None)
@given(due=instants, late=st.timedeltas(timedelta(hours=-48), timedelta(hours=48)))
def test_catch_up_never_sends_stale_or_early(due: datetime, late: timedelta) -> None:
    decision = catch_up_decision(due, due + late)
    expected = "wait" if late < timedelta(0) else "send" if late <= timedelta(hours=2) else "skip"
    assert decision == expected
