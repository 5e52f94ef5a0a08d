"""Plain-word questions: ranking accuracy, refusals, spotting questions and topics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.contentpack import ContentPack, load_pack
from bot.domain.ask import (
    MIN_SCORE,
    QuestionIndex,
    Reading,
    looks_like_question,
    normalise,
    read_message,
    topics_mentioned,
)
from bot.paths import CONTENT_DIR

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).with_name("ask_cases.yaml")).read_text(encoding="utf-8")
)
TOP1_REQUIRED = 0.75
TOP3_REQUIRED = 0.9


@pytest.fixture(scope="module")
def pack() -> ContentPack:
    return load_pack(CONTENT_DIR)


@pytest.fixture(scope="module")
def index(pack: ContentPack) -> QuestionIndex:
    return QuestionIndex(pack)


def _accuracy(index: QuestionIndex, cases: list[dict[str, str]]) -> tuple[float, float, list[str]]:
    """Top-1 and top-3 topic accuracy; an unanswered question counts as a miss."""
    top1 = top3 = 0
    misses = []
    for case in cases:
        answered = index.ask(case["question"]) is not None
        ranked = [snippet for snippet, _ in index.ranked(case["question"])[:3]] if answered else []
        hit1 = bool(ranked) and case["topic"] in ranked[0].topics
        hit3 = any(case["topic"] in snippet.topics for snippet in ranked)
        top1 += hit1
        top3 += hit3
        if not hit1:
            best = ranked[0].id if ranked else "no answer"
            misses.append(f"{case['question']!r}: expected {case['topic']}, got {best}")
    return top1 / len(cases), top3 / len(cases), misses


def test_question_set_is_large_enough(pack: ContentPack) -> None:
    cases = CASES["tuned"] + CASES["held_out"]
    assert len(cases) >= 40
    topic_ids = {topic.id for topic in pack.topics}
    assert {case["topic"] for case in cases} <= topic_ids
    # Every topic except the calm-day collection is asked about at least once.
    assert topic_ids - {case["topic"] for case in cases} == {"everyday"}


def test_ranking_accuracy(index: QuestionIndex, measurement: Callable[[str], None]) -> None:
    results = {}
    for name in ("tuned", "held_out"):
        results[name] = _accuracy(index, CASES[name])
    everything = _accuracy(index, CASES["tuned"] + CASES["held_out"])
    for name, (top1, top3, misses) in [*results.items(), ("all", everything)]:
        count = len(CASES[name]) if name != "all" else len(CASES["tuned"]) + len(CASES["held_out"])
        line = f"ask accuracy [{name}, {count} questions]: top-1 {top1:.1%}, top-3 {top3:.1%}"
        print(f"\n{line}")
        measurement(line)
        for miss in misses:
            print(f"  top-1 miss: {miss}")
    top1, top3, _ = everything
    assert top3 >= TOP3_REQUIRED
    assert top1 >= TOP1_REQUIRED
    held_top1, held_top3, _ = results["held_out"]
    assert held_top3 >= TOP3_REQUIRED
    assert held_top1 >= TOP1_REQUIRED


@pytest.mark.parametrize("question", CASES["out_of_scope"])
def test_out_of_scope_questions_get_no_answer(index: QuestionIndex, question: str) -> None:
    assert index.ask(question) is None


def test_answers_are_limited_and_scored(index: QuestionIndex) -> None:
    answer = index.ask("what foods have magnesium?")
    assert answer is not None
    assert answer.snippets[0].id == "magnesium_foods"
    assert 1 <= len(answer.snippets) <= 2
    assert answer.score >= MIN_SCORE
    single = index.ask("what foods have magnesium?", limit=1)
    assert single is not None and len(single.snippets) == 1
    assert index.ask("what foods have magnesium?", limit=0) is None


def test_empty_or_stopword_only_question_gets_no_answer(index: QuestionIndex) -> None:
    assert index.ask("") is None
    assert index.ask("what is it?") is None


def test_the_index_follows_the_pack_it_was_built_from(pack: ContentPack) -> None:
    """Answers come from the pack's text, not from a fixed list: drop the foods snippet and
    the magnesium-foods question lands on the next best magnesium snippet."""
    smaller = pack.model_copy(
        update={"snippets": tuple(s for s in pack.snippets if s.id != "magnesium_foods")}
    )
    answer = QuestionIndex(smaller).ask("what foods have magnesium?")
    assert answer is not None
    assert answer.snippets[0].id != "magnesium_foods"
    assert "magnesium" in answer.snippets[0].topics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what foods have magnesium?", True),
        ("can dehydration cause twitching", True),
        ("is coffee bad for me", True),
        ("Why do my calves twitch at night", True),
        ("tell me about vitamin D", True),
        ("magnesium?", False),  # a single word with a question mark is too little to go on
        ("magnesium foods?", True),
        ("thanks", False),
        ("ok", False),
        ("6 hours", False),
        ("2 coffees", False),
        ("1.5 l", False),
        ("I slept badly", False),
        ("/learn", False),
        ("is", False),
        ("", False),
    ],
)
def test_looks_like_question(text: str, expected: bool) -> None:
    assert looks_like_question(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my calves cramp at night", {"cramps"}),
        ("Cramping in my feet after the gym", {"cramps", "exercise"}),
        ("no cramps today", set()),
        ("didn't have any cramps, but I'm stressed", {"stress"}),
        ("work has been so stressful", {"stress"}),
        ("started new meds last week", {"medicines"}),
        ("had a few beers and a cigarette", {"stimulants"}),
        ("went running this morning", {"exercise"}),
        ("couldn't sleep, exhausted", {"sleep"}),
        ("felt dehydrated, sweating a lot", {"hydration"}),
        ("just my eyelid", set()),
    ],
)
def test_topics_mentioned(text: str, expected: set[str]) -> None:
    assert topics_mentioned(text) == frozenset(expected)


def test_mentioned_topics_exist_in_the_pack(pack: ContentPack) -> None:
    text = "cramps stress gym meds smoking slept badly dehydrated after the workout and anxious"
    assert topics_mentioned(text) <= {topic.id for topic in pack.topics}
    rule_mentions = {rule.when.mention for rule in pack.rules if rule.when.mention}
    assert rule_mentions <= topics_mentioned(text)


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("Is COFFEE bad?", {"caffeine", "coffee"}, {"is", "bad"}),
        ("can dehydration cause twitching", {"water", "hydration", "twitch"}, {"cause"}),
        ("300 mg of caffeine", {"300", "caffeine"}, {"magnesium"}),
        ("Mg and cramps", {"magnesium", "cramp"}, {"mg"}),
        ("vitamin B-12 and vit D", {"b12", "vitamin", "d"}, set()),
    ],
)
def test_normalise(index: QuestionIndex, text: str, present: set[str], absent: set[str]) -> None:
    tokens = set(index.tokens(text))
    stemmed_present = {normalise(word)[0] for word in present}
    assert stemmed_present <= tokens
    assert not (absent & tokens)


@pytest.mark.parametrize(
    ("text", "means"),
    [
        ("is a latte ok", {"caffeine", "coffee"}),
        ("so knackered lately", {"tired", "sleep"}),
        ("pins and needles in my toes", {"tingling", "numbness"}),
        ("fizzy drinks", {"caffeine", "cola"}),
        ("an energy drink a day", {"caffeine"}),
        ("calf spasms", {"cramp"}),
        ("random jerks", {"twitch"}),
        ("eyelid jumping", {"twitch"}),
        ("Lattes and cappuccinos", {"caffeine"}),
        ("worried about MND", {"als", "motor", "worry", "anxiety"}),
        ("few pints", {"alcohol"}),
    ],
)
def test_everyday_words_count_as_the_packs_words(
    index: QuestionIndex, text: str, means: set[str]
) -> None:
    """The synonym table in content/synonyms.yaml widens questions ("a latte" is coffee)."""
    tokens = set(index.tokens(text))
    assert {normalise(word)[0] for word in means} <= tokens
    assert not ({normalise(word)[0] for word in means} <= set(normalise(text)))


def test_the_synonym_table_comes_from_the_pack(pack: ContentPack) -> None:
    """Without the pack's table the same question does not reach the caffeine words."""
    bare = QuestionIndex(pack.model_copy(update={"synonyms": ()}))
    assert normalise("caffeine")[0] not in bare.tokens("a flat white every morning")
    assert normalise("caffeine")[0] in QuestionIndex(pack).tokens("a flat white every morning")


