"""Train the learned red-flag opinion from the labelled corpus in ``content/triage_corpus/``.

Reading the corpus (file I/O) and fitting the classifier live here, outside ``bot/domain``;
the domain only receives the fitted model as a scoring function (``triage_opinion.Scorer``).
The model is trained in-process when the content is loaded — about a second, measured in
README "Red flags" — and cached per process and corpus folder; nothing is pickled or
downloaded, so the model always matches the corpus and the installed scikit-learn.

The classifier: TF-IDF over word 1–2-grams (words inside a negation's scope marked, so "not
short of breath" differs from "short of breath") and character 2–5-grams (within words, so typos
still share most features) of the rules' normalised text, into a linear SVM with balanced
class weights whose scores are calibrated into probabilities (sigmoid, 3-fold).
Training texts are the written messages plus a few variants of each (an opener or closer
from ``variation.yaml``, a typo or two, no punctuation): people write like that, and it
teaches the model not to lean on tidy spelling.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from bot.domain.triage import RedFlagCatalog
from bot.domain.triage_opinion import Label, Opinion
from bot.domain.triage_text import Speller, normalise
from bot.yaml_strict import load_strict_yaml

CORPUS_DIRNAME = "triage_corpus"
VARIATION_FILE = "variation.yaml"
VARIANTS_PER_MESSAGE = 2
_LETTERS_WORD = re.compile(r"[a-z]{4,}")
_PUNCTUATION = re.compile(r"[.,!?;:]+")
# Negation scopes for the word features: "not short of breath" is read as "not neg_short
# neg_of neg_breath", so a negated sign does not share its words with the sign itself. Words
# of inability ("can't breathe", "won't respond") describe a sign and open no scope.
_NEGATORS = frozenset(
    (
        "no",
        "not",
        "never",
        "without",
        "nor",
        "zero",
        "none",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "don't",
        "doesn't",
        "didn't",
        "haven't",
        "hasn't",
        "hadn't",
        "nothing",
    )
)
_SCOPE_ENDS = frozenset(
    ("but", "though", "although", "except", "however", "just", "only", "and", "yet", "so")
)
_TOKEN_OR_STOP = re.compile(r"[a-z0-9']+|[.,!?;:]")


class _CorpusFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Label
    groups: dict[str, str] = Field(min_length=1)


class _VariationFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    openers: list[str] = Field(min_length=1)
    closers: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class Example:
    """One written message of the corpus: its label, and the file/group it belongs to."""

    text: str
    label: Label
    group: str


@dataclass(frozen=True)
class Variation:
    """Everyday openers and closers added to training variants."""

    openers: tuple[str, ...]
    closers: tuple[str, ...]


def load_corpus(folder: Path) -> list[Example]:
    """Every labelled message under ``folder`` (one per line of each group)."""
    examples: list[Example] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == VARIATION_FILE:
            continue
        raw = load_strict_yaml(path.read_text(encoding="utf-8"), source=str(path))
        parsed = _CorpusFile.model_validate(raw)
        for group, block in parsed.groups.items():
            for line in block.splitlines():
                if line.strip():
                    examples.append(Example(line.strip(), parsed.label, f"{path.stem}/{group}"))
    texts = [example.text.casefold() for example in examples]
    duplicates = sorted({text for text in texts if texts.count(text) > 1})
    if duplicates:
        raise ValueError(f"{folder}: messages written twice: {duplicates[:5]}")
    return examples


def load_variation(folder: Path) -> Variation:
    """Openers and closers for training variants."""
    path = folder / VARIATION_FILE
    raw = load_strict_yaml(path.read_text(encoding="utf-8"), source=str(path))
    parsed = _VariationFile.model_validate(raw)
    return Variation(openers=tuple(parsed.openers), closers=tuple(parsed.closers))


def _typo(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:at] + word[at + 1 :]  # a letter dropped
    if kind == 1:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]  # two swapped
    return word[:at] + word[at] + word[at:]  # a letter doubled


def variants(text: str, variation: Variation, count: int = VARIANTS_PER_MESSAGE) -> list[str]:
    """Deterministic everyday variants of one message (seeded by the text itself)."""
    rng = random.Random(zlib.crc32(text.encode("utf-8")))
    made: list[str] = []
    for _ in range(count):
        variant = text.casefold()
        words = _LETTERS_WORD.findall(variant)
        for word in rng.sample(words, k=min(len(words), rng.randrange(1, 3))):
            variant = variant.replace(word, _typo(word, rng), 1)
        if rng.random() < 0.5:
            variant = _PUNCTUATION.sub("", variant)
        if rng.random() < 0.5:
            variant = f"{rng.choice(variation.openers)} {variant}"
        else:
            variant = f"{variant} {rng.choice(variation.closers)}"
        made.append(variant)
    return made


def mark_negation(text: str) -> str:
    """The words inside a negation's scope (up to punctuation or a join) marked ``neg_``."""
    marked: list[str] = []
    negated = False
    for token in _TOKEN_OR_STOP.findall(text):
        if not token[0].isalnum() or token in _SCOPE_ENDS:
            negated = False
            marked.append(token)
            continue
        marked.append(f"neg_{token}" if negated else token)
        if token in _NEGATORS:
            negated = True
    return " ".join(marked)


