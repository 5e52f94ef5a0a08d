"""Measure red-flag triage on the labelled messages and hold it to the product's targets.

Targets (issue 4): every emergency caught as an emergency, at least 95% of consult-soon
cases caught (at either tier), at most 5% of benign messages flagged. Numbers are printed
for the whole set and for each split (in the "measurements" section of every run):
holdout = written before any rule existed, never tuned on; dev = used while tuning;
adversarial, adversarial2 = written after the rules (round 1, then after round 1's fixes) to
break them, each measured once before changing anything, then tuned on; adversarial3 = written
blind (before reading the rules or the other cases), adversarial4..6 = written blind after
the previous round's fixes, each measured once and then tuned on. First-run scores (the honest
ones) are in README "Red flags".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.content_bundle import ContentBundle, load_bundle
from bot.domain.triage import RedFlagCatalog, Tier, load_catalog, scan_text
from bot.domain.triage_opinion import triage_message
from bot.paths import CONTENT_DIR

CASES_PATH = Path(__file__).with_name("triage_cases.yaml")
LABELS = {"emergency": Tier.EMERGENCY, "consult": Tier.CONSULT, "benign": None}
MIN_CASES = 150
MIN_CONSULT_RECALL = 0.95
MAX_BENIGN_FALSE_POSITIVE_RATE = 0.05


@dataclass(frozen=True)
class Case:
    text: str
    label: str
    split: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    case: Case
    got: Tier | None


def _load_cases() -> list[Case]:
    raw = yaml.safe_load(CASES_PATH.read_text(encoding="utf-8"))["cases"]
    return [
        Case(text=c["text"], label=c["label"], split=c["split"], tags=tuple(c["tags"])) for c in raw
    ]


@pytest.fixture(scope="module")
def catalog() -> RedFlagCatalog:
    return load_catalog(CONTENT_DIR / "redflags.yaml")


@pytest.fixture(scope="module")
def outcomes(catalog: RedFlagCatalog) -> list[Outcome]:
    return [Outcome(case=case, got=scan_text(catalog, case.text).tier) for case in _load_cases()]


@dataclass(frozen=True)
class Scores:
    emergencies: int
    emergencies_caught: int
    consults: int
    consults_caught: int
    consults_exact: int
    benign: int
    benign_flagged: int

    @staticmethod
    def of(outcomes: list[Outcome]) -> Scores:
        def count(label: str, caught: Callable[[Tier | None], bool] = lambda _: True) -> int:
            return sum(1 for o in outcomes if o.case.label == label and caught(o.got))

        return Scores(
            emergencies=count("emergency"),
            emergencies_caught=count("emergency", lambda got: got is Tier.EMERGENCY),
            consults=count("consult"),
            consults_caught=count("consult", lambda got: got is not None),
            consults_exact=count("consult", lambda got: got is Tier.CONSULT),
            benign=count("benign"),
            benign_flagged=count("benign", lambda got: got is not None),
        )

    @property
    def emergency_recall(self) -> float:
        return self.emergencies_caught / self.emergencies if self.emergencies else 1.0

    @property
    def consult_recall(self) -> float:
        return self.consults_caught / self.consults if self.consults else 1.0

    @property
    def benign_false_positive_rate(self) -> float:
        return self.benign_flagged / self.benign if self.benign else 0.0

    def line(self, name: str) -> str:
        return (
            f"{name:<12} emergency recall {self.emergencies_caught:>3}/{self.emergencies:<3}"
            f" = {self.emergency_recall:6.1%} | consult recall {self.consults_caught:>3}/"
            f"{self.consults:<3} = {self.consult_recall:6.1%} (exact tier {self.consults_exact})"
            f" | benign flagged {self.benign_flagged:>2}/{self.benign:<3}"
            f" = {self.benign_false_positive_rate:5.1%}"
        )


def test_labelled_set_is_large_and_varied() -> None:
    cases = _load_cases()
    assert len(cases) >= MIN_CASES
    labels = Counter(case.label for case in cases)
    assert set(labels) == set(LABELS)
    tags = {tag for case in cases for tag in case.tags}
    for needed in ("negation", "benign_mention", "idiom", "misspelling", "duration"):
        assert needed in tags
    assert "reading_about" in tags and "question" in tags
    splits = Counter(case.split for case in cases)
    assert splits["holdout"] >= 0.25 * (splits["holdout"] + splits["dev"])
    assert len({case.text for case in cases}) == len(cases), "duplicate messages"


def test_recall_and_false_positives_meet_targets(
    outcomes: list[Outcome], measurement: Callable[[str], None]
) -> None:
    whole = Scores.of(outcomes)
    print()
    print(whole.line("whole set"))
    measurement(f"red flags: {whole.line('whole set')}")
    for split in sorted({o.case.split for o in outcomes}):
        line = Scores.of([o for o in outcomes if o.case.split == split]).line(split)
        print(line)
        measurement(f"red flags: {line}")
    misses = [o for o in outcomes if o.got is not LABELS[o.case.label]]
    for miss in misses:
        got = "benign" if miss.got is None else miss.got.name.lower()
        print(f"  mismatch [{miss.case.split}] want {miss.case.label}, got {got}: {miss.case.text}")
    assert whole.emergency_recall == 1.0
    assert whole.consult_recall >= MIN_CONSULT_RECALL
    assert whole.benign_false_positive_rate <= MAX_BENIGN_FALSE_POSITIVE_RATE


@pytest.fixture(scope="module")
def bundle() -> ContentBundle:
    return load_bundle(CONTENT_DIR)


def test_rules_with_the_learned_opinion_keep_the_labelled_set(
    bundle: ContentBundle, measurement: Callable[[str], None]
) -> None:
    """The model only adds to the rules: on this set (mostly rule-written), nothing is lost
    and no benign message is flagged; a few messages may get the uncertain-middle question."""
    decided = [
        (case, triage_message(bundle.catalog, case.text, bundle.opinion, bundle.thresholds))
        for case in _load_cases()
    ]
    outcomes = [Outcome(case=case, got=decision.tier) for case, decision in decided]
    whole = Scores.of(outcomes)
    asked = Counter(case.label for case, decision in decided if decision.check is not None)
    line = whole.line("with model")
    measurement(f"red flags: {line} | asked {dict(sorted(asked.items()))}")
    print(line, dict(asked))
    assert whole.emergency_recall == 1.0
    assert whole.consult_recall >= 0.99
    assert whole.benign_false_positive_rate == 0.0


def test_every_split_meets_targets(outcomes: list[Outcome]) -> None:
    for split in sorted({o.case.split for o in outcomes}):
        scores = Scores.of([o for o in outcomes if o.case.split == split])
        assert scores.emergency_recall == 1.0, split
        assert scores.consult_recall >= MIN_CONSULT_RECALL, split
        assert scores.benign_false_positive_rate <= MAX_BENIGN_FALSE_POSITIVE_RATE, split


def test_held_out_part_meets_targets(outcomes: list[Outcome]) -> None:
    held_out = Scores.of([o for o in outcomes if o.case.split == "holdout"])
    assert held_out.emergencies and held_out.consults and held_out.benign
    assert held_out.emergency_recall == 1.0
    assert held_out.consult_recall >= MIN_CONSULT_RECALL
    assert held_out.benign_false_positive_rate <= MAX_BENIGN_FALSE_POSITIVE_RATE