def _answered_top1(index: QuestionIndex, cases: list[dict[str, str]]) -> tuple[float, list[str]]:
    """Share of messages that get an answer whose first snippet has the expected topic,
    routed the way the bot routes a free message (`QuestionIndex.reply`)."""
    hits, misses = 0, []
    for case in cases:
        answer = index.reply(case["question"]).answer
        if answer is not None and case["topic"] in answer.snippets[0].topics:
            hits += 1
        else:
            got = answer.snippets[0].id if answer else "no answer"
            misses.append(f"{case['question']!r}: expected {case['topic']}, got {got}")
    return hits / len(cases), misses


@pytest.mark.parametrize(("split", "required"), [("everyday", 0.9), ("everyday_held_out", 0.8)])
def test_everyday_questions_without_a_question_mark(
    index: QuestionIndex, measurement: Callable[[str], None], split: str, required: float
) -> None:
    cases = CASES[split]
    assert len(cases) >= 20
    assert not any("?" in case["question"] for case in cases)
    top1, misses = _answered_top1(index, cases)
    line = (
        f"ask no question mark, everyday words [{split}, {len(cases)} questions]: top-1 {top1:.1%}"
    )
    print(f"\n{line}")
    measurement(line)
    for miss in misses:
        print(f"  top-1 miss: {miss}")
    assert top1 >= required


