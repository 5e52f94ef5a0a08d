"""Unit tests for the no-alarm-fatigue rules: weekly cap, no-twitch days, the 8-week pause
after "I've seen a doctor about this", and which safety screen a check-in asks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.domain.alarm_fatigue import (
    DOCTOR_PAUSE_DAYS,
    ScreenKind,
    history_findings_to_tell,
    offers_doctor_button,
    pausable,
    pause_ends,
    screen_due,
)
from bot.domain.checkin import Location, Severity
from bot.domain.triage import (
    Assessment,
    DayRecord,
    RedFlagCatalog,
    Tier,
    assess_history,
    load_catalog,
)
from bot.paths import CONTENT_DIR

TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def catalog() -> RedFlagCatalog:
    return load_catalog(CONTENT_DIR / "redflags.yaml")


def long_and_spreading(catalog: RedFlagCatalog) -> Assessment:
    """Fourteen days of twitching in two areas: the long and the spreading pattern."""
    days = [
        DayRecord(
            day=TODAY - timedelta(days=back),
            severity=Severity.MILD,
            locations=frozenset({Location.EYELID_FACE, Location.LEGS_FEET}),
        )
        for back in range(14)
    ]
    assessment = assess_history(catalog, days, TODAY)
    assert assessment.flag_ids == {"twitching_long", "twitching_spreading"}
    return assessment


def told(
    assessment: Assessment,
    *,
    twitching_today: bool = True,
    last_told: dict[str, date] | None = None,
    paused_until: dict[str, date] | None = None,
    today: date = TODAY,
) -> frozenset[str]:
    return history_findings_to_tell(
        assessment,
        today=today,
        twitching_today=twitching_today,
        last_told=last_told or {},
        paused_until=paused_until or {},
    ).flag_ids


# ----------------------------------------------------------------------------- weekly cap


def test_never_told_is_told(catalog: RedFlagCatalog) -> None:
    assert told(long_and_spreading(catalog)) == {"twitching_long", "twitching_spreading"}


@pytest.mark.parametrize(("days_ago", "again"), [(0, False), (1, False), (6, False), (7, True)])
def test_a_reason_is_told_again_only_after_a_week(
    catalog: RedFlagCatalog, days_ago: int, again: bool
) -> None:
    last = {"twitching_long": TODAY - timedelta(days=days_ago)}
    flags = told(long_and_spreading(catalog), last_told=last)
    assert ("twitching_long" in flags) is again
    assert "twitching_spreading" in flags, "the cap is per reason"


# ----------------------------------------------------------------------------- no twitching


def test_nothing_on_a_day_without_twitching(catalog: RedFlagCatalog) -> None:
    assert told(long_and_spreading(catalog), twitching_today=False) == frozenset()


# ----------------------------------------------------------------------------- 8-week pause


def test_pause_lasts_eight_weeks() -> None:
    assert DOCTOR_PAUSE_DAYS == 56
    assert pause_ends(TODAY) == date(2027, 1, 17)


@pytest.mark.parametrize(("days_after", "paused"), [(0, True), (30, True), (55, True), (56, False)])
def test_a_paused_reason_is_held_back_until_the_pause_ends(
    catalog: RedFlagCatalog, days_after: int, paused: bool
) -> None:
    seen_on = TODAY
    later = TODAY + timedelta(days=days_after)
    flags = told(
        long_and_spreading(catalog),
        paused_until={"twitching_long": pause_ends(seen_on)},
        today=later,
    )
    assert ("twitching_long" not in flags) is paused
    assert "twitching_spreading" in flags, "a pause is per reason"


def test_only_history_patterns_pause_and_only_a_consult_offers_the_button() -> None:
    flags = ["weakness", "twitching_long", "numbness_tingling", "twitching_worsening"]
    assert pausable(flags) == ("twitching_long", "twitching_worsening")
    assert offers_doctor_button(Tier.CONSULT, flags)
    assert not offers_doctor_button(Tier.CONSULT, ["weakness", "numbness_tingling"])
    assert not offers_doctor_button(Tier.EMERGENCY, ["twitching_long", "trouble_breathing"])


# ----------------------------------------------------------------------------- screen due


@pytest.mark.parametrize(
    ("twitching", "last_full", "due"),
    [
        (True, None, ScreenKind.FULL),  # the first screen ever is the full list
        (False, None, ScreenKind.FULL),
        (True, TODAY, ScreenKind.SHORT),
        (True, TODAY - timedelta(days=6), ScreenKind.SHORT),
        (True, TODAY - timedelta(days=7), ScreenKind.FULL),  # at least weekly
        (False, TODAY - timedelta(days=1), None),
        (False, TODAY - timedelta(days=6), None),
        (False, TODAY - timedelta(days=7), ScreenKind.FULL),
        (False, TODAY - timedelta(days=30), ScreenKind.FULL),
    ],
)
def test_screen_due(twitching: bool, last_full: date | None, due: ScreenKind | None) -> None:
    assert screen_due(
        twitching_reported=twitching, last_full_screen_day=last_full, today=TODAY
    ) is (due)
