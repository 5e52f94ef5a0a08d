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


def fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file under `folder` with its modification time and size: what a reload would read."""
    return tuple(
        (str(path.relative_to(folder)), stat.st_mtime_ns, stat.st_size)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (stat := path.stat())
    )


_LOADED: dict[tuple[object, ...], ContentBundle] = {}
# Uploads are checked in folders of their own; keep only the last few bundles.
_KEEP_LOADED = 4


def load_bundle(folder: Path, *, corpus_dir: Path | None = None) -> ContentBundle:
    """Everything under content/; a broken pack stops start-up with its problems listed.
    The red-flag model's corpus is read from `corpus_dir` (default: the folder itself).

    Parsing and checking the pack takes seconds of CPU; a process that builds several
    applications from the same unchanged folder (tests, benchmarks, the content check of an
    upload against the shipped corpus) gets the bundle it already loaded. A bundle is never
    changed after it is built, so sharing it is safe; any changed file means a fresh load."""
    corpus = corpus_dir or folder
    key = (folder.resolve(), corpus.resolve(), fingerprint(folder), fingerprint(corpus))
    bundle = _LOADED.pop(key, None) or _read_bundle(folder, corpus)
    _LOADED[key] = bundle
    while len(_LOADED) > _KEEP_LOADED:
        del _LOADED[next(iter(_LOADED))]
    return bundle


def _read_bundle(folder: Path, corpus_dir: Path) -> ContentBundle:
    pack = load_pack(folder)
    catalog = load_catalog(folder / "redflags.yaml")
    return ContentBundle(
        questions=load_questions(folder / "questions.yaml"),
        texts=load_texts(message_files(folder)),
        pack=pack,
        catalog=catalog,
        index=QuestionIndex(pack),
        opinion=opinion_for(corpus_dir, catalog),
    )
