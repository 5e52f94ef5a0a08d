"""Score a blind round: red-flag triage and plain questions on messages nobody tuned on.

    python -m benchmarks.triage_blind PATH [--rules-only] [--show-misses]

PATH is a YAML file::

    cases:      [{label: emergency|consult|benign, tags: [...], text: "..."}]
    questions:  [{text: "...", expect: "what a good answer is about"}]
    first_run:  {...}   # optional: the round's first score, recorded before any tuning

Printed: emergency recall (caught as an emergency), consult recall (caught at either tier),
benign flagged rate, how many of each label got the uncertain-middle question instead, and
for questions how many got an answer from the content (not the "I'm not sure" fallback), with
each question's top snippet id so a reader can judge relevance. The decision is the bot's:
rules plus the learned opinion (``bot.domain.triage_opinion.triage_message``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.content_bundle import ContentBundle, load_bundle
from bot.domain.triage import Tier
from bot.domain.triage_opinion import Decision, triage_message
from bot.paths import CONTENT_DIR
from bot.services.conversations import plain_answer

LABELS = ("emergency", "consult", "benign")


@dataclass(frozen=True)
class Case:
    """One labelled message."""

    text: str
    label: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Question:
    """One plain question and what a good answer is about."""

    text: str
    expect: str = ""


@dataclass(frozen=True)
class Round:
    """A blind round as read from its file."""

    cases: tuple[Case, ...]
    questions: tuple[Question, ...]
    first_run: dict[str, Any]


def load_round(path: Path) -> Round:
    """Read a round file; ValueError for an unknown label."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cases = []
    for item in raw.get("cases") or []:
        if item["label"] not in LABELS:
            raise ValueError(f"{path}: unknown label {item['label']!r}")
        cases.append(Case(str(item["text"]), item["label"], tuple(item.get("tags") or ())))
    questions = tuple(
        Question(str(item["text"]), str(item.get("expect", "")))
        for item in raw.get("questions") or []
    )
    return Round(tuple(cases), questions, dict(raw.get("first_run") or {}))


@dataclass(frozen=True)
class TriageScore:
    """Counts per label: total, caught (emergency: as an emergency; consult: either tier;
    benign: flagged at all), and how many got the uncertain-middle question."""

    total: dict[str, int]
    caught: dict[str, int]
    asked: dict[str, int]

    def rate(self, label: str) -> float:
        """Caught / total for that label (0 when there are none)."""
        return self.caught[label] / self.total[label] if self.total[label] else 0.0

    def figures(self) -> dict[str, float]:
        """The three headline figures, as fractions."""
        return {
            "emergency_recall": self.rate("emergency"),
            "consult_recall": self.rate("consult"),
            "benign_flagged": self.rate("benign"),
        }

    def line(self, name: str = "triage") -> str:
        """One line for the test run's measurements section."""
        parts = [
            f"emergency {self.caught['emergency']}/{self.total['emergency']}"
            f" = {self.rate('emergency'):.1%}",
            f"consult {self.caught['consult']}/{self.total['consult']}"
            f" = {self.rate('consult'):.1%}",
            f"benign flagged {self.caught['benign']}/{self.total['benign']}"
            f" = {self.rate('benign'):.1%}",
            "asked " + ", ".join(f"{label} {self.asked[label]}" for label in LABELS),
        ]
        return f"{name}: " + " | ".join(parts)


def caught(label: str, decision: Decision) -> bool:
    """Whether a decision counts as catching a message of that label (see TriageScore)."""
    if label == "emergency":
        return decision.tier is Tier.EMERGENCY
    return decision.tier is not None


def score_decisions(pairs: Iterable[tuple[str, Decision]]) -> TriageScore:
    """Count labelled decisions."""
    total = dict.fromkeys(LABELS, 0)
    hits = dict.fromkeys(LABELS, 0)
    asked = dict.fromkeys(LABELS, 0)
    for label, decision in pairs:
        total[label] += 1
        hits[label] += caught(label, decision)
        asked[label] += decision.check is not None
    return TriageScore(total, hits, asked)


Decide = Callable[[str], Decision]


def bot_decider(content: ContentBundle, *, rules_only: bool = False) -> Decide:
    """The bot's decision for a message: the rules and (unless rules_only) the model."""
    scorer = None if rules_only else content.opinion
    return lambda text: triage_message(content.catalog, text, scorer, content.thresholds)


@dataclass(frozen=True)
class QuestionResult:
    """Whether a question got an answer from the content, and its top snippet id."""

    question: Question
    top_snippet: str | None


def answer_questions(content: ContentBundle, questions: Sequence[Question]) -> list[QuestionResult]:
    """Each question through the bot's plain-question path."""
    results = []
    for question in questions:
        answer = plain_answer(content, question.text)
        top = answer.snippets[0].id if answer and answer.snippets else None
        results.append(QuestionResult(question, top))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Print the round's figures; exit 0 (this is a measurement, not a gate)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rules-only", action="store_true", help="without the learned opinion")
    parser.add_argument("--show-misses", action="store_true", help="print each miss")
    args = parser.parse_args(argv)
    blind = load_round(args.path)
    content = load_bundle(CONTENT_DIR)
    decide = bot_decider(content, rules_only=args.rules_only)
    decided = [(case, decide(case.text)) for case in blind.cases]
    score = score_decisions((case.label, decision) for case, decision in decided)
    print(f"{args.path}: {len(blind.cases)} cases, {len(blind.questions)} questions")
    print(score.line())
    if args.show_misses:
        for case, decision in decided:
            wrong = caught(case.label, decision) == (case.label == "benign")
            if wrong or decision.check is not None:
                got = decision.tier.name.lower() if decision.tier else "none"
                asked = f", asked {decision.check.value}" if decision.check else ""
                print(f"  want {case.label}, got {got}{asked}: {case.text}")
    if blind.questions:
        results = answer_questions(content, blind.questions)
        answered = sum(result.top_snippet is not None for result in results)
        print(f"questions answered from the content: {answered}/{len(results)}")
        for result in results:
            top = result.top_snippet or "— (not sure)"
            print(f"  {top:<28} {result.question.text}  [expect: {result.question.expect}]")
    if blind.first_run:
        print(f"first run (recorded): {blind.first_run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
