"""`twitchcheck content check PATH`: the whole content folder, every problem with its place."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import yaml
from pydantic import ValidationError

from bot.contentpack import PackProblem, check_pack, format_problems, line_of, load_pack
from bot.domain.conversation import load_questions
from bot.domain.triage import load_catalog
from bot.texts import load_texts, message_files


def _tree(file: Path) -> yaml.Node | None:
    """The file's YAML tree, for line numbers (None when it does not parse)."""
    try:
        return yaml.compose(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def _problems_of(file: Path, load: Callable[[Path], object]) -> list[PackProblem]:
    """Run one loader and turn whatever it rejects into problems naming the file."""
    if not file.exists():
        return [PackProblem(file=file.name, location="", message="file is missing")]
    try:
        load(file)
    except ValidationError as error:
        root = _tree(file)
        return [
            PackProblem(
                file=file.name,
                location=".".join(str(part) for part in item["loc"]),
                message=item["msg"],
                line=line_of(root, tuple(item["loc"])),
            )
            for item in error.errors()
        ]
    except (ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as error:
        return [PackProblem(file=file.name, location="", message=str(error))]
    return []


def content_problems(folder: Path) -> list[PackProblem]:
    """Snippets/rules/topics, questions, messages and red flags of one content folder."""
    problems = list(check_pack(folder))
    problems += _problems_of(folder / "questions.yaml", load_questions)
    problems += _problems_of(folder / "redflags.yaml", load_catalog)
    messages = message_files(folder)
    if not messages:
        problems.append(PackProblem(file="messages.yaml", location="", message="file is missing"))
    for file in messages:
        problems += _problems_of(file, lambda path: load_texts([path]))
    if messages and not problems:
        problems += _problems_of(messages[0], lambda _path: load_texts(messages))
    return problems


def check_content(path: str | Path, out: TextIO = sys.stdout) -> int:
    """Print every problem; exit code 0 only when the whole folder is valid."""
    folder = Path(path)
    if not folder.is_dir():
        print(f"{folder}: not a folder (expected a content folder such as content/)", file=out)
        return 2
    problems = content_problems(folder)
    if problems:
        print(format_problems(problems), file=out)
        return 1
    pack = load_pack(folder)
    print(
        f"{folder}: content {pack.version} is valid ({len(pack.snippets)} snippets, "
        f"{len(pack.rules)} rules, {len(pack.topics)} topics, questions, messages, red flags).",
        file=out,
    )
    return 0
