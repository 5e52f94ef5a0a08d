"""Patterns between daily factors and twitching, and a calm weekly summary.

Pure arithmetic over a person's own check-ins: no I/O, no plotting. Everything here is worded
as a tendency in self-reported data, never as a cause or a diagnosis.

Severity scale used in sentences: the check-in asks for one of four levels (none, mild,
moderate, severe), stored as 0..3. Averages are reported on that same 0–3 scale together with
the nearest level's name ("1.5 on the 0–3 scale, between mild and moderate"). Stretching four
answers onto a 0–10 scale would suggest a precision the answers do not have.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import fmean

from bot.domain.checkin import (
    HIGH_CAFFEINE_MG,
    MG_PER_COFFEE,
    CheckinAnswers,
    Location,
    Severity,
)

SEVERITY_SCALE_MAX = int(max(Severity))
SEVERITY_SCALE_NOTE = "0–3 scale: 0 none, 1 mild, 2 moderate, 3 severe"
# An average within this distance of a level is named after that level; otherwise it is
# described as lying between the two neighbouring levels.
LEVEL_NAME_TOLERANCE = 0.25

# Adults are generally advised to get at least 7 hours of sleep a night.
SHORT_SLEEP_HOURS = 7.0
# Below about 1.5 litres of fluid a day (water and other drinks, as the check-in asks and as
# the 6-8 glasses guidance counts) is "little" for most adults.
LOW_WATER_LITRES = 1.5

MIN_DAYS_EACH_SIDE = 3
# Half a step on the four-level scale. With a handful of days on each side, smaller gaps
# between two averages are well within what day-to-day variation produces by itself.
MIN_MEANINGFUL_DIFFERENCE = 0.5
# Guards the comparison against floating-point noise in means such as 5/3 - 7/6.
_FLOAT_TOLERANCE = 1e-9

# English month names, independent of the machine's locale (strftime %B is not).
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def day_month(day: date, *, short: bool = False) -> str:
    """ "22 November", or "22 Nov" when short."""
    name = MONTH_NAMES[day.month - 1]
    return f"{day.day} {name[:3] if short else name}"


@dataclass(frozen=True)
class DayEntry:
    """One local day's check-in, flattened to the numbers the insights need."""

    day: date
    severity: Severity
    sleep_hours: float
    caffeine_mg: int
    water_litres: float
    locations: frozenset[Location] = frozenset()

    @classmethod
    def from_answers(cls, day: date, answers: CheckinAnswers) -> DayEntry:
        """Build an entry from stored answers, so callers need not know the field mapping."""
        return cls(
            day=day,
            severity=answers.severity,
            sleep_hours=answers.sleep_hours,
            caffeine_mg=answers.caffeine.mg,
            water_litres=answers.water_litres,
            locations=answers.locations,
        )


@dataclass(frozen=True)
class Factor:
    """A yes/no property of a day compared against twitching, optionally on the next day.

    ``id`` names the property; one property may appear with two lags, so ``(id, lag_days)`` is
    what identifies a factor. ``description`` completes "days with …", ``description_without``
    completes "days with …" for the other side, and ``lead`` opens a pattern sentence.
    """

    id: str
    label: str
    lag_days: int
    predicate: Callable[[DayEntry], bool] = field(compare=False)
    description: str
    description_without: str
    lead: str
    other_side: str


def _is_high_caffeine(entry: DayEntry) -> bool:
    return entry.caffeine_mg >= HIGH_CAFFEINE_MG


def _is_short_sleep(entry: DayEntry) -> bool:
    return entry.sleep_hours < SHORT_SLEEP_HOURS


def _is_low_water(entry: DayEntry) -> bool:
    return entry.water_litres < LOW_WATER_LITRES


