"""/pause arguments: durations, dates and weekdays, each the first day with reminders again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.pause import MAX_PAUSE_DAYS, PauseRequestError, next_weekday, parse_pause
from handlers.render import day_label

TODAY = date(2026, 11, 22)  # a Sunday


@pytest.mark.parametrize(
    ("text", "resume_on"),
    [
        ("", None),
        ("indefinitely", None),
        ("3 days", date(2026, 11, 25)),
        ("for 3 days", date(2026, 11, 25)),
        ("1 day", date(2026, 11, 23)),
        ("a week", date(2026, 11, 29)),
        ("2 weeks", date(2026, 12, 6)),
        ("tomorrow", date(2026, 11, 23)),
        ("2026-12-01", date(2026, 12, 1)),
        ("until 2026-12-01", date(2026, 12, 1)),
        ("1 Dec", date(2026, 12, 1)),
        ("December 1st", date(2026, 12, 1)),
        ("5 jan", date(2027, 1, 5)),
        ("jan 5 2027", date(2027, 1, 5)),
        # weekdays and everyday spans
        ("friday", date(2026, 11, 27)),
        ("until friday", date(2026, 11, 27)),
        ("until Friday.", date(2026, 11, 27)),
        ("till monday", date(2026, 11, 23)),
        ("til tue", date(2026, 11, 24)),
        ("until next wednesday", date(2026, 11, 25)),
        ("until this thursday", date(2026, 11, 26)),
        ("sunday", date(2026, 11, 29)),  # today is Sunday: the next one
        ("until next week", date(2026, 11, 23)),
        ("next month", date(2026, 12, 1)),
        ("until the weekend", date(2026, 11, 28)),
    ],
)
def test_parse_pause_understands_everyday_phrases(text: str, resume_on: date | None) -> None:
    assert parse_pause(text, TODAY) == resume_on


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("soon", "not_understood"),
        ("0 days", "not_understood"),
        ("2026-02-30", "not_understood"),
        ("31 smarch", "not_understood"),
        ("until funday", "not_understood"),
        ("2026-11-22", "past"),
        ("2026-11-01", "past"),
        ("500 days", "too_far"),
    ],
)
def test_parse_pause_rejects_what_it_cannot_use(text: str, reason: str) -> None:
    with pytest.raises(PauseRequestError) as raised:
        parse_pause(text, TODAY)
    assert raised.value.reason == reason


def test_a_day_month_just_passed_means_next_year() -> None:
    assert parse_pause("1 Dec", date(2026, 12, 2)) == date(2027, 12, 1)


def test_next_month_in_december_is_january() -> None:
    assert parse_pause("next month", date(2026, 12, 15)) == date(2027, 1, 1)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 6))
def test_next_weekday_is_within_a_week_and_on_that_weekday(today: date, weekday: int) -> None:
    found = next_weekday(today, weekday)
    assert found.weekday() == weekday
    assert timedelta(days=1) <= found - today <= timedelta(days=7)


@given(st.text(max_size=30))
def test_parse_pause_never_raises_anything_else(text: str) -> None:
    try:
        resume_on = parse_pause(text, TODAY)
    except PauseRequestError:
        return
    assert resume_on is None or 0 < (resume_on - TODAY).days <= MAX_PAUSE_DAYS


def test_the_year_is_shown_only_when_it_is_not_this_year() -> None:
    assert day_label(date(2027, 12, 1), date(2026, 12, 2)) == "Wed 1 Dec 2027"
    assert day_label(date(2026, 12, 5), date(2026, 12, 2)) == "Sat 5 Dec"
    assert day_label(date(2026, 12, 5)) == "Sat 5 Dec"
