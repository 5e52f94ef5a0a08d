"""Pattern arithmetic and wording over constructed check-in histories."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.checkin import (
    HIGH_CAFFEINE_MG,
    MG_PER_COFFEE,
    MG_PER_TEA,
    Caffeine,
    CheckinAnswers,
    Location,
    Severity,
)
from bot.domain.insights import (
    FACTORS,
    LOW_WATER_LITRES,
    MIN_DAYS_EACH_SIDE,
    SHORT_SLEEP_HOURS,
    DayEntry,
    InsightsResult,
    Pattern,
    find_patterns,
    format_insights,
    severity_phrase,
    weekly_summary_text,
)

START = date(2025, 3, 3)
BANNED = re.compile(r"danger|alarming|disease|\bALS\b|worry|worrying", re.IGNORECASE)
ESCALATION_SYMBOLS = ("🚨", "⚠️", "⚠")


def entry(
    offset: int,
    severity: Severity = Severity.NONE,
    *,
    caffeine: int = 100,
    sleep: float = 8.0,
    water: float = 2.0,
) -> DayEntry:
    return DayEntry(
        day=START + timedelta(days=offset),
        severity=severity,
        sleep_hours=sleep,
        caffeine_mg=caffeine,
        water_litres=water,
    )


def pattern_for(result: InsightsResult, factor_id: str, lag_days: int) -> Pattern | None:
    matches = [
        p for p in result.patterns if p.factor.id == factor_id and p.factor.lag_days == lag_days
    ]
    assert len(matches) <= 1
    return matches[0] if matches else None


def assert_calm(text: str) -> None:
    assert not text.lstrip().startswith(ESCALATION_SYMBOLS), text
    assert not BANNED.search(text), text


def caffeine_next_day_history() -> list[DayEntry]:
    """Eight three-day blocks: a cause day, the next day's twitching, then no check-in.

    Blocks 0-3 have high caffeine followed by moderate twitching; blocks 4-7 low caffeine
    followed by none. The missing third day means outcome days never pair with anything.
    """
    entries = []
    for block in range(8):
        high = block < 4
        entries.append(entry(3 * block, caffeine=400 if high else 50))
        entries.append(entry(3 * block + 1, Severity.MODERATE if high else Severity.NONE))
    return entries


def test_factor_catalogue_matches_documented_lags() -> None:
    assert {(f.id, f.lag_days) for f in FACTORS} == {
        ("caffeine_high", 0),
        ("caffeine_high", 1),
        ("sleep_short", 0),
        ("sleep_short", 1),
        ("water_low", 0),
    }


@pytest.mark.parametrize(
    ("factor_id", "below", "at_or_above", "make"),
    [
        (
            "caffeine_high",
            HIGH_CAFFEINE_MG - 1,
            HIGH_CAFFEINE_MG,
            lambda v: entry(0, caffeine=v),
        ),
        ("sleep_short", SHORT_SLEEP_HOURS - 0.1, SHORT_SLEEP_HOURS, lambda v: entry(0, sleep=v)),
        ("water_low", LOW_WATER_LITRES - 0.05, LOW_WATER_LITRES, lambda v: entry(0, water=v)),
    ],
)
def test_thresholds(factor_id, below, at_or_above, make) -> None:
    factor = next(f for f in FACTORS if f.id == factor_id)
    high_side_is_above = factor_id == "caffeine_high"
    assert factor.predicate(make(below)) is not high_side_is_above
    assert factor.predicate(make(at_or_above)) is high_side_is_above


@pytest.mark.parametrize(
    ("mg", "high"),
    [
        (3 * MG_PER_COFFEE, False),  # 285 mg: three coffees are under the one threshold
        (3 * MG_PER_COFFEE + MG_PER_TEA, True),  # 332 mg
        (4 * MG_PER_COFFEE, True),
        (HIGH_CAFFEINE_MG, True),
        (HIGH_CAFFEINE_MG - 1, False),
    ],
)
def test_high_caffeine_is_the_one_threshold_the_rules_use(mg: int, high: bool) -> None:
    answers = CheckinAnswers(severity=Severity.MILD, caffeine=Caffeine(mg=mg))
    day_entry = DayEntry.from_answers(START, answers)
    caffeine = next(f for f in FACTORS if f.id == "caffeine_high")
    assert caffeine.predicate(day_entry) is high
    assert "300 mg of caffeine or more (more than 3 cups of coffee)" in caffeine.description


def test_from_answers_maps_every_field() -> None:
    answers = CheckinAnswers(
        severity=Severity.MODERATE,
        locations=frozenset({Location.TORSO}),
        sleep_hours=6.5,
        caffeine=Caffeine(mg=190, servings=2),
        water_litres=1.25,
    )
    assert DayEntry.from_answers(START, answers) == DayEntry(
        day=START,
        severity=Severity.MODERATE,
        sleep_hours=6.5,
        caffeine_mg=190,
        water_litres=1.25,
        locations=frozenset({Location.TORSO}),
    )


def test_next_day_caffeine_pattern_has_exact_means_and_counts() -> None:
    result = find_patterns(caffeine_next_day_history())

    next_day = pattern_for(result, "caffeine_high", 1)
    assert next_day is not None
    assert (next_day.days_with, next_day.days_without) == (4, 4)
    assert (next_day.mean_with, next_day.mean_without) == (2.0, 0.0)
    assert next_day.is_clear
    assert "2.0 (moderate)" in next_day.sentence
    assert "0.0 (none)" in next_day.sentence
    assert "tended to be higher" in next_day.sentence
    assert "based on 4 days with and 4 without" in next_day.sentence
    assert next_day.sentence.startswith("On the day after a day with 300 mg of caffeine or more")


def test_same_day_caffeine_pattern_uses_the_same_days_twitching() -> None:
    result = find_patterns(caffeine_next_day_history())

    same_day = pattern_for(result, "caffeine_high", 0)
    assert same_day is not None
    # The four high days themselves had no twitching; the other twelve days are the four
    # low-caffeine cause days (none) and the eight outcome days (four moderate, four none).
    assert (same_day.days_with, same_day.days_without) == (4, 12)
    assert same_day.mean_with == 0.0
    assert same_day.mean_without == pytest.approx(8 / 12)
    assert "tended to be lower" in same_day.sentence
    assert result.checkins_needed == 0


def test_next_day_pairing_uses_calendar_days_and_skips_missing_ones() -> None:
    entries = [
        entry(0, caffeine=400),
        entry(1, Severity.MODERATE),  # pairs with day 0
        entry(3, caffeine=400),  # day 4 missing: not paired with day 5
        entry(5, Severity.NONE),
        entry(6, Severity.SEVERE),  # pairs with day 5
    ]
    result = find_patterns(entries, min_each_side=1)

    next_day = pattern_for(result, "caffeine_high", 1)
    assert next_day is not None
    assert (next_day.days_with, next_day.days_without) == (1, 1)
    assert (next_day.mean_with, next_day.mean_without) == (2.0, 3.0)


def test_sleep_same_day_compares_the_day_after_the_short_night() -> None:
    short = [entry(i, Severity.SEVERE, sleep=5.5) for i in range(0, 8, 2)]
    rested = [entry(i, Severity.MILD, sleep=8.0) for i in range(1, 8, 2)]
    result = find_patterns(short + rested)

    same_day = pattern_for(result, "sleep_short", 0)
    assert same_day is not None
    assert (same_day.mean_with, same_day.mean_without) == (3.0, 1.0)
    assert "3.0 (severe)" in same_day.sentence
    assert "1.0 (mild)" in same_day.sentence
    # Days alternate, so each short night's second day is a rested day's severity.
    second_day = pattern_for(result, "sleep_short", 1)
    assert second_day is not None
    assert (second_day.days_with, second_day.days_without) == (4, 3)
    assert (second_day.mean_with, second_day.mean_without) == (1.0, 3.0)


def test_two_days_on_one_side_gives_no_pattern_and_says_how_many_more() -> None:
    entries = [entry(i, Severity.MILD, water=1.0) for i in range(2)]
    entries += [entry(i, Severity.NONE) for i in range(2, 12)]
    result = find_patterns(entries)

    assert pattern_for(result, "water_low", 0) is None
    assert result.patterns == ()
    # Water is one low-water day short; caffeine and sleep are each three days short.
    assert result.checkins_needed == 1
    water_sentence = next(s for s in result.not_enough if "litres of water" in s)
    assert "less than 1.5 litres of water and other drinks" in water_sentence
    assert "2 so far, 1 more needed" in water_sentence
    text = format_insights(result)
    assert "At least 1 more check-in will be needed" in text
    assert_calm(text)


def test_empty_history_needs_both_sides_filled() -> None:
    result = find_patterns([])

    assert result.patterns == ()
    assert result.checkins_needed == 2 * MIN_DAYS_EACH_SIDE
    # One sentence per factor: the next-day variants would only repeat the shortage.
    assert len(result.not_enough) == len({f.id for f in FACTORS})
    assert all("0 and 0 so far" in s for s in result.not_enough)
    assert "At least 6 more check-ins" in format_insights(result)


@pytest.mark.parametrize("min_each_side", [1, 2, 5])
def test_checkins_needed_scales_with_the_minimum(min_each_side: int) -> None:
    assert find_patterns([], min_each_side=min_each_side).checkins_needed == 2 * min_each_side


def test_next_day_shortage_is_reported_when_same_day_has_enough() -> None:
    # Six consecutive days: same-day caffeine has 3 and 3; next-day pairs are only 5.
    entries = [entry(i, caffeine=400 if i < 3 else 50) for i in range(6)]
    result = find_patterns(entries)

    assert pattern_for(result, "caffeine_high", 0) is not None
    assert pattern_for(result, "caffeine_high", 1) is None
    assert any("followed by a check-in the next day" in s for s in result.not_enough)


def test_small_difference_is_reported_as_no_clear_difference() -> None:
    with_factor = [entry(i, Severity(s), water=1.0) for i, s in enumerate([1, 1, 2])]
    without = [entry(10 + i, Severity.MILD) for i in range(6)]
    result = find_patterns([*with_factor, *without])

    water = pattern_for(result, "water_low", 0)
    assert water is not None
    assert water.mean_with - water.mean_without == pytest.approx(1 / 3)
    assert not water.is_clear
    assert "no clear difference" in water.sentence
    assert "tended" not in water.sentence


def test_difference_of_exactly_the_minimum_is_stated() -> None:
    # 4/3 against 5/6: half a level exactly, which floating point puts just below 0.5.
    with_factor = [entry(i, Severity(s), water=1.0) for i, s in enumerate([0, 1, 3])]
    without = [entry(10 + i, Severity(s)) for i, s in enumerate([0, 0, 0, 0, 2, 3])]
    water = pattern_for(find_patterns([*with_factor, *without]), "water_low", 0)

    assert water is not None
    assert water.mean_with - water.mean_without < 0.5
    assert water.is_clear
    assert "tended to be higher" in water.sentence


def test_min_difference_is_configurable() -> None:
    history = caffeine_next_day_history()
    strict = pattern_for(find_patterns(history, min_difference=2.5), "caffeine_high", 1)
    assert strict is not None
    assert not strict.is_clear


def test_last_entry_for_a_day_wins() -> None:
    entries = [entry(i, Severity.NONE, water=1.0) for i in range(3)]
    entries += [entry(i, Severity.NONE) for i in range(3, 6)]
    entries.append(entry(0, Severity.SEVERE, water=1.0))  # a redo of day 0
    water = pattern_for(find_patterns(entries), "water_low", 0)

    assert water is not None
    assert (water.days_with, water.days_without) == (3, 3)
    assert water.mean_with == 1.0


def test_min_each_side_must_be_positive() -> None:
    with pytest.raises(ValueError, match="min_each_side"):
        find_patterns([], min_each_side=0)


@pytest.mark.parametrize(
    ("mean", "expected"),
    [
        (0.0, "0.0 (none)"),
        (1.0, "1.0 (mild)"),
        (1.2, "1.2 (mild)"),
        (1.5, "1.5 (between mild and moderate)"),
        (2.6, "2.6 (between moderate and severe)"),
        (2.9, "2.9 (severe)"),
        (3.0, "3.0 (severe)"),
    ],
)
def test_severity_phrase(mean: float, expected: str) -> None:
    assert severity_phrase(mean) == expected


day_entries = st.lists(
    st.builds(
        DayEntry,
        day=st.dates(min_value=START, max_value=START + timedelta(days=40)),
        severity=st.sampled_from(list(Severity)),
        sleep_hours=st.floats(min_value=0, max_value=24, allow_nan=False),
        caffeine_mg=st.integers(min_value=0, max_value=2000),
        water_litres=st.floats(min_value=0, max_value=10, allow_nan=False),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(day_entries)
def test_any_history_gives_consistent_calm_results(entries: list[DayEntry]) -> None:
    result = find_patterns(entries)
    distinct_days = len({e.day for e in entries})

    assert (result.checkins_needed == 0) == bool(result.patterns)
    if distinct_days == 0:
        assert result.checkins_needed == 2 * MIN_DAYS_EACH_SIDE
    for pattern in result.patterns:
        assert pattern.days_with >= MIN_DAYS_EACH_SIDE
        assert pattern.days_without >= MIN_DAYS_EACH_SIDE
        assert pattern.days_with + pattern.days_without <= distinct_days
        assert 0 <= pattern.mean_with <= 3
        assert 0 <= pattern.mean_without <= 3
        assert_calm(pattern.sentence)
    for sentence in result.not_enough:
        assert_calm(sentence)
    assert_calm(format_insights(result))
    summary = weekly_summary_text(entries, week_end=START + timedelta(days=20))
    assert_calm(summary)
    assert not re.search(r"missed|streak|should|forgot", summary, re.IGNORECASE)


def test_weekly_summary_counts_only_the_last_seven_days() -> None:
    week_end = START + timedelta(days=9)
    entries = [
        entry(2, Severity.SEVERE, caffeine=900),  # eight days before week_end: outside
        entry(3, Severity.NONE, caffeine=100, sleep=6.0, water=1.0),
        entry(5, Severity.MILD, caffeine=200, sleep=7.0, water=1.5),
        entry(9, Severity.MODERATE, caffeine=300, sleep=8.0, water=2.0),
    ]
    text = weekly_summary_text(entries, week_end=week_end)

    assert text.startswith("Your week, 6–12 March: 3 check-ins.")
    assert "7 h of sleep, 200 mg of caffeine, 1.5 l of water and other drinks a day" in text
    assert "Twitching noted on 2 of 3 days: mild on 1 day, moderate on 1 day." in text


def test_weekly_summary_without_twitching_or_check_ins_stays_calm() -> None:
    quiet = weekly_summary_text([entry(0)], week_end=START)
    assert "No twitching noted" in quiet
    assert "1 check-in." in quiet

    empty = weekly_summary_text([], week_end=date(2025, 3, 2))
    assert empty.startswith("Your week, 24 February – 2 March: no check-ins this week")
    assert_calm(empty)
