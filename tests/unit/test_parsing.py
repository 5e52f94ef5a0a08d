"""Typed answers: example tables for what people really type, properties for everything else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.checkin import (
    LITRES_PER_GLASS,
    MAX_CAFFEINE_MG,
    MAX_SLEEP_HOURS,
    MAX_WATER_LITRES,
    MG_PER_COFFEE,
    MG_PER_ENERGY_DRINK,
    MG_PER_TEA,
    Caffeine,
    Location,
    Severity,
)
from bot.domain.parsing import (
    MAX_SERVINGS,
    MAX_TEXT_LENGTH,
    MG_PER_COLA,
    AnswerError,
    CaffeineUnitQuestion,
    caffeine_from_choice,
    normalized_text,
    parse_caffeine,
    parse_clock_time,
    parse_locations,
    parse_severity,
    parse_sleep_hours,
    parse_water_litres,
    parse_whole_number,
    parse_yes_no,
)

PARSERS: dict[str, Callable[[str], object]] = {
    "severity": parse_severity,
    "locations": parse_locations,
    "sleep": parse_sleep_hours,
    "caffeine": parse_caffeine,
    "water": parse_water_litres,
    "clock": parse_clock_time,
    "yes_no": parse_yes_no,
}
REASONS = {"empty", "too_long", "not_understood", "out_of_range", "ambiguous", "which_unit"}

FACE, ARMS, LEGS, TORSO, MANY = (
    Location.EYELID_FACE,
    Location.ARMS_HANDS,
    Location.LEGS_FEET,
    Location.TORSO,
    Location.MANY,
)


def reason_of(parser: Callable[[str], object], text: str) -> str:
    with pytest.raises(AnswerError) as caught:
        parser(text)
    return caught.value.reason


def quarter_hours(value: Decimal) -> float:
    return float((value * 4).to_integral_value(rounding=ROUND_HALF_UP) / 4)


def twentieth_litres(value: Decimal) -> float:
    return float((value * 20).to_integral_value(rounding=ROUND_HALF_UP) / 20)


# --- shared rules -------------------------------------------------------------------------

BAD_FOR_EVERY_PARSER = [
    ("", "empty"),
    (" ", "empty"),
    ("\t\n ", "empty"),
    ("\u200f\u200e", "empty"),  # only direction marks
    ("abc", "not_understood"),
    ("🙂", "not_understood"),
    ("1e400", "not_understood"),
    ("nan", "not_understood"),
    ("inf", "not_understood"),
    ("x" * (MAX_TEXT_LENGTH + 1), "too_long"),
    ("7 " * 150, "too_long"),
]


@pytest.mark.parametrize("parser_name", sorted(PARSERS))
@pytest.mark.parametrize(("text", "reason"), BAD_FOR_EVERY_PARSER)
def test_every_parser_rejects_the_same_junk(parser_name: str, text: str, reason: str) -> None:
    assert reason_of(PARSERS[parser_name], text) == reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Six  HOURS ", "six hours"),
        ("٦٫٥", "6.5"),  # Arabic-Indic digits and decimal separator
        ("６．５", "6.5"),  # full-width
        ("१२", "12"),  # Devanagari
        ("UTC−5", "utc-5"),  # Unicode minus
        ("6\u200f.5", "6.5"),  # a direction mark inside a number
        ("São Paulo", "sao paulo"),
        ("1½", "1.5"),
        ("½", "0.5"),
        ("👍🏽", "👍"),  # skin tone dropped
    ],
)
def test_normalisation(text: str, expected: str) -> None:
    assert normalized_text(text) == expected


def test_length_limit_counts_the_stripped_text() -> None:
    padded = "   " + "7" * MAX_TEXT_LENGTH + "   "
    assert normalized_text(padded) == "7" * MAX_TEXT_LENGTH


def test_answer_error_is_a_value_error_with_a_reason() -> None:
    error = AnswerError("out_of_range")
    assert isinstance(error, ValueError)
    assert error.reason == "out_of_range"


# --- severity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", Severity.NONE),
        ("no", Severity.NONE),
        ("0", Severity.NONE),
        ("None 😌", Severity.NONE),
        ("not at all", Severity.NONE),
        ("no twitching today", Severity.NONE),
        ("mild", Severity.MILD),
        ("a little", Severity.MILD),
        ("Mild (1)", Severity.MILD),
        ("very mild", Severity.MILD),
        ("not bad", Severity.MILD),
        ("1", Severity.MILD),
        ("moderate", Severity.MODERATE),
        ("quite a bit", Severity.MODERATE),
        ("so-so", Severity.MODERATE),
        ("2", Severity.MODERATE),
        ("２", Severity.MODERATE),
        ("severe", Severity.SEVERE),
        ("Severe!", Severity.SEVERE),
        ("bad", Severity.SEVERE),
        ("very bad", Severity.SEVERE),
        ("pretty bad today", Severity.SEVERE),
        ("a lot", Severity.SEVERE),
        ("3", Severity.SEVERE),
        ("severe / 3", Severity.SEVERE),
        # the 0-10 scale: 0 none, up to 3 mild, up to 6 moderate, up to 10 severe
        ("0/10", Severity.NONE),
        ("1/10", Severity.MILD),
        ("3 out of 10", Severity.MILD),
        ("4/10", Severity.MODERATE),
        ("6/10", Severity.MODERATE),
        ("6.5/10", Severity.SEVERE),
        ("7/10", Severity.SEVERE),
        ("10/10", Severity.SEVERE),
    ],
)
def test_severity_examples(text: str, expected: Severity) -> None:
    assert parse_severity(text) is expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("4", "out_of_range"),  # the buttons are 0-3; a bare 4 is not guessed onto 0-10
        ("11/10", "out_of_range"),
        ("-1", "out_of_range"),
        ("1.5", "ambiguous"),
        ("mild to moderate", "ambiguous"),
        ("mild/severe", "ambiguous"),
        ("moderate-severe", "ambiguous"),
        ("not", "not_understood"),
        ("purple", "not_understood"),
        ("mild purple", "not_understood"),
    ],
)
def test_severity_rejections(text: str, reason: str) -> None:
    assert reason_of(parse_severity, text) == reason


@given(st.integers(min_value=0, max_value=3))
def test_severity_numbers_are_the_button_values(level: int) -> None:
    assert parse_severity(str(level)) == Severity(level)


@given(
    st.decimals(min_value=0, max_value=10, places=1),
    st.decimals(min_value=0, max_value=10, places=1),
)
def test_ten_point_scale_is_monotonic(lower: Decimal, higher: Decimal) -> None:
    lower, higher = sorted((lower, higher))
    assert parse_severity(f"{lower}/10") <= parse_severity(f"{higher} out of 10")


# --- locations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eyelid", {FACE}),
        ("left eye", {FACE}),
        ("Eyelids", {FACE}),
        ("face, calves", {FACE, LEGS}),
        ("arms and legs", {ARMS, LEGS}),
        ("hands", {ARMS}),
        ("feet", {LEGS}),
        ("calf", {LEGS}),
        ("thigh", {LEGS}),
        ("back", {TORSO}),
        ("chest", {TORSO}),
        ("stomach", {TORSO}),
        ("everywhere", {MANY}),
        ("all over", {MANY}),
        ("whole body", {MANY}),
        ("Many places", {MANY}),
        ("Eyelid / face", {FACE}),  # a button label typed back
        ("Legs / calves / feet", {LEGS}),
        ("both calves and my upper back", {LEGS, TORSO}),
        ("lower back & thighs", {TORSO, LEGS}),
        ("little finger; big toe", {ARMS, LEGS}),
        ("my left side", {TORSO}),
        ("side of my face", {FACE}),
        ("shoulders + knees", {ARMS, LEGS}),
        ("tongue", {FACE}),
        ("eyelid, everywhere", {FACE, MANY}),
    ],
)
def test_location_examples(text: str, expected: set[Location]) -> None:
    assert parse_locations(text) == frozenset(expected)


@pytest.mark.parametrize(
    "text",
    ["left", "none", "calves, abc", "my elbow and my purple", "the", "somewhere", "-1"],
)
def test_locations_with_an_unknown_word_are_rejected(text: str) -> None:
    assert reason_of(parse_locations, text) == "not_understood"


@given(
    st.lists(
        st.sampled_from(["eyelid", "hand", "calves", "back", "everywhere"]), min_size=1, max_size=12
    )
)
def test_location_lists_are_the_union_of_their_items(words: list[str]) -> None:
    joined = ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]
    expected = frozenset().union(*(parse_locations(word) for word in words))
    assert parse_locations(joined) == expected


# --- sleep --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6.5", 6.5),
        ("6,5", 6.5),
        ("6h30", 6.5),
        ("6h 30m", 6.5),
        ("6 h 30 min", 6.5),
        ("6 hours 30 minutes", 6.5),
        ("6:30", 6.5),
        ("6.30", 6.5),  # clock-style minutes after a dot
        ("6.45", 6.75),
        ("6.25", 6.25),  # a decimal quarter stays a decimal
        ("7 hours", 7.0),
        ("7 hrs", 7.0),
        ("7h", 7.0),
        ("7.5h", 7.5),
        ("about 7", 7.0),
        ("~7", 7.0),
        ("7ish", 7.0),
        ("around 8 hours", 8.0),
        ("9 h or more", 9.0),
        ("seven", 7.0),
        ("seven and a half hours", 7.5),
        ("an hour and a half", 1.5),
        ("half an hour", 0.5),
        ("45 min", 0.75),
        ("90 minutes", 1.5),
        ("6-7", 6.5),
        ("6 to 7 hours", 6.5),
        ("6:30-7:30", 7.0),
        ("I slept 8 hours last night", 8.0),
        ("٦٫٥", 6.5),
        ("6½", 6.5),
        ("6.1", 6.0),  # rounded to the quarter hour
        ("6.2", 6.25),
        ("0", 0.0),
        ("none", 0.0),
        ("didn't sleep", 0.0),
        ("24", 24.0),
        # bed-to-wake clock ranges, across midnight
        ("23:00-6:30", 7.5),
        ("23:00 - 06:30", 7.5),
        ("11pm-7am", 8.0),
        ("from 11 pm to 7 am", 8.0),
        ("22-6", 8.0),
        ("11-7", 8.0),
        ("10:30-6:15", 7.75),
        ("00:30-8:00", 7.5),
        ("1am-9am", 8.0),
    ],
)
def test_sleep_examples(text: str, expected: float) -> None:
    assert parse_sleep_hours(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("25 hours", "out_of_range"),
        ("24.1", "out_of_range"),
        ("30", "out_of_range"),
        ("-1", "out_of_range"),
        ("- 3 hours", "out_of_range"),
        ("6:75", "out_of_range"),
        ("13pm-5", "out_of_range"),
        ("5000 minutes", "out_of_range"),
        ("9" * 150, "out_of_range"),
        ("23-23", "ambiguous"),
        ("2-9", "ambiguous"),  # too wide to average
        ("6.5h 30m", "not_understood"),
        ("lots", "not_understood"),
        ("6 hours of", "not_understood"),
    ],
)
def test_sleep_rejections(text: str, reason: str) -> None:
    assert reason_of(parse_sleep_hours, text) == reason


quarter_hour_values = st.integers(min_value=0, max_value=int(MAX_SLEEP_HOURS * 4)).map(
    lambda quarters: Decimal(quarters) / 4
)


@given(quarter_hour_values, st.sampled_from(["{h}", "{h}h", "{h} hours", "about {h} hrs"]))
def test_sleep_decimal_formats_round_trip(hours: Decimal, template: str) -> None:
    assert parse_sleep_hours(template.format(h=hours)) == float(hours)


@given(quarter_hour_values, st.sampled_from(["{H}:{M:02d}", "{H}h{M:02d}", "{H}h {M}m"]))
def test_sleep_hours_and_minutes_round_trip(hours: Decimal, template: str) -> None:
    whole = int(hours)
    minutes = int((hours - whole) * 60)
    assert parse_sleep_hours(template.format(H=whole, M=minutes)) == float(hours)


@given(st.decimals(min_value=0, max_value=24, places=1))
def test_sleep_one_decimal_is_rounded_to_quarter_hours(hours: Decimal) -> None:
    assert parse_sleep_hours(str(hours).replace(".", ",")) == quarter_hours(hours)


@given(st.integers(min_value=0, max_value=int(MAX_SLEEP_HOURS * 60)))
def test_sleep_minutes_round_trip(minutes: int) -> None:
    assert parse_sleep_hours(f"{minutes} min") == quarter_hours(Decimal(minutes) / 60)


@given(st.integers(min_value=13, max_value=23), st.integers(min_value=0, max_value=12))
def test_clock_ranges_across_midnight_give_the_time_asleep(bed: int, wake: int) -> None:
    assert parse_sleep_hours(f"{bed}:00-{wake}:00") == float(24 - bed + wake)
    wake_on_12_hour_clock = f"{wake % 12 or 12}{'pm' if wake == 12 else 'am'}"
    assert parse_sleep_hours(f"{bed - 12}pm to {wake_on_12_hour_clock}") == 24 - bed + wake


# --- caffeine -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 coffees", Caffeine(mg=2 * MG_PER_COFFEE, servings=2.0)),
        ("one coffee and a tea", Caffeine(mg=MG_PER_COFFEE + MG_PER_TEA, servings=2.0)),
        ("2 cups of coffee", Caffeine(mg=2 * MG_PER_COFFEE, servings=2.0)),
        ("a shot", Caffeine(mg=MG_PER_COFFEE, servings=1.0)),
        ("1 espresso", Caffeine(mg=MG_PER_COFFEE, servings=1.0)),
        ("3 espressos", Caffeine(mg=3 * MG_PER_COFFEE, servings=3.0)),
        ("double espresso", Caffeine(mg=2 * MG_PER_COFFEE, servings=2.0)),
        ("3 teas", Caffeine(mg=3 * MG_PER_TEA, servings=3.0)),
        ("2 cups of green tea", Caffeine(mg=2 * MG_PER_TEA, servings=2.0)),
        ("two mugs of tea", Caffeine(mg=2 * MG_PER_TEA, servings=2.0)),
        ("an energy drink", Caffeine(mg=MG_PER_ENERGY_DRINK, servings=1.0)),
        ("a red bull", Caffeine(mg=MG_PER_ENERGY_DRINK, servings=1.0)),
        ("2 diet cokes", Caffeine(mg=2 * MG_PER_COLA, servings=2.0)),
        ("2 cappuccinos", Caffeine(mg=2 * MG_PER_COFFEE, servings=2.0)),
        ("coffee x2", Caffeine(mg=2 * MG_PER_COFFEE, servings=2.0)),
        ("2x coffee", Caffeine(mg=2 * MG_PER_COFFEE, servings=2.0)),
        ("2 ☕", Caffeine(mg=2 * MG_PER_COFFEE, servings=2.0)),
        ("a couple of coffees", Caffeine(mg=2 * MG_PER_COFFEE, servings=2.0)),
        ("2 coffees, 1 tea", Caffeine(mg=2 * MG_PER_COFFEE + MG_PER_TEA, servings=3.0)),
        ("1 coffee 2 teas", Caffeine(mg=MG_PER_COFFEE + 2 * MG_PER_TEA, servings=3.0)),
        ("half a coffee", Caffeine(mg=48, servings=0.5)),  # 47.5 rounded half up
        ("1.5 coffees", Caffeine(mg=143, servings=1.5)),
        ("5 or more coffees", Caffeine(mg=5 * MG_PER_COFFEE, servings=5.0)),
        ("3 coffees and a tea", Caffeine(mg=3 * MG_PER_COFFEE + MG_PER_TEA, servings=4.0)),
        ("decaf", Caffeine(mg=0, servings=0.0)),
        ("a coffee and a herbal tea", Caffeine(mg=MG_PER_COFFEE, servings=1.0)),
        ("200mg", Caffeine(mg=200, servings=None)),
        ("200 mg", Caffeine(mg=200, servings=None)),
        ("about 150 milligrams of caffeine", Caffeine(mg=150, servings=None)),
        ("1,000 mg", Caffeine(mg=1000, servings=None)),
        ("a latte and 50mg", Caffeine(mg=MG_PER_COFFEE + 50, servings=None)),
        ("0", Caffeine(mg=0, servings=0.0)),
        ("none", Caffeine(mg=0, servings=0.0)),
        ("no caffeine", Caffeine(mg=0, servings=0.0)),
        ("no coffee today", Caffeine(mg=0, servings=0.0)),
    ],
)
def test_caffeine_examples(text: str, expected: Caffeine) -> None:
    assert parse_caffeine(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("25 coffees", "out_of_range"),
        ("21 teas", "out_of_range"),
        ("3000mg", "out_of_range"),
        ("2001", "out_of_range"),  # no meaning fits: not 2001 cups, not 2001 mg
        ("2 coffees and 3", "ambiguous"),  # three what?
        ("2 cups and a tea", "ambiguous"),  # cups of what?
        ("-1", "out_of_range"),
        ("2 cans", "ambiguous"),  # cola or energy drink?
        ("2 glasses", "ambiguous"),
        ("2 whiskies", "not_understood"),
        ("coffee and purple", "not_understood"),
        ("2 coffee x3", "not_understood"),
        ("mg", "not_understood"),
    ],
)
def test_caffeine_rejections(text: str, reason: str) -> None:
    assert reason_of(parse_caffeine, text) == reason


@given(
    st.integers(min_value=0, max_value=MAX_SERVINGS),
    st.sampled_from([" coffees", " cups of coffee"]),
)
def test_caffeine_coffees_count_as_coffee(cups: int, unit: str) -> None:
    assert parse_caffeine(f"{cups}{unit}") == Caffeine(mg=cups * MG_PER_COFFEE, servings=cups)


@given(st.integers(min_value=0, max_value=MAX_SERVINGS), st.sampled_from([" teas", " cups of tea"]))
def test_caffeine_teas_count_as_tea_not_coffee(cups: int, unit: str) -> None:
    assert parse_caffeine(f"{cups}{unit}") == Caffeine(mg=cups * MG_PER_TEA, servings=cups)


def unit_question(text: str) -> CaffeineUnitQuestion:
    with pytest.raises(CaffeineUnitQuestion) as raised:
        parse_caffeine(text)
    return raised.value


@given(st.integers(min_value=1, max_value=MAX_CAFFEINE_MG))
def test_a_bare_number_always_asks_what_it_counts(number: int) -> None:
    """No jump at 20 (or anywhere): every bare count is asked back, the same way."""
    question = unit_question(str(number))
    assert question.reason == "which_unit"
    cups = [f"coffee:{number}", f"tea:{number}"] if number <= MAX_SERVINGS else []
    assert list(question.choices) == [*cups, f"mg:{number}"]


@pytest.mark.parametrize(
    ("text", "choices"),
    [
        ("20", ("coffee:20", "tea:20", "mg:20")),
        ("21", ("mg:21",)),
        ("about 2", ("coffee:2", "tea:2", "mg:2")),
        ("1.5", ("coffee:1.5", "tea:1.5")),
        ("3 cups", ("coffee:3", "tea:3")),
        ("two mugs", ("coffee:2", "tea:2")),
    ],
)
def test_counts_without_a_drink_offer_each_meaning_in_range(
    text: str, choices: tuple[str, ...]
) -> None:
    assert unit_question(text).choices == choices


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", Caffeine(mg=0, servings=0.0)),
        ("coffee:3", Caffeine(mg=285, servings=3.0)),
        ("tea:3", Caffeine(mg=141, servings=3.0)),
        ("coffee:1.5", Caffeine(mg=143, servings=1.5)),
        ("mg:21", Caffeine(mg=21, servings=None)),
        ("mg:1.5", None),
        ("mg:0", None),
        ("coffee:21", None),
        ("tea:0", None),
        ("coke:2", None),
        ("coffee:²", None),
        ("coffee:٣", None),
        ("", None),
    ],
)
def test_caffeine_choices(value: str, expected: Caffeine | None) -> None:
    assert caffeine_from_choice(value) == expected


@given(st.integers(min_value=0, max_value=MAX_CAFFEINE_MG), st.sampled_from(["mg", " mg"]))
def test_caffeine_milligrams_round_trip(mg: int, unit: str) -> None:
    assert parse_caffeine(f"{mg}{unit}") == Caffeine(mg=mg, servings=None)


@given(st.integers(min_value=0, max_value=10), st.integers(min_value=0, max_value=10))
def test_caffeine_mixed_drinks_add_up(coffees: int, teas: int) -> None:
    answer = parse_caffeine(f"{coffees} coffees and {teas} teas")
    assert answer == Caffeine(
        mg=coffees * MG_PER_COFFEE + teas * MG_PER_TEA, servings=coffees + teas
    )


# --- water --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5 l", 1.5),
        ("1,5l", 1.5),
        ("1.5 litres", 1.5),
        ("2 liters", 2.0),
        ("1500 ml", 1.5),
        ("1500ml", 1.5),
        ("1,500 ml", 1.5),  # thousands separator with a small unit
        ("75 cl", 0.75),
        ("6 glasses", 6 * LITRES_PER_GLASS),
        ("a glass", LITRES_PER_GLASS),
        ("3 cups", 3 * LITRES_PER_GLASS),
        ("2 bottles", 1.0),
        ("2", 2.0),
        ("10", 10.0),
        ("100", 0.1),
        ("1500", 1.5),
        ("10000", 10.0),
        ("64 oz", 1.9),  # US fluid ounces: 1.893 l
        ("64 fl oz", 1.9),
        ("64 fl. oz", 1.9),
        ("half a litre", 0.5),
        ("½ l", 0.5),
        ("a litre and a half", 1.5),
        ("about 2 litres", 2.0),
        ("3 l or more", 3.0),
        ("1 l and 2 glasses", 1.5),
        ("6-8 glasses", 1.75),
        ("1.5-2 l", 1.75),
        ("0.333 l", 0.35),  # rounded to 0.05 l
        ("none", 0.0),
        ("no water", 0.0),
        ("0", 0.0),
        ("I drank 2 litres of water today", 2.0),
    ],
)
def test_water_examples(text: str, expected: float) -> None:
    assert parse_water_litres(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("50", "ambiguous"),  # litres or ml?
        ("11", "ambiguous"),
        ("99", "ambiguous"),
        ("10.5", "ambiguous"),
        ("2 pints", "ambiguous"),  # UK or US?
        ("1 gallon", "ambiguous"),
        ("1-5 l", "ambiguous"),
        ("99999 ml", "out_of_range"),
        ("10001", "out_of_range"),
        ("11 l", "out_of_range"),
        ("-1", "out_of_range"),
        ("2 buckets", "not_understood"),
        ("litres", "not_understood"),
    ],
)
def test_water_rejections(text: str, reason: str) -> None:
    assert reason_of(parse_water_litres, text) == reason


@given(
    st.integers(min_value=0, max_value=int(MAX_WATER_LITRES * 1000)), st.sampled_from(["ml", " ml"])
)
def test_water_millilitres_round_trip(millilitres: int, unit: str) -> None:
    expected = twentieth_litres(Decimal(millilitres) / 1000)
    assert parse_water_litres(f"{millilitres}{unit}") == expected


@given(st.decimals(min_value=0, max_value=MAX_WATER_LITRES, places=2), st.sampled_from([".", ","]))
def test_water_litres_round_trip(litres: Decimal, separator: str) -> None:
    text = f"{litres} l".replace(".", separator)
    assert parse_water_litres(text) == twentieth_litres(litres)


@given(st.integers(min_value=0, max_value=40))
def test_water_glasses(glasses: int) -> None:
    assert parse_water_litres(f"{glasses} glasses") == pytest.approx(glasses * LITRES_PER_GLASS)


# --- clock time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9", time(9, 0)),
        ("09:30", time(9, 30)),
        ("9.30", time(9, 30)),
        ("21:00", time(21, 0)),
        ("21h", time(21, 0)),
        ("21h30", time(21, 30)),
        ("0930", time(9, 30)),
        ("2130", time(21, 30)),
        ("9pm", time(21, 0)),
        ("9 p.m.", time(21, 0)),
        ("9:15 am", time(9, 15)),
        ("9:15 A.M.", time(9, 15)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("noon", time(12, 0)),
        ("midnight", time(0, 0)),
        ("nine pm", time(21, 0)),
        ("8 in the evening", time(20, 0)),
        ("at 7", time(7, 0)),
        ("7 o'clock", time(7, 0)),
        ("half past 8", time(8, 30)),
        ("quarter to 9 pm", time(20, 45)),
        ("10 to 7", time(6, 50)),
        ("٩:٣٠", time(9, 30)),
    ],
)
def test_clock_examples(text: str, expected: time) -> None:
    assert parse_clock_time(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("24:00", "out_of_range"),
        ("25", "out_of_range"),
        ("9:60", "out_of_range"),
        ("13pm", "out_of_range"),
        ("0am", "out_of_range"),
        ("-1", "not_understood"),
        ("teatime", "not_understood"),
        ("9:5", "not_understood"),
    ],
)
def test_clock_rejections(text: str, reason: str) -> None:
    assert reason_of(parse_clock_time, text) == reason


@given(st.times())
def test_clock_24_hour_round_trip(moment: time) -> None:
    expected = moment.replace(second=0, microsecond=0)
    assert parse_clock_time(f"{moment:%H:%M}") == expected
    assert parse_clock_time(f"{moment.hour}.{moment.minute:02d}") == expected


@given(st.times())
def test_clock_12_hour_round_trip(moment: time) -> None:
    text = f"{moment:%I:%M} {'pm' if moment.hour >= 12 else 'am'}"
    assert parse_clock_time(text) == moment.replace(second=0, microsecond=0)


# --- yes / no -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "y",
        "Yeah",
        "sure",
        "ok",
        "OK.",
        "👍",
        "👍🏽",
        "ok 👍",
        "Yes!",
        "yes please",
        "I agree",
        "✔️",
    ],
)
def test_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize(
    "text", ["no", "n", "nope", "Not now", "no thanks", "no thank you", "👎", "Keep it", "Nope."]
)
def test_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("yes no", "ambiguous"),
        ("not sure", "ambiguous"),
        ("👍 no", "ambiguous"),
        ("maybe", "not_understood"),
        ("yes thing", "not_understood"),
        ("sometimes", "not_understood"),
    ],
)
def test_yes_no_rejections(text: str, reason: str) -> None:
    assert reason_of(parse_yes_no, text) == reason


# --- properties over any text -------------------------------------------------------------

awkward_characters = st.sampled_from(
    [
        *"0123456789.,:;/-+ ",
        *["\u200f", "\u202e", "\u0000", "\x1b", "\ufeff", "\u2212"],
        *["½", "٫", "٣", "１", "🙂", "👍🏽", "☕", "ml", "mg", "h", "l", "and ", "a ", "half "],
    ]
)
awkward_text = st.one_of(
    st.text(),
    st.lists(awkward_characters, max_size=60).map("".join),
    st.text(min_size=MAX_TEXT_LENGTH - 5, max_size=MAX_TEXT_LENGTH + 400),
)


@pytest.mark.parametrize("parser_name", sorted(PARSERS))
@given(text=awkward_text)
def test_parsers_raise_nothing_but_answer_error(parser_name: str, text: str) -> None:
    try:
        PARSERS[parser_name](text)
    except AnswerError as error:
        assert error.reason in REASONS


def _or_none(parser: Callable[[str], object], text: str) -> object:
    try:
        return parser(text)
    except AnswerError:
        return None


@given(awkward_text)
def test_accepted_answers_are_always_storable(text: str) -> None:
    hours = _or_none(parse_sleep_hours, text)
    if hours is not None:
        assert isinstance(hours, float)
        assert 0 <= hours <= MAX_SLEEP_HOURS
        assert (hours * 4).is_integer()
    litres = _or_none(parse_water_litres, text)
    if litres is not None:
        assert isinstance(litres, float)
        assert 0 <= litres <= MAX_WATER_LITRES
        assert abs(litres * 20 - round(litres * 20)) < 1e-9
    caffeine = _or_none(parse_caffeine, text)
    if caffeine is not None:
        assert isinstance(caffeine, Caffeine)
        assert isinstance(caffeine.mg, int)
        assert 0 <= caffeine.mg <= MAX_CAFFEINE_MG
        assert caffeine.servings is None or 0 <= caffeine.servings <= MAX_SERVINGS
    locations = _or_none(parse_locations, text)
    if locations is not None:
        assert isinstance(locations, frozenset)
        assert locations
        assert all(isinstance(location, Location) for location in locations)
    severity = _or_none(parse_severity, text)
    assert severity is None or isinstance(severity, Severity)


@given(st.text(min_size=MAX_TEXT_LENGTH + 1, max_size=2000).filter(lambda t: len(t.strip()) > 200))
def test_long_text_is_too_long_for_every_parser(text: str) -> None:
    for parser in PARSERS.values():
        assert reason_of(parser, text) == "too_long"


@given(st.integers(min_value=1, max_value=10**6))
def test_negative_numbers_are_never_accepted(number: int) -> None:
    for parser in (parse_sleep_hours, parse_caffeine, parse_water_litres, parse_severity):
        assert reason_of(parser, f"-{number}") == "out_of_range"


@given(
    st.sampled_from(["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "０１２３４５６７８９"]),
    st.integers(0, 10),
)
def test_unicode_digits_read_like_ascii(digits: str, litres: int) -> None:
    localised = "".join(digits[int(character)] for character in str(litres))
    assert parse_water_litres(f"{localised} l") == parse_water_litres(f"{litres} l")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("8", 8), ("26", 26), ("٣", 3), ("123456", 123456)],
)
def test_whole_numbers(text: str, expected: int) -> None:
    assert parse_whole_number(text) == expected


@pytest.mark.parametrize(
    "text", ["", "²", "³²", "1²", "⁴", "①", "-1", "+2", " 2", "2.0", "1_000", "1234567"]
)
def test_not_whole_numbers_are_none_never_an_error(text: str) -> None:
    assert parse_whole_number(text) is None


@given(st.text(max_size=8))
def test_whole_number_never_raises(text: str) -> None:
    result = parse_whole_number(text)
    assert result is None or result >= 0
