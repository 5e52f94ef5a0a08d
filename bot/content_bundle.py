"""The loaded content folder, validated once at start-up and shared by every service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.contentpack import ContentPack, load_pack
from bot.domain.ask import QuestionIndex
from bot.domain.conversation import QuestionBook, load_questions
from bot.domain.triage import RedFlagCatalog, load_catalog
from bot.texts import Texts, load_texts, message_files


@dataclass(frozen=True)
class ContentBundle:
    """Questions, messages, snippets and rules, red flags, and the question index."""

    questions: QuestionBook
    texts: Texts
    pack: ContentPack
    catalog: RedFlagCatalog
    index: QuestionIndex


def load_bundle(folder: Path) -> ContentBundle:
    """Everything under content/; a broken pack stops start-up with its problems listed."""
    pack = load_pack(folder)
    return ContentBundle(
        questions=load_questions(folder / "questions.yaml"),
        texts=load_texts(message_files(folder)),
        pack=pack,
        catalog=load_catalog(folder / "redflags.yaml"),
        index=QuestionIndex(pack),
    )