def _pipeline(seed: int) -> Pipeline:
    words = TfidfVectorizer(
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=1,
        preprocessor=mark_negation,
        token_pattern=r"[a-z0-9_']+",
    )
    features = FeatureUnion(
        [
            ("words", words),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )
    classifier = CalibratedClassifierCV(
        LinearSVC(C=0.5, class_weight="balanced", random_state=seed), method="sigmoid", cv=3
    )
    return Pipeline([("features", features), ("classifier", classifier)])


class LearnedOpinion:
    """A fitted classifier as a scoring function: text in, :class:`Opinion` out."""

    def __init__(self, pipeline: Pipeline, speller: Speller) -> None:
        self._pipeline = pipeline
        self._speller = speller
        self._labels = [Label(str(label)) for label in pipeline.classes_]

    def __call__(self, text: str) -> Opinion:
        """The probabilities for one message."""
        [row] = self._pipeline.predict_proba([normalise(text, self._speller)])
        by_label = {label: float(p) for label, p in zip(self._labels, row, strict=True)}
        return Opinion(
            benign=by_label.get(Label.BENIGN, 0.0),
            consult=by_label.get(Label.CONSULT, 0.0),
            emergency=by_label.get(Label.EMERGENCY, 0.0),
            bystander=by_label.get(Label.BYSTANDER, 0.0),
        )


def train(
    examples: Sequence[Example],
    variation: Variation,
    speller: Speller,
    *,
    seed: int = 0,
) -> LearnedOpinion:
    """Fit the classifier on the messages and their variants."""
    texts: list[str] = []
    labels: list[str] = []
    for example in examples:
        for text in (example.text, *variants(example.text, variation)):
            texts.append(normalise(text, speller))
            labels.append(example.label.value)
    pipeline = _pipeline(seed)
    pipeline.fit(texts, labels)
    return LearnedOpinion(pipeline, speller)


def speller_of(catalog: RedFlagCatalog) -> Speller:
    """The rules' spelling correction, so the model reads text the way the rules do."""
    if catalog.text_rules is None:
        raise ValueError("the red-flag catalog has no text rules")
    return catalog.text_rules.speller


_TRAINED: dict[Path, LearnedOpinion] = {}


def opinion_for(content_dir: Path, catalog: RedFlagCatalog) -> LearnedOpinion:
    """The model for a content folder, trained once per process (about a second)."""
    folder = (content_dir / CORPUS_DIRNAME).resolve()
    if folder not in _TRAINED:
        _TRAINED[folder] = train(load_corpus(folder), load_variation(folder), speller_of(catalog))
    return _TRAINED[folder]


def labelled(examples: Iterable[Example], label: Label) -> list[Example]:
    """The examples with one label."""
    return [example for example in examples if example.label is label]
