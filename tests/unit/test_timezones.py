"""Timezone answers: names, cities, countries, abbreviations, offsets and "it's 14:30 here"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.parsing import MAX_TEXT_LENGTH
from bot.domain.timezones import (
    ABBREVIATION_ZONES,
    MAX_CHOICES,
    MAX_OFFSET_MINUTES,
    MIN_OFFSET_MINUTES,
    PLACE_ZONES,
    POPULAR_ZONES,
    TimezoneChoice,
    is_valid_zone_name,
    resolve_timezone,
    zone_for,
)

WINTER = datetime(2025, 1, 15, 12, 0, 20, tzinfo=UTC)
SUMMER = datetime(2025, 7, 15, 12, 0, 20, tzinfo=UTC)


def names(text: str, now: datetime = WINTER) -> list[str]:
    return [choice.name for choice in resolve_timezone(text, now)]


def fixed_minutes(name: str, now: datetime = WINTER) -> int:
    offset = zone_for(name).utcoffset(now)
    assert offset is not None
    return int(offset.total_seconds() // 60)


# --- one clear answer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # IANA names, any case
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("America/New_York", "America/New_York"),
        ("america/new york", "America/New_York"),
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("EST5EDT", "EST5EDT"),
        # the city at the end of an IANA name
        ("New York", "America/New_York"),
        ("new york", "America/New_York"),
        ("Sao Paulo", "America/Sao_Paulo"),
        ("São Paulo", "America/Sao_Paulo"),
        ("los angeles", "America/Los_Angeles"),
        ("London", "Europe/London"),
        ("Tokyo", "Asia/Tokyo"),
        ("Kyiv", "Europe/Kyiv"),
        ("Hong Kong", "Asia/Hong_Kong"),
        ("St. John's", "America/St_Johns"),
        ("Port-au-Prince", "America/Port-au-Prince"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),  # the current name, not the link
        ("Indianapolis", "America/Indiana/Indianapolis"),
        ("Melbourne", "Australia/Melbourne"),
        # cities and countries from the table
        ("San Francisco", "America/Los_Angeles"),
        ("Seattle", "America/Los_Angeles"),
        ("Munich", "Europe/Berlin"),
        ("München", "Europe/Berlin"),
        ("Hamburg", "Europe/Berlin"),
        ("Manchester", "Europe/London"),
        ("Edinburgh", "Europe/London"),
        ("Barcelona", "Europe/Madrid"),
        ("Milan", "Europe/Rome"),
        ("Mumbai", "Asia/Kolkata"),
        ("Delhi", "Asia/Kolkata"),
        ("Bangalore", "Asia/Kolkata"),
        ("Beijing", "Asia/Shanghai"),
        ("Osaka", "Asia/Tokyo"),
        ("Germany", "Europe/Berlin"),
        ("France", "Europe/Paris"),
        ("Spain", "Europe/Madrid"),
        ("Italy", "Europe/Rome"),
        ("UK", "Europe/London"),
        ("England", "Europe/London"),
        ("Ireland", "Europe/Dublin"),
        ("Japan", "Asia/Tokyo"),
        ("India", "Asia/Kolkata"),
        ("Poland", "Europe/Warsaw"),
        ("Netherlands", "Europe/Amsterdam"),
        ("Ukraine", "Europe/Kyiv"),
        ("Turkey", "Europe/Istanbul"),
        ("Türkiye", "Europe/Istanbul"),
        # phrasing around a place
        ("I live in London", "Europe/London"),
        ("london time", "Europe/London"),
        ("Berlin, Germany", "Europe/Berlin"),
        ("Birmingham, Alabama", "America/Chicago"),
        # abbreviations
        ("EST", "America/New_York"),
        ("EDT", "America/New_York"),
        ("PST", "America/Los_Angeles"),
        ("BST", "Europe/London"),
        ("JST", "Asia/Tokyo"),
    ],
)
def test_clear_answers(text: str, expected: str) -> None:
    (choice,) = resolve_timezone(text, WINTER)
    assert choice.name == expected
    assert choice.fixed_offset is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("UTC", "UTC"),
        ("utc+0", "UTC"),
        ("UTC+2", "UTC+02:00"),
        ("GMT-3", "UTC-03:00"),
        ("+05:30", "UTC+05:30"),
        ("+0530", "UTC+05:30"),
        ("utc +1", "UTC+01:00"),
        ("UTC−5", "UTC-05:00"),  # Unicode minus
        ("UTC+5:45", "UTC+05:45"),
        ("-12", "UTC-12:00"),
        ("UTC+14", "UTC+14:00"),
        ("Etc/GMT+5", "UTC-05:00"),  # tz database signs are inverted; shown the usual way
        ("Zulu", "UTC"),
    ],
)
def test_fixed_offsets(text: str, expected: str) -> None:
    (choice,) = resolve_timezone(text, WINTER)
    assert choice.name == expected
    assert choice.fixed_offset is True


@pytest.mark.parametrize("text", ["UTC+15", "UTC-13", "UTC+5:20", "+25", "GMT+3:60"])
def test_offsets_outside_the_real_world_match_nothing(text: str) -> None:
    assert resolve_timezone(text, WINTER) == []


# --- several choices ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "USA",
            [
                "America/New_York",
                "America/Chicago",
                "America/Denver",
                "America/Phoenix",
                "America/Los_Angeles",
            ],
        ),
        (
            "Brazil",
            ["America/Sao_Paulo", "America/Manaus", "America/Rio_Branco", "America/Noronha"],
        ),
        ("GMT", ["UTC", "Europe/London"]),
        ("IST", ["Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"]),
        ("CST", ["America/Chicago", "Asia/Shanghai"]),
        ("Georgia", ["Asia/Tbilisi", "America/New_York"]),
        ("Birmingham", ["Europe/London", "America/Chicago"]),
    ],
)
def test_ambiguous_answers_offer_choices(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize("text", ["Canada", "Australia", "Russia", "CET", "CEST", "EET"])
def test_multi_zone_answers_offer_at_most_five(text: str) -> None:
    found = names(text)
    assert 2 <= len(found) <= MAX_CHOICES
    assert len(set(found)) == len(found)


def test_central_european_abbreviation_offers_cities_not_a_guess() -> None:
    assert names("CET")[0] == "Europe/Berlin"
    assert "Europe/Paris" in names("cest")


# --- the local time right now -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "expected_first"),
    [
        ("14:30", datetime(2025, 1, 15, 12, 30, 5, tzinfo=UTC), "UTC+02:00"),
        ("2:30pm", datetime(2025, 1, 15, 12, 30, 5, tzinfo=UTC), "UTC+02:00"),
        ("it's 9 am here", datetime(2025, 1, 15, 14, 0, 40, tzinfo=UTC), "UTC-05:00"),
        ("It is 21:45 now", datetime(2025, 1, 15, 16, 15, tzinfo=UTC), "UTC+05:30"),
        ("12:00", datetime(2025, 1, 15, 12, 1, tzinfo=UTC), "UTC"),
        ("9:59", datetime(2025, 1, 15, 10, 0, 30, tzinfo=UTC), "UTC"),  # rounded to 15 min
        ("noon", datetime(2025, 1, 15, 3, 0, tzinfo=UTC), "UTC+09:00"),
    ],
)
def test_local_time_gives_a_fixed_offset_first(
    text: str, now: datetime, expected_first: str
) -> None:
    found = resolve_timezone(text, now)
    assert found[0].name == expected_first
    assert found[0].fixed_offset is True


def test_local_time_also_suggests_zones_that_follow_daylight_saving() -> None:
    winter = names("13:00", datetime(2025, 1, 15, 12, 0, tzinfo=UTC))
    assert winter[0] == "UTC+01:00"
    assert winter[1:] == ["Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome"]
    summer = names("13:00", datetime(2025, 7, 15, 12, 0, tzinfo=UTC))
    assert summer[1:] == ["Europe/London", "Europe/Dublin", "Europe/Lisbon", "Africa/Lagos"]


def test_local_time_near_the_date_line_offers_both_sides() -> None:
    found = names("0:40", datetime(2025, 1, 15, 12, 40, tzinfo=UTC))
    assert found[:2] == ["UTC+12:00", "UTC-12:00"]


@pytest.mark.parametrize("text", ["9", "abc", "", " ", "🙂", "x" * (MAX_TEXT_LENGTH + 1), "25:00"])
def test_nothing_matches(text: str) -> None:
    assert resolve_timezone(text, WINTER) == []


# --- choices and names --------------------------------------------------------------------


def test_labels_show_the_local_time_and_follow_daylight_saving() -> None:
    assert resolve_timezone("Berlin", WINTER) == [
        TimezoneChoice(name="Europe/Berlin", label="Europe/Berlin (now 13:00)", fixed_offset=False)
    ]
    assert resolve_timezone("Berlin", SUMMER)[0].label == "Europe/Berlin (now 14:00)"
    assert resolve_timezone("UTC+5:30", SUMMER)[0].label == "UTC+05:30 (now 17:30)"


def test_a_naive_now_is_taken_as_utc() -> None:
    naive = WINTER.replace(tzinfo=None)
    assert resolve_timezone("Tokyo", naive) == resolve_timezone("Tokyo", WINTER)


def test_an_aware_now_in_another_zone_is_converted() -> None:
    in_berlin = WINTER.astimezone(ZoneInfo("Europe/Berlin"))
    assert resolve_timezone("14:00", in_berlin) == resolve_timezone("14:00", WINTER)


@pytest.mark.parametrize(
    ("name", "offset_minutes"),
    [("UTC", 0), ("UTC+05:30", 330), ("UTC-03:00", -180), ("UTC+14:00", 840), ("UTC-12:00", -720)],
)
def test_zone_for_fixed_offsets(name: str, offset_minutes: int) -> None:
    zone = zone_for(name)
    assert isinstance(zone, timezone)
    assert zone.utcoffset(None) == timedelta(minutes=offset_minutes)


def test_zone_for_iana_names() -> None:
    zone = zone_for("Europe/Berlin")
    assert zone == ZoneInfo("Europe/Berlin")
    assert zone.utcoffset(datetime(2025, 7, 1)) == timedelta(hours=2)


@pytest.mark.parametrize(
    "name",
    [
        "Europe/Atlantis",
        "europe/berlin",  # stored names are exact
        "UTC+00:00",  # written "UTC"
        "UTC+15:00",
        "UTC+05:20",
        "UTC+5:30",
        "localtime",
        "../../etc/passwd",
        "",
        "posix/Europe/Berlin",
    ],
)
def test_invalid_names(name: str) -> None:
    assert is_valid_zone_name(name) is False
    with pytest.raises(ValueError):
        zone_for(name)


def test_every_table_entry_is_a_valid_zone() -> None:
    tables = [*PLACE_ZONES.values(), *ABBREVIATION_ZONES.values(), POPULAR_ZONES]
    listed = {name for table in tables for name in table}
    assert listed
    assert sorted(name for name in listed if not is_valid_zone_name(name)) == []
    assert all(1 <= len(zones) <= MAX_CHOICES for zones in PLACE_ZONES.values())


# --- properties ---------------------------------------------------------------------------

plausible_now = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(min_value=MIN_OFFSET_MINUTES // 15, max_value=MAX_OFFSET_MINUTES // 15).map(
    lambda steps: steps * 15
)


@given(st.text(max_size=300), plausible_now)
def test_resolve_never_raises_and_only_returns_valid_names(text: str, now: datetime) -> None:
    found = resolve_timezone(text, now)
    assert len(found) <= MAX_CHOICES
    assert len({choice.name for choice in found}) == len(found)
    for choice in found:
        assert is_valid_zone_name(choice.name)
        assert choice.label.startswith(choice.name)


@given(offsets, plausible_now, st.sampled_from(["{:%H:%M}", "it's {:%I:%M %p} here", "{:%H.%M}"]))
def test_local_time_resolves_to_exactly_that_offset(
    offset: int, now: datetime, template: str
) -> None:
    local = now + timedelta(minutes=offset)
    found = resolve_timezone(template.format(local), now)
    fixed = [choice.name for choice in found if choice.fixed_offset]
    twin = offset - 24 * 60 if offset >= 12 * 60 else offset + 24 * 60
    expected = {offset} | ({twin} if MIN_OFFSET_MINUTES <= twin <= MAX_OFFSET_MINUTES else set())
    assert {fixed_minutes(name, now) for name in fixed} == expected
    assert found[0].fixed_offset
    for choice in found:  # every suggestion shows the same local time right now
        assert now.astimezone(zone_for(choice.name)).strftime("%H:%M") == local.strftime("%H:%M")


@given(
    offsets,
    st.sampled_from(["UTC{sign}{h}:{m:02d}", "GMT {sign}{h:02d}{m:02d}", "{sign}{h}.{m:02d}"]),
)
def test_typed_offsets_round_trip(offset: int, template: str) -> None:
    hours, minutes = divmod(abs(offset), 60)
    text = template.format(sign="-" if offset < 0 else "+", h=hours, m=minutes)
    (choice,) = resolve_timezone(text, WINTER)
    assert choice.fixed_offset
    assert fixed_minutes(choice.name) == offset


@given(st.sampled_from(sorted(PLACE_ZONES)), st.sampled_from([str.upper, str.title, str.lower]))
def test_table_places_resolve_in_any_case(place: str, casing: Callable[[str], str]) -> None:
    assert names(casing(place)) == list(PLACE_ZONES[place])
