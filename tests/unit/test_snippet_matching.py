"""Which snippets follow a check-in: rules, priorities, weekly no-repeat, calm-day rotation."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.contentpack import Article, ContentPack, Snippet, load_pack
from bot.domain.checkin import MG_PER_COFFEE, Caffeine, CheckinAnswers, Severity
from bot.domain.snippets import (
    REPEAT_WINDOW_DAYS,
    DayAnswers,
    MatchContext,
    SnippetChoice,
    choose_snippets,
    render_snippet,
    rule_matches,
    twitching_days_running,
)
from bot.paths import CONTENT_DIR

DAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def pack() -> ContentPack:
    return load_pack(CONTENT_DIR)


def answers(
    *,
    severity: Severity = Severity.MILD,
    sleep: float = 8.0,
    caffeine_mg: int = 95,
    water: float = 2.0,
) -> CheckinAnswers:
    return CheckinAnswers(
        severity=severity,
        sleep_hours=sleep,
        caffeine=Caffeine(mg=caffeine_mg),
        water_litres=water,
    )


CALM = answers(severity=Severity.NONE)


def context(
    today: CheckinAnswers,
    *,
    day: date = DAY,
    recent: tuple[DayAnswers, ...] = (),
    mentions: frozenset[str] = frozenset(),
    shown: dict[str, date] | None = None,
) -> MatchContext:
    return MatchContext(
        today=today, day=day, recent_days=recent, mentions=mentions, shown_recently=shown or {}
    )


def ids(choices: list[SnippetChoice]) -> list[str]:
    return [choice.snippet.id for choice in choices]


def rules(choices: list[SnippetChoice]) -> list[str | None]:
    return [choice.rule_id for choice in choices]


def history(*severities: Severity, until: date = DAY) -> tuple[DayAnswers, ...]:
    """Previous days, newest first: severities[0] is yesterday."""
    return tuple(
        DayAnswers(until - timedelta(days=offset), answers(severity=severity))
        for offset, severity in enumerate(severities, start=1)
    )


# --- The key case ---------------------------------------------------------------------------

FOUR_COFFEES = CheckinAnswers(
    severity=Severity.MILD,
    sleep_hours=5.0,
    caffeine=Caffeine(mg=4 * MG_PER_COFFEE, servings=4),
    water_litres=0.5,
)


def test_little_water_four_coffees_short_night_top_two(pack: ContentPack) -> None:
    chosen = choose_snippets(pack, context(FOUR_COFFEES), limit=2)
    assert rules(chosen) == ["low_water", "much_caffeine"]
    assert ids(chosen) == ["hydration_basics", "caffeine_stimulant"]


def test_little_water_four_coffees_short_night_all_three(pack: ContentPack) -> None:
    chosen = choose_snippets(pack, context(FOUR_COFFEES), limit=3)
    assert rules(chosen) == ["low_water", "much_caffeine", "short_sleep"]
    assert ids(chosen) == ["hydration_basics", "caffeine_stimulant", "sleep_and_nerves"]


def test_four_coffees_count_as_a_lot(pack: ContentPack) -> None:
    chosen = choose_snippets(pack, context(answers(caffeine_mg=4 * MG_PER_COFFEE)))
    assert rules(chosen) == ["much_caffeine"]


@pytest.mark.parametrize(
    ("today", "rule_id", "expected"),
    [
        (answers(water=1.49), "low_water", True),
        (answers(water=1.5), "low_water", False),
        (answers(caffeine_mg=300), "much_caffeine", True),
        (answers(caffeine_mg=299), "much_caffeine", False),
        (answers(sleep=6.9), "short_sleep", True),
        (answers(sleep=7.0), "short_sleep", False),
        (answers(severity=Severity.MODERATE), "twitching_moderate", True),
        (answers(severity=Severity.SEVERE), "twitching_moderate", True),
        (answers(severity=Severity.MILD), "twitching_moderate", False),
    ],
)
def test_thresholds_are_inclusive_where_documented(
    pack: ContentPack, today: CheckinAnswers, rule_id: str, expected: bool
) -> None:
    rule = next(r for r in pack.rules if r.id == rule_id)
    assert rule_matches(rule, context(today)) is expected


def test_each_snippet_shows_its_source(pack: ContentPack) -> None:
    for choice in choose_snippets(pack, context(FOUR_COFFEES), limit=3):
        rendered = render_snippet(choice.snippet)
        assert f"Source: <i>{choice.snippet.source.title}</i>" in rendered
        assert f"({choice.snippet.source.file})" in rendered


# --- No repeats within a week ---------------------------------------------------------------


def test_seen_this_week_is_skipped_for_the_next_alternative(pack: ContentPack) -> None:
    shown = {"hydration_basics": DAY - timedelta(days=2)}
    chosen = choose_snippets(pack, context(answers(water=0.5), shown=shown))
    assert ids(chosen) == ["electrolytes_sodium"]


def test_seen_eight_days_ago_may_come_back(pack: ContentPack) -> None:
    shown = {"hydration_basics": DAY - timedelta(days=REPEAT_WINDOW_DAYS)}
    chosen = choose_snippets(pack, context(answers(water=0.5), shown=shown))
    assert ids(chosen) == ["hydration_basics"]


def test_all_alternatives_seen_gives_the_least_recently_shown(pack: ContentPack) -> None:
    shown = {
        "hydration_basics": DAY - timedelta(days=1),
        "electrolytes_sodium": DAY - timedelta(days=5),
        "water_habit": DAY - timedelta(days=3),
    }
    chosen = choose_snippets(pack, context(answers(water=0.5), shown=shown))
    assert ids(chosen) == ["electrolytes_sodium"]
    assert rules(chosen) == ["low_water"]


def test_a_fresh_snippet_from_another_rule_beats_a_repeat(pack: ContentPack) -> None:
    shown = {s: DAY - timedelta(days=1) for s in ("hydration_basics", "electrolytes_sodium")}
    shown["water_habit"] = DAY - timedelta(days=2)
    today = answers(water=0.5, caffeine_mg=400)
    assert ids(choose_snippets(pack, context(today, shown=shown), limit=1)) == [
        "caffeine_stimulant"
    ]
    # With room for two, the repeat fills the second slot, after the fresh one.
    assert ids(choose_snippets(pack, context(today, shown=shown), limit=2)) == [
        "caffeine_stimulant",
        "water_habit",
    ]


def test_same_answers_every_day_do_not_repeat_within_a_week(pack: ContentPack) -> None:
    """Low water, much caffeine and short sleep daily: 7 snippets in rotation, no weekly repeat
    while the rules still have unseen alternatives."""
    today = FOUR_COFFEES
    shown: dict[str, date] = {}
    per_day: list[list[str]] = []
    for offset in range(3):
        day = DAY + timedelta(days=offset)
        chosen = ids(choose_snippets(pack, context(today, day=day, shown=shown), limit=3))
        per_day.append(chosen)
        shown.update(dict.fromkeys(chosen, day))
    flat = [snippet_id for day in per_day for snippet_id in day]
    # low_water has 3 snippets, much_caffeine 3, short_sleep 2 (one shared with much_caffeine).
    assert len(set(flat[:6])) == 6
    assert per_day[0] == ["hydration_basics", "caffeine_stimulant", "sleep_and_nerves"]
    assert per_day[1] == ["electrolytes_sodium", "caffeine_easing_off", "sleep_routine"]


# --- Calm days ------------------------------------------------------------------------------


def test_calm_day_gets_one_general_tip(pack: ContentPack) -> None:
    chosen = choose_snippets(pack, context(CALM))
    assert len(chosen) == 1
    assert chosen[0].rule_id is None
    assert chosen[0].snippet.general


def test_calm_days_rotate_even_without_recorded_history(pack: ContentPack) -> None:
    tips = [
        ids(choose_snippets(pack, context(CALM, day=DAY + timedelta(days=n))))[0] for n in range(4)
    ]
    assert all(a != b for a, b in pairwise(tips))


def test_calm_days_cycle_through_every_tip_before_repeating(pack: ContentPack) -> None:
    shown: dict[str, date] = {}
    seen: list[str] = []
    tip_count = len(pack.general_tips())
    for n in range(tip_count):
        day = DAY + timedelta(days=n)
        tip = ids(choose_snippets(pack, context(CALM, day=day, shown=shown)))[0]
        seen.append(tip)
        shown[tip] = day
    assert len(set(seen)) == tip_count


# --- History and mentions -------------------------------------------------------------------


def test_days_running_counts_consecutive_days_including_today() -> None:
    ctx = context(answers(), recent=history(Severity.MILD, Severity.SEVERE, Severity.NONE))
    assert twitching_days_running(ctx) == 3


def test_days_running_breaks_on_a_gap() -> None:
    recent = (
        DayAnswers(DAY - timedelta(days=1), answers()),
        DayAnswers(DAY - timedelta(days=3), answers()),
    )
    assert twitching_days_running(context(answers(), recent=recent)) == 2


def test_days_running_is_zero_without_twitching_today() -> None:
    assert twitching_days_running(context(CALM, recent=history(Severity.SEVERE))) == 0


def test_days_running_ignores_today_and_duplicates_in_history() -> None:
    recent = (
        DayAnswers(DAY, answers()),
        DayAnswers(DAY - timedelta(days=1), answers()),
        DayAnswers(DAY - timedelta(days=1), answers()),
        DayAnswers(DAY - timedelta(days=2), answers()),
    )
    assert twitching_days_running(context(answers(), recent=recent)) == 3


def test_three_days_running_suggests_the_nutritional_side(pack: ContentPack) -> None:
    chosen = choose_snippets(pack, context(answers(), recent=history(Severity.MILD, Severity.MILD)))
    assert rules(chosen) == ["twitching_several_days"]


def test_a_week_running_offers_when_to_see_a_doctor_first(pack: ContentPack) -> None:
    ctx = context(answers(severity=Severity.MODERATE), recent=history(*[Severity.MILD] * 6))
    chosen = choose_snippets(pack, ctx)
    assert rules(chosen) == ["twitching_a_week_running", "twitching_several_days"]
    assert ids(chosen)[0] == "when_to_see_doctor"


def test_cramps_in_own_words_bring_the_cramp_snippet(pack: ContentPack) -> None:
    chosen = choose_snippets(pack, context(CALM, mentions=frozenset({"cramps"})))
    assert ids(chosen) == ["twitch_vs_cramp"]


def test_moderate_twitching_alone(pack: ContentPack) -> None:
    chosen = choose_snippets(pack, context(answers(severity=Severity.MODERATE)))
    assert rules(chosen) == ["twitching_moderate"]
    assert ids(chosen) == ["anxiety_loop"]


def test_snippets_shared_by_two_rules_are_not_shown_twice(pack: ContentPack) -> None:
    # cramps_mentioned and twitching_several_days both list magnesium_relaxation.
    ctx = context(
        answers(),
        recent=history(Severity.MILD, Severity.MILD),
        mentions=frozenset({"cramps"}),
        shown={"twitch_vs_cramp": DAY, "cramps_electrolytes": DAY},
    )
    chosen = ids(choose_snippets(pack, ctx, limit=2))
    assert chosen == ["magnesium_relaxation", "diet_before_supplements"]


def test_limit_zero_and_determinism(pack: ContentPack) -> None:
    assert choose_snippets(pack, context(FOUR_COFFEES), limit=0) == []
    first = choose_snippets(pack, context(FOUR_COFFEES, shown={"hydration_basics": DAY}))
    again = choose_snippets(pack, context(FOUR_COFFEES, shown={"hydration_basics": DAY}))
    assert first == again


# --- Properties over many check-ins ---------------------------------------------------------

severities = st.sampled_from(list(Severity))
day_answers = st.builds(
    answers,
    severity=severities,
    sleep=st.floats(min_value=0, max_value=12, allow_nan=False),
    caffeine_mg=st.integers(min_value=0, max_value=900),
    water=st.floats(min_value=0, max_value=4, allow_nan=False),
)


@settings(max_examples=150, deadline=None)
@given(
    today=day_answers,
    past=st.lists(severities, max_size=14),
    mentions=st.frozensets(st.sampled_from(["cramps", "stress", "exercise", "medicines"])),
    shown_days=st.dictionaries(
        st.sampled_from(
            ["hydration_basics", "caffeine_stimulant", "sleep_and_nerves", "anxiety_loop"]
        ),
        st.integers(min_value=0, max_value=20),
    ),
    limit=st.integers(min_value=1, max_value=3),
)
def test_choice_invariants(
    pack: ContentPack,
    today: CheckinAnswers,
    past: list[Severity],
    mentions: frozenset[str],
    shown_days: dict[str, int],
    limit: int,
) -> None:
    shown = {snippet_id: DAY - timedelta(days=n) for snippet_id, n in shown_days.items()}
    ctx = context(today, recent=history(*past), mentions=mentions, shown=shown)
    chosen = choose_snippets(pack, ctx, limit=limit)
    matching = [rule for rule in pack.rules if rule_matches(rule, ctx)]
    assert 1 <= len(chosen) <= limit
    assert len(set(ids(chosen))) == len(chosen)
    if matching:
        by_id = {rule.id: rule for rule in matching}
        for choice in chosen:
            assert choice.rule_id in by_id
            assert choice.snippet.id in by_id[choice.rule_id].snippets
        assert len(chosen) <= min(limit, len(matching))
    else:
        assert len(chosen) == 1 and chosen[0].rule_id is None and chosen[0].snippet.general


# --- Rendering ------------------------------------------------------------------------------


def test_render_escapes_html_and_shows_every_part() -> None:
    snippet = Snippet(
        id="demo",
        topics=("magnesium",),
        title="Mg <b>& you",
        body="Less than 5 < 6",
        try_this="Eat <nuts>",
        source=Article(id="a", title="Title & more", file="000_ab.txt"),
    )
    rendered = render_snippet(snippet)
    assert rendered.startswith("<b>Mg &lt;b&gt;&amp; you</b>")
    assert "Less than 5 &lt; 6" in rendered
    assert "<b>Try this:</b> Eat &lt;nuts&gt;" in rendered
    assert rendered.endswith("Source: <i>Title &amp; more</i> (000_ab.txt)")


def test_render_without_try_this() -> None:
    snippet = Snippet(
        id="demo",
        topics=("magnesium",),
        title="T",
        body="B",
        try_this=None,
        source=Article(id="a", title="S", file="000_ab.txt"),
    )
    assert "Try this" not in render_snippet(snippet)