# 300 mg is more than three cups of coffee at 95 mg: say so, so "3 coffees" is not expected
# to count as a high day.
_COFFEES_BELOW_HIGH = (HIGH_CAFFEINE_MG - 1) // MG_PER_COFFEE
_CAFFEINE_WITH = (
    f"{HIGH_CAFFEINE_MG} mg of caffeine or more (more than {_COFFEES_BELOW_HIGH} cups of coffee)"
)
_CAFFEINE_WITHOUT = f"less caffeine than that (under {HIGH_CAFFEINE_MG} mg)"
_SLEEP_WITH = f"less than {SHORT_SLEEP_HOURS:g} hours of sleep the night before"
_SLEEP_WITHOUT = f"{SHORT_SLEEP_HOURS:g} hours of sleep or more the night before"
_WATER_WITH = f"less than {LOW_WATER_LITRES:g} litres of water and other drinks"
_WATER_WITHOUT = f"{LOW_WATER_LITRES:g} litres of drinks or more"

# Which lags make sense:
# - Caffeine acts within hours (half-life roughly 3-7 h), so the same day's twitching is the
#   direct comparison; late caffeine also shortens and lightens sleep, so the next day is
#   compared as well.
# - A check-in's sleep answer is about the night before that day, so lag 0 already means
#   "the day after a short night". Lag 1 looks one day further, for lingering sleep debt.
# - Water is a same-day state that the body rebalances within a day: lag 0 only.
FACTORS: tuple[Factor, ...] = (
    Factor(
        id="caffeine_high",
        label="Caffeine, same day",
        lag_days=0,
        predicate=_is_high_caffeine,
        description=_CAFFEINE_WITH,
        description_without=_CAFFEINE_WITHOUT,
        lead=f"On days with {_CAFFEINE_WITH}",
        other_side="on other days",
    ),
    Factor(
        id="caffeine_high",
        label="Caffeine, next day",
        lag_days=1,
        predicate=_is_high_caffeine,
        description=_CAFFEINE_WITH,
        description_without=_CAFFEINE_WITHOUT,
        lead=f"On the day after a day with {_CAFFEINE_WITH}",
        other_side="after other days",
    ),
    Factor(
        id="sleep_short",
        label="Short sleep, same day",
        lag_days=0,
        predicate=_is_short_sleep,
        description=_SLEEP_WITH,
        description_without=_SLEEP_WITHOUT,
        lead=f"On days after a night of less than {SHORT_SLEEP_HOURS:g} hours' sleep",
        other_side="after longer nights",
    ),
    Factor(
        id="sleep_short",
        label="Short sleep, next day",
        lag_days=1,
        predicate=_is_short_sleep,
        description=_SLEEP_WITH,
        description_without=_SLEEP_WITHOUT,
        lead=(f"On the second day after a night of less than {SHORT_SLEEP_HOURS:g} hours' sleep"),
        other_side="on the second day after longer nights",
    ),
    Factor(
        id="water_low",
        label="Little to drink, same day",
        lag_days=0,
        predicate=_is_low_water,
        description=_WATER_WITH,
        description_without=_WATER_WITHOUT,
        lead=f"On days with {_WATER_WITH}",
        other_side="on other days",
    ),
)


@dataclass(frozen=True)
class Pattern:
    """A comparison that had enough days on both sides; ``sentence`` is ready to show."""

    factor: Factor
    days_with: int
    days_without: int
    mean_with: float
    mean_without: float
    sentence: str
    is_clear: bool


@dataclass(frozen=True)
class InsightsResult:
    """Patterns found, plus what is still missing for the rest.

    ``checkins_needed`` is 0 when at least one factor could be compared. Otherwise it is the
    fewest further check-ins after which one same-day comparison could be made, assuming each
    new day lands on the side that is short: for each same-day factor, the shortfall on the
    "with" side plus the shortfall on the "without" side, minimised over factors. It is a lower
    bound (a next-day comparison needs at least as many, since it pairs a subset of the days).
    """

    patterns: tuple[Pattern, ...]
    checkins_needed: int
    not_enough: tuple[str, ...] = ()


