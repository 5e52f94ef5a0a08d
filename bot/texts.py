"""The bot's own messages, loaded once from content/messages.yaml."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.yaml_strict import load_strict_yaml

ESCALATION_MARKERS = ("🚨", "⚠️", "⚠")


@dataclass(frozen=True)
class Texts:
    """Message templates by key; format() fills the {named} fields."""

    templates: Mapping[str, str]

    def __call__(self, key: str, **values: Any) -> str:
        return self.templates[key].format(**values).strip()


def message_files(content_dir: Path) -> list[Path]:
    """messages.yaml plus one messages_<feature>.yaml per feature, in a stable order."""
    return sorted(content_dir.glob("messages*.yaml"))


def load_texts(paths: Iterable[Path]) -> Texts:
    """Read the message files; refuses duplicate keys and text that starts like an escalation."""
    templates: dict[str, str] = {}
    for path in paths:
        raw = load_strict_yaml(path.read_text(encoding="utf-8"), source=str(path))
        found = raw.get("messages") if isinstance(raw, dict) else None
        if not isinstance(found, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in found.items()
        ):
            raise ValueError(f"{path}: expected a 'messages' mapping of strings")
        for key, value in found.items():
            if key in templates:
                raise ValueError(f"{path}: messages.{key} is defined twice")
            if value.lstrip().startswith(ESCALATION_MARKERS):
                raise ValueError(f"{path}: messages.{key} starts with an escalation marker")
            templates[key] = value
    return Texts(templates=templates)
