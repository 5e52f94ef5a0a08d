"""A loaded pack seen as people meet it, for diffs (bot.domain.content_diff) and previews."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import yaml

from bot.content_bundle import ContentBundle
from bot.contentpack import Rule
from bot.domain.content_diff import FlagStrength, PackDiff, PackView, RedFlagStrength
from bot.domain.snippets import render_snippet


def _question_text(text: str, labels: list[str]) -> str:
    return f"{text.strip()}\n[{' | '.join(labels)}]" if labels else text.strip()


def _conditions(rule: Rule) -> dict[str, str]:
    return {
        name: str(getattr(value, "name", value)).lower()
        for name, value in rule.when.model_dump(exclude_none=True).items()
    }


def _rule_text(rule: Rule) -> str:
    when = ", ".join(f"{name} {value}" for name, value in _conditions(rule).items())
    return f"when {when} → {', '.join(rule.snippets)} (priority {rule.priority})"


def _strings(items: Any) -> frozenset[str]:
    return frozenset(str(item) for item in items) if isinstance(items, list) else frozenset()


_TIERS = {"consult": 1, "emergency": 2}


def red_flag_strength(redflags_yaml: str) -> RedFlagStrength:
    """Signs, tiers, phrases, exclusions, vocabulary and safety-check options, read from
    redflags.yaml as written (a valid file: the pack passed its checks)."""
    loaded = yaml.safe_load(redflags_yaml)
    raw: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    flags: dict[str, FlagStrength] = {}
    for item in raw.get("flags", []):
        if isinstance(item, dict) and "id" in item:
            flags[str(item["id"])] = FlagStrength(
                tier=_TIERS.get(str(item.get("tier")), 0),
                patterns=_strings(item.get("patterns")),
                excludes=_strings(item.get("excludes")),
            )
    terms: dict[str, Any] = raw["terms"] if isinstance(raw.get("terms"), dict) else {}
    screen: dict[str, Any] = raw["screen"] if isinstance(raw.get("screen"), dict) else {}
    options = [o for o in screen.get("options", []) if isinstance(o, dict) and "id" in o]
    return RedFlagStrength(
        flags=flags,
        terms={str(name): _strings(words) for name, words in terms.items()},
        screen={str(option["id"]): _strings(option.get("flags")) for option in options},
    )


def pack_view(bundle: ContentBundle, files: Mapping[str, str]) -> PackView:
    """Every text a person can be shown, by id, plus what the diff must compare."""
    pack, catalog = bundle.pack, bundle.catalog
    questions = bundle.questions.questions
    red_flags = {
        flag_id: f"{flag.tier.name.lower()}: {flag.reason}"
        for flag_id, flag in catalog.flags.items()
    }
    if catalog.bystander is not None:
        bystander = catalog.bystander
        red_flags["bystander"] = "\n".join(
            (bystander.headline, bystander.action, bystander.closing)
        )
    return PackView(
        version=pack.version,
        sections={
            "snippets": {snippet.id: render_snippet(snippet) for snippet in pack.snippets},
            "questions": {
                qid: _question_text(q.text, [option.label for option in q.options])
                for qid, q in questions.items()
            },
            "messages": dict(bundle.texts.templates),
            "red_flags": red_flags,
            "screen": {option.id: option.label for option in catalog.screen_options},
            "topics": {topic.id: topic.label for topic in pack.topics},
            "rules": {rule.id: _rule_text(rule) for rule in pack.rules},
        },
        thresholds={rule.id: _conditions(rule) for rule in pack.rules},
        button_ids={
            "topics": frozenset(topic.id for topic in pack.topics),
            "screen": frozenset(option.id for option in catalog.screen_options),
            "options": frozenset(
                f"{qid}:{option.value}" for qid, q in questions.items() for option in q.options
            ),
        },
        red_flags=red_flag_strength(files.get("redflags.yaml", "")),
    )


EXCERPT = 160


def _flat(text: str | None) -> str:
    if text is None:
        return "—"
    flat = " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


def diff_report(diff: PackDiff) -> list[str]:
    """The diff as plain lines: section, kind, id, before → after."""
    lines = [
        f"compared with the live pack {diff.old_version}: {diff.count('added')} added, "
        f"{diff.count('changed')} changed, {diff.count('removed')} removed, "
        f"{len(diff.thresholds)} threshold change(s)"
    ]
    for change in diff.changes:
        lines.append(f"  {change.section} {change.kind} {change.id}:")
        if change.before is not None:
            lines.append(f"    before: {_flat(change.before)}")
        if change.after is not None:
            lines.append(f"    after:  {_flat(change.after)}")
    for moved in diff.thresholds:
        before, after = moved.before or "—", moved.after or "—"
        lines.append(f"  rule {moved.rule_id} {moved.condition}: {before} → {after}")
    if diff.vanishing_buttons:
        lines.append("warning: buttons already sent point at removed ids: ")
        lines.append("  " + ", ".join(diff.vanishing_buttons))
    for item in diff.weaker:
        lines.append(f"weaker red flags: {item}")
    return lines