def severity_phrase(mean: float) -> str:
    """Describe an average severity in words: '1.5 (between mild and moderate)'."""
    nearest = round(mean)
    if abs(mean - nearest) <= LEVEL_NAME_TOLERANCE:
        words = Severity(nearest).name.lower()
    else:
        lower = Severity(int(mean)).name.lower()
        upper = Severity(int(mean) + 1).name.lower()
        words = f"between {lower} and {upper}"
    return f"{mean:.1f} ({words})"


def _days_word(count: int) -> str:
    return "day" if count == 1 else "days"


def _pairs(entries_by_day: dict[date, DayEntry], factor: Factor) -> list[tuple[bool, int]]:
    """(factor present, twitching severity) per day; lag-1 days without a next entry skip."""
    pairs: list[tuple[bool, int]] = []
    for day, entry in entries_by_day.items():
        outcome = entries_by_day.get(day + timedelta(days=factor.lag_days))
        if outcome is not None:
            pairs.append((factor.predicate(entry), int(outcome.severity)))
    return pairs


def _pattern_sentence(
    factor: Factor,
    days_with: int,
    days_without: int,
    mean_with: float,
    mean_without: float,
    min_difference: float,
) -> tuple[str, bool]:
    """The sentence for one comparison, and whether the difference is large enough to state."""
    basis = f"(based on {days_with} {_days_word(days_with)} with and {days_without} without)"
    difference = mean_with - mean_without
    if abs(difference) + _FLOAT_TOLERANCE < min_difference:
        sentence = (
            f"{factor.lead}, your twitching averaged {severity_phrase(mean_with)}, and "
            f"{severity_phrase(mean_without)} {factor.other_side}: no clear difference so far "
            f"{basis}."
        )
        return sentence, False
    direction = "higher" if difference > 0 else "lower"
    sentence = (
        f"{factor.lead}, your twitching tended to be {direction}: it averaged "
        f"{severity_phrase(mean_with)} on the 0–3 scale, against "
        f"{severity_phrase(mean_without)} {factor.other_side} {basis}."
    )
    return sentence, True


def _not_enough_sentence(factor: Factor, days_with: int, days_without: int, needed: int) -> str:
    """Say which side of a comparison is short, and by how many days."""
    suffix = " followed by a check-in the next day" if factor.lag_days else ""
    with_side = f"{factor.description}{suffix}"
    without_side = f"{factor.description_without}{suffix}"
    if days_with < needed and days_without < needed:
        return (
            f"You haven't had enough check-ins yet to compare days with {with_side} and days "
            f"with {without_side} ({days_with} and {days_without} so far, {needed} of each "
            "needed)."
        )
    side, have = (with_side, days_with) if days_with < needed else (without_side, days_without)
    return (
        f"You haven't had enough days with {side} yet to compare "
        f"({have} so far, {needed - have} more needed)."
    )


def find_patterns(
    entries: Sequence[DayEntry],
    *,
    min_each_side: int = MIN_DAYS_EACH_SIDE,
    min_difference: float = MIN_MEANINGFUL_DIFFERENCE,
) -> InsightsResult:
    """Compare twitching on days with and without each factor.

    A factor is compared only with at least ``min_each_side`` days on each side; a difference
    smaller than ``min_difference`` severity levels is reported as "no clear difference".
    When several entries share a day, the last one given wins (one check-in per local day).
    """
    if min_each_side < 1:
        raise ValueError("min_each_side must be at least 1")
    entries_by_day = {entry.day: entry for entry in sorted(entries, key=lambda e: e.day)}

    patterns: list[Pattern] = []
    not_enough: list[str] = []
    shortfalls: list[int] = []
    same_day_short: set[str] = set()
    for factor in FACTORS:
        pairs = _pairs(entries_by_day, factor)
        with_values = [severity for present, severity in pairs if present]
        without_values = [severity for present, severity in pairs if not present]
        days_with, days_without = len(with_values), len(without_values)
        if factor.lag_days == 0:
            shortfalls.append(
                max(0, min_each_side - days_with) + max(0, min_each_side - days_without)
            )
        if days_with < min_each_side or days_without < min_each_side:
            # The next-day comparison cannot have more days than the same-day one, so its
            # sentence would only repeat the same shortage.
            if factor.id not in same_day_short:
                not_enough.append(
                    _not_enough_sentence(factor, days_with, days_without, min_each_side)
                )
            if factor.lag_days == 0:
                same_day_short.add(factor.id)
            continue
        mean_with, mean_without = fmean(with_values), fmean(without_values)
        sentence, is_clear = _pattern_sentence(
            factor, days_with, days_without, mean_with, mean_without, min_difference
        )
        patterns.append(
            Pattern(
                factor=factor,
                days_with=days_with,
                days_without=days_without,
                mean_with=mean_with,
                mean_without=mean_without,
                sentence=sentence,
                is_clear=is_clear,
            )
        )

    checkins_needed = 0 if patterns else min(shortfalls)
    return InsightsResult(
        patterns=tuple(patterns), checkins_needed=checkins_needed, not_enough=tuple(not_enough)
    )


