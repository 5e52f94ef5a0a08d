"""Blind rounds: the latest round's current figures beside its recorded first-run score.

A round is written by someone who has not seen the rules, the model or the corpus, scored
once with ``python -m benchmarks.triage_blind`` (that score is kept in the file as
``first_run``), and only then used for tuning. The current figures print in every test
run's measurements section; targets are asserted on the first run only in README, never here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import triage_blind
from bot.content_bundle import ContentBundle, load_bundle
from bot.paths import CONTENT_DIR

ROUNDS_DIR = Path(__file__).with_name("blind_rounds")


def latest_round() -> Path:
    numbered = [
        (int(match.group(1)), path)
        for path in ROUNDS_DIR.glob("round*.yaml")
        if (match := re.fullmatch(r"round(\d+)\.yaml", path.name))
    ]
    return max(numbered)[1]


@pytest.fixture(scope="module")
def bundle() -> ContentBundle:
    return load_bundle(CONTENT_DIR)


def test_latest_round_figures_are_measured(
    bundle: ContentBundle, measurement: Callable[[str], None]
) -> None:
    path = latest_round()
    blind = triage_blind.load_round(path)
    assert blind.cases and blind.first_run, "a scored round records its first run"
    decide = triage_blind.bot_decider(bundle)
    score = triage_blind.score_decisions((case.label, decide(case.text)) for case in blind.cases)
    measurement(f"blind {path.stem} now: {score.line('triage')}")
    if blind.questions:
        results = triage_blind.answer_questions(bundle, blind.questions)
        answered = sum(result.top_snippet is not None for result in results)
        measurement(f"blind {path.stem} now: questions answered {answered}/{len(results)}")
    first = ", ".join(f"{key} {value}" for key, value in blind.first_run.items())
    measurement(f"blind {path.stem} first run (recorded): {first}")
    assert set(score.total) == set(triage_blind.LABELS)


def test_scorer_prints_figures_questions_and_snippet_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    round_file = tmp_path / "round99.yaml"
    round_file.write_text(
        """
first_run: {emergency_recall: 0.5}
cases:
  - {label: emergency, tags: [bystander], text: my dad collapsed and is not responding}
  - {label: emergency, tags: [], text: "i cannot breathe"}
  - {label: consult, tags: [], text: my foot feels numb}
  - {label: benign, tags: [idiom], text: the shelf collapsed}
  - {label: benign, tags: [], text: slept 7 hours}
questions:
  - {text: "what foods have magnesium?", expect: magnesium foods}
  - {text: "who won the match yesterday?", expect: nothing}
""",
        encoding="utf-8",
    )
    assert triage_blind.main([str(round_file)]) == 0
    out = capsys.readouterr().out
    assert "emergency 2/2 = 100.0%" in out
    assert "consult 1/1 = 100.0%" in out
    assert "benign flagged 0/2 = 0.0%" in out
    assert "asked emergency 0, consult 0, benign 0" in out
    assert "questions answered from the content: 1/2" in out
    assert "— (not sure)" in out and "who won the match" in out
    assert re.search(r"magnesium\w*\s+what foods have magnesium", out)
    assert "first run (recorded)" in out


def test_unknown_labels_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "round1.yaml"
    bad.write_text("cases:\n  - {label: urgent, text: help}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown label"):
        triage_blind.load_round(bad)
