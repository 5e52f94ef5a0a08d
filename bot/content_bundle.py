"""The loaded content folder, validated once at start-up and shared by every service."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.contentpack import ContentPack, load_pack
from bot.domain.ask import QuestionIndex
from bot.domain.conversation import QuestionBook, load_questions
from bot.domain.triage import RedFlagCatalog, load_catalog
from bot.domain.triage_opinion import Scorer, Thresholds
from bot.texts import Texts, load_texts, message_files
from bot.triage_model import opinion_for


@dataclass(frozen=True)
class ContentBundle:
    """Questions, messages, snippets and rules, red flags (rules and the learned opinion),
    and the question index."""

    questions: QuestionBook
    texts: Texts
    pack: ContentPack
    catalog: RedFlagCatalog
    index: QuestionIndex
    # The learned red-flag opinion (None: rules only) and how it combines with the rules.
    opinion: Scorer | None = field(default=None, compare=False)
    thresholds: Thresholds = field(default_factory=Thresholds)


def load_bundle(folder: Path, *, corpus_dir: Path | None = None) -> ContentBundle:
    """Everything under content/; a broken pack stops start-up with its problems listed.
    The red-flag model's corpus is read from `corpus_dir` (default: the folder itself)."""
    pack = load_pack(folder)
    catalog = load_catalog(folder / "redflags.yaml")
    return ContentBundle(
        questions=load_questions(folder / "questions.yaml"),
        texts=load_texts(message_files(folder)),
        pack=pack,
        catalog=catalog,
        index=QuestionIndex(pack),
        opinion=opinion_for(corpus_dir or folder, catalog),
    )