INSIGHTS_CAVEAT = (
    "These are tendencies in your own check-ins, not causes: many things change from day to "
    "day at once, and a few days can tilt an average."
)


def format_insights(result: InsightsResult) -> str:
    """The whole /insights text: patterns first, then what still needs more days."""
    paragraphs: list[str] = []
    if result.patterns:
        paragraphs.extend(pattern.sentence for pattern in result.patterns)
        paragraphs.append(INSIGHTS_CAVEAT)
    else:
        count = result.checkins_needed
        paragraphs.append(
            "There isn't enough to compare yet: each comparison needs at least "
            f"{MIN_DAYS_EACH_SIDE} days with a factor and {MIN_DAYS_EACH_SIDE} without. "
            f"At least {count} more check-in{'' if count == 1 else 's'} will be needed "
            "before the first one can be made."
        )
    paragraphs.extend(result.not_enough)
    return "\n\n".join(paragraphs)


def _short_date(day: date) -> str:
    return day_month(day)


def _period_text(start: date, end: date) -> str:
    if start.month == end.month:
        return f"{start.day}–{_short_date(end)}"
    return f"{_short_date(start)} – {_short_date(end)}"


def _number(value: float) -> str:
    """One decimal, without a trailing '.0' for whole numbers: '7', '6.5'."""
    return f"{value:.1f}".removesuffix(".0")


def weekly_summary_text(entries: Sequence[DayEntry], *, week_end: date) -> str:
    """A calm summary of the seven days ending on ``week_end`` (inclusive).

    Only what was checked in is described; missed days are not counted against anyone.
    """
    week_start = week_end - timedelta(days=6)
    by_day = {e.day: e for e in sorted(entries, key=lambda e: e.day)}
    week = [e for day, e in by_day.items() if week_start <= day <= week_end]
    heading = f"Your week, {_period_text(week_start, week_end)}"
    if not week:
        return (
            f"{heading}: no check-ins this week, and that's fine. "
            "You can check in whenever it suits you."
        )

    count = len(week)
    lines = [f"{heading}: {count} check-in{'' if count == 1 else 's'}."]
    lines.append(
        "On average: "
        f"{_number(fmean(e.sleep_hours for e in week))} h of sleep, "
        f"{round(fmean(e.caffeine_mg for e in week))} mg of caffeine, "
        f"{_number(fmean(e.water_litres for e in week))} l of water and other drinks a day."
    )
    twitching_days = [e for e in week if e.severity > Severity.NONE]
    if not twitching_days:
        lines.append("No twitching noted on the days you checked in.")
    else:
        levels = [
            f"{level.name.lower()} on {n} {_days_word(n)}"
            for level in (Severity.MILD, Severity.MODERATE, Severity.SEVERE)
            if (n := sum(1 for e in twitching_days if e.severity == level))
        ]
        lines.append(
            f"Twitching noted on {len(twitching_days)} of {count} {_days_word(count)}: "
            f"{', '.join(levels)}."
        )
    return "\n".join(lines)