@pytest.mark.parametrize("text", CASES["not_questions"])
def test_plain_non_questions_get_the_pointer_not_a_snippet(index: QuestionIndex, text: str) -> None:
    reply = index.reply(text)
    assert reply.answer is None
    assert reply.reading is not Reading.QUESTION


@pytest.mark.parametrize("text", CASES["out_of_scope_plain"])
def test_plain_out_of_scope_requests_get_no_answer(index: QuestionIndex, text: str) -> None:
    assert index.reply(text).answer is None


@pytest.mark.parametrize(
    "text",
    [
        "Do I have ALS?",
        "do i have als",
        "is this motor neurone disease",
        "als scared",
        "mnd worry twitching",
        "could these twitches be MND?",
        "im terrified its als",
        "is it BFS or ALS",
    ],
)
def test_fear_of_als_gets_the_calm_sourced_snippet(index: QuestionIndex, text: str) -> None:
    answer = index.reply(text).answer
    assert answer is not None
    first = answer.snippets[0]
    assert first.id == "fear_of_als"
    body = first.body.casefold()
    assert "seizure" not in body
    assert "benign" in body and "weakness that keeps getting worse" in body
    assert first.source.file and any(g.publisher.startswith("NHS") for g in first.guidance)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("which foods got magnesium", Reading.QUESTION),
        ("b12 stuff pls", Reading.QUESTION),
        ("can stress do this to your muscles or nah", Reading.QUESTION),
        ("eyelid jumping all week whats that about", Reading.QUESTION),
        ("sweating loads do i need electrolytes", Reading.QUESTION),
        ("loads of people get twitches right", Reading.QUESTION),
        ("booze and twitching", Reading.MAYBE),
        ("vitamin d in winter", Reading.MAYBE),
        ("anxiety making my muscles jump", Reading.MAYBE),
        ("I slept badly", Reading.NOT_A_QUESTION),
        ("2 coffees", Reading.NOT_A_QUESTION),
        ("7.5", Reading.NOT_A_QUESTION),
        ("mild", Reading.NOT_A_QUESTION),
        ("yes", Reading.NOT_A_QUESTION),
        ("/learn", Reading.NOT_A_QUESTION),
        ("", Reading.NOT_A_QUESTION),
        ("is 3 coffees too much", Reading.QUESTION),
    ],
)
def test_read_message(text: str, expected: Reading) -> None:
    assert read_message(text) is expected


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("magnesium for twitches", True),
        ("thyroid and twitching", True),
        ("b12 for twitching", True),
        ("eyelid twitching again", False),
        ("my calf and my thigh are twitching", False),
        ("vitamin d in winter", False),
        ("thanks", False),
    ],
)
def test_topic_phrases(index: QuestionIndex, text: str, topic: bool) -> None:
    assert index.reply(text).topic is topic


def test_topic_phrase_answered_from_a_lower_floor_or_told_there_is_no_answer(
    index: QuestionIndex,
) -> None:
    magnesium = index.reply("magnesium for twitches")
    assert magnesium.answer is not None
    assert any("magnesium" in snippet.id for snippet in magnesium.answer.snippets)
    # Nothing in the pack covers the thyroid: no snippet that merely shares "twitching".
    thyroid = index.reply("thyroid and twitching")
    assert thyroid.topic and thyroid.answer is None
