"""The bot's own messages, loaded once from content/messages.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ESCALATION_MARKERS = ("🚨", "⚠️", "⚠")


@dataclass(frozen=True)
class Texts:
    """Message templates by key; format() fills the {placeholders}."""

    templates: Mapping[str, str]

    def __call__(self, key: str, **values: Any) -> str:
        return self.templates[key].format(**values).strip()


def load_texts(path: Path) -> Texts:
    """Read messages.yaml; refuses a message that starts like an escalation."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    templates = raw.get("messages") if isinstance(raw, dict) else None
    if not isinstance(templates, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in templates.items()
    ):
        raise ValueError(f"{path}: expected a 'messages' mapping of strings")
    for key, value in templates.items():
        if value.lstrip().startswith(ESCALATION_MARKERS):
            raise ValueError(f"{path}: messages.{key} starts with an escalation marker")
    return Texts(templates=templates)
