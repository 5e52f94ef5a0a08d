"""What a /pause argument means: the first local date with reminders again, or "until /resume".

Understood: nothing or "indefinitely" (until /resume), durations ("3 days", "a week"),
"tomorrow", weekdays ("friday", "until fri", "till next monday"), "next week" (its Monday),
"next month" (its 1st), "the weekend" (Saturday), ISO dates ("2026-12-01") and day-month dates
("1 Dec", "December 1st", optionally with a year), each optionally after "until", "till",
"for" or "to". A date is the first day with reminders again: "until friday" brings them back
on Friday. A weekday that is today means the one a week from now; a day-month date without a
year that has passed this year means next year's (and is shown with its year).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

MAX_PAUSE_DAYS = 366
DAYS_PER_WEEK = 7
SATURDAY = 5


class PauseRequestError(ValueError):
    """A /pause argument that cannot be used; ``reason`` says why."""

    def __init__(self, reason: Literal["not_understood", "past", "too_far"]) -> None:
        super().__init__(reason)
        self.reason = reason


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "weds", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        )
    )
    for name in names
}
_COUNT_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_DURATION = re.compile(
    r"(?P<count>\d{1,3}|a|an|one|two|three|four|five)\s*(?P<unit>d|days?|w|weeks?)"
)
_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})")
_DAY_MONTH = re.compile(
    r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month>[a-z]+)\.?(?:\s+(?P<year>\d{4}))?"
)
_MONTH_DAY = re.compile(
    r"(?P<month>[a-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{4}))?"
)
_WEEKDAY = re.compile(r"(?:(?P<next>next|this|coming|the)\s+)?(?P<weekday>[a-z]+)")
_PAUSE_FILLERS = re.compile(r"^(?:for|until|till|til|'til|to|up to|through)\s+")
_INDEFINITELY = frozenset({"indefinitely", "forever", "until resume", "until i resume", "resume"})
_NEXT_WEEK = frozenset({"next week", "the next week", "monday next week"})
_NEXT_MONTH = frozenset({"next month", "the next month"})
_WEEKEND = frozenset({"the weekend", "weekend", "this weekend", "the next weekend"})


def _calendar_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as error:
        raise PauseRequestError("not_understood") from error


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _named_date(match: re.Match[str], today: date) -> date:
    """ "1 Dec" / "Dec 1" [year]: without a year, the next such date from tomorrow on."""
    month = _MONTHS.get(match.group("month"))
    if month is None:
        raise PauseRequestError("not_understood")
    day = int(match.group("day"))
    if match.group("year"):
        return _calendar_date(int(match.group("year")), month, day)
    candidate = _calendar_date(today.year, month, day) if _valid(today.year, month, day) else None
    if candidate is None or candidate <= today:
        return _calendar_date(today.year + 1, month, day)
    return candidate


def next_weekday(today: date, weekday: int) -> date:
    """The next date with that weekday (0 = Monday) after today: a week on when it is today."""
    ahead = (weekday - today.weekday()) % DAYS_PER_WEEK
    return today + timedelta(days=ahead or DAYS_PER_WEEK)


def _weekday_date(normal: str, today: date) -> date | None:
    match = _WEEKDAY.fullmatch(normal)
    if match is None or match["weekday"] not in _WEEKDAYS:
        return None
    return next_weekday(today, _WEEKDAYS[match["weekday"]])


def _first_of_next_month(today: date) -> date:
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def parse_pause(text: str, today: date) -> date | None:
    """The date reminders come back on, from a /pause argument; None means "until /resume"."""
    normal = " ".join(text.casefold().replace("’", "'").split()).strip(" .!")
    normal = _PAUSE_FILLERS.sub("", normal).strip()
    if not normal or normal in _INDEFINITELY:
        return None
    resume_on: date | None
    if normal == "tomorrow":
        resume_on = today + timedelta(days=1)
    elif normal in _NEXT_WEEK:
        resume_on = next_weekday(today, 0)
    elif normal in _NEXT_MONTH:
        resume_on = _first_of_next_month(today)
    elif normal in _WEEKEND:
        resume_on = next_weekday(today, SATURDAY)
    elif duration := _DURATION.fullmatch(normal):
        count_text = duration.group("count")
        count = _COUNT_WORDS.get(count_text) or int(count_text)
        days = count * DAYS_PER_WEEK if duration.group("unit").startswith("w") else count
        if days <= 0:
            raise PauseRequestError("not_understood")
        resume_on = today + timedelta(days=days)
    elif iso := _ISO_DATE.fullmatch(normal):
        resume_on = _calendar_date(int(iso["year"]), int(iso["month"]), int(iso["day"]))
    elif named := _DAY_MONTH.fullmatch(normal) or _MONTH_DAY.fullmatch(normal):
        resume_on = _named_date(named, today)
    else:
        resume_on = _weekday_date(normal, today)
    if resume_on is None:
        raise PauseRequestError("not_understood")
    if resume_on <= today:
        raise PauseRequestError("past")
    if resume_on - today > timedelta(days=MAX_PAUSE_DAYS):
        raise PauseRequestError("too_far")
    return resume_on
