"""A content pack as data: the YAML files of a content folder, by name.

Versions live in the database as {file name: text}; to validate or load one, the files are
written to a private temporary folder and read by exactly the loaders and checks that
`twitchcheck content check` runs on `content/`, so an upload is held to the same rules.
The learned red-flag opinion's training corpus (`content/triage_corpus/`) is not part of a
pack: it ships with the code.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from bot.content_bundle import ContentBundle, load_bundle
from bot.content_check import content_problems
from bot.contentpack import PackProblem
from bot.paths import CONTENT_DIR
from bot.texts import Texts

PackFiles = Mapping[str, str]

FIXED_FILES = frozenset(
    {
        "pack.yaml",
        "sources.yaml",
        "topics.yaml",
        "snippets.yaml",
        "rules.yaml",
        "synonyms.yaml",
        "questions.yaml",
        "redflags.yaml",
    }
)
MESSAGE_FILE = re.compile(r"^messages(_[a-z0-9]{1,32})?\.yaml$")


def is_pack_file(name: str) -> bool:
    """One of the pack's own file names (nothing else is ever written or read)."""
    return name in FIXED_FILES or MESSAGE_FILE.fullmatch(name) is not None


def read_folder(folder: Path) -> dict[str, str]:
    """The pack files of a content folder (its top level only)."""
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(folder.iterdir())
        if path.is_file() and is_pack_file(path.name)
    }


def digest(files: PackFiles) -> str:
    """Same files, same digest: an upload identical to a stored version is that version."""
    canonical = json.dumps(dict(sorted(files.items())), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@contextmanager
def materialised(files: PackFiles) -> Iterator[Path]:
    """The files in a fresh private folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="twitchcheck-pack-") as name:
        folder = Path(name)
        for file_name, text in files.items():
            if not is_pack_file(file_name):
                raise ValueError(f"not a content pack file name: {file_name!r}")
            (folder / file_name).write_text(text, encoding="utf-8")
        yield folder


def _relative(problem: PackProblem, folder: Path) -> PackProblem:
    """Problems name the file as the admin knows it, never the temporary folder."""
    prefix = f"{folder}/"
    name = problem.file.removeprefix(prefix).removeprefix(str(folder.resolve()) + "/")
    message = problem.message.replace(prefix, "").replace(str(folder.resolve()) + "/", "")
    return replace(problem, file=name, message=message)


def _fields(template: str) -> set[str]:
    """The {named} fields a message template fills in."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def message_problems(candidate: Texts, running: Texts) -> list[PackProblem]:
    """Messages the running bot sends must exist, and may only use fields it fills in.

    The bot formats its messages by key with fixed {fields}; a missing key or a new field
    would fail when the message is sent, long after publishing.
    """
    problems: list[PackProblem] = []
    for key, template in sorted(running.templates.items()):
        if key not in candidate.templates:
            problems.append(
                PackProblem("messages*.yaml", f"messages.{key}", "missing: the bot sends it")
            )
            continue
        unknown = _fields(candidate.templates[key]) - _fields(template)
        if unknown:
            names = ", ".join(f"{{{name}}}" for name in sorted(unknown))
            problems.append(
                PackProblem(
                    "messages*.yaml",
                    f"messages.{key}",
                    f"uses {names}, which the bot does not fill in here "
                    f"(it fills {', '.join(sorted(_fields(template))) or 'nothing'})",
                )
            )
    return problems


def pack_problems(files: PackFiles, *, running: Texts | None = None) -> list[PackProblem]:
    """Every problem `twitchcheck content check` reports for these files, plus the messages
    the running bot needs (when `running` is given)."""
    with materialised(files) as folder:
        problems = [_relative(problem, folder) for problem in content_problems(folder)]
        if problems or running is None:
            return problems
        return message_problems(load_bundle(folder, corpus_dir=CONTENT_DIR).texts, running)


def bundle_from_files(files: PackFiles, *, corpus_dir: Path = CONTENT_DIR) -> ContentBundle:
    """A loaded content bundle (questions, messages, snippets, red flags, index) from files;
    the learned opinion is trained from the shipped corpus (once per process)."""
    with materialised(files) as folder:
        return load_bundle(folder, corpus_dir=corpus_dir)
