"""What a new content pack changes for the people who use the bot.

Pure: it compares two views of a pack (plain text by id, built by the caller from the
loaded content) and says what was added, removed or changed — as before → after text —,
which rule thresholds moved, which ids that buttons already sent still point at would
disappear, and whether the red-flag set got weaker (fewer signs or fewer phrases).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ChangeKind = Literal["added", "removed", "changed"]

# Sections in the order an admin reads them, with their labels.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("snippets", "Snippets"),
    ("questions", "Questions"),
    ("messages", "Messages"),
    ("red_flags", "Red-flag wording"),
    ("screen", "Safety-check options"),
    ("topics", "/learn topics"),
    ("rules", "Matching rules"),
)

# Ids that buttons already sent to people carry in their callback data.
BUTTON_KINDS: Mapping[str, str] = {
    "topics": "/learn topic",
    "screen": "safety-check option",
    "options": "question button",
}


@dataclass(frozen=True)
class FlagStrength:
    """How much one red flag catches: its tier, the phrases that reveal it and what
    cancels them."""

    tier: int
    patterns: frozenset[str] = frozenset()
    excludes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RedFlagStrength:
    """The whole red-flag set in comparable form."""

    flags: Mapping[str, FlagStrength] = field(default_factory=dict)
    terms: Mapping[str, frozenset[str]] = field(default_factory=dict)
    screen: Mapping[str, frozenset[str]] = field(default_factory=dict)  # option -> flag ids


@dataclass(frozen=True)
class PackView:
    """One pack as people meet it: every visible text by id, rule conditions, button ids."""

    version: str
    sections: Mapping[str, Mapping[str, str]]
    thresholds: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    button_ids: Mapping[str, frozenset[str]] = field(default_factory=dict)
    red_flags: RedFlagStrength = field(default_factory=RedFlagStrength)


@dataclass(frozen=True)
class Change:
    section: str
    id: str
    kind: ChangeKind
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ThresholdChange:
    rule_id: str
    condition: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class PackDiff:
    """Everything an admin needs to judge a pack before it goes live."""

    old_version: str
    new_version: str
    changes: tuple[Change, ...]
    thresholds: tuple[ThresholdChange, ...]
    vanishing_buttons: tuple[str, ...]
    weaker: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.changes or self.thresholds)

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for change in self.changes if change.kind == kind)


def _section_changes(name: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        kind: ChangeKind = "added" if before is None else "removed" if after is None else "changed"
        changes.append(Change(name, key, kind, before, after))
    return changes


def _threshold_changes(
    old: Mapping[str, Mapping[str, str]], new: Mapping[str, Mapping[str, str]]
) -> list[ThresholdChange]:
    found: list[ThresholdChange] = []
    for rule_id in sorted(set(old) & set(new)):
        before, after = old[rule_id], new[rule_id]
        for condition in sorted(set(before) | set(after)):
            if before.get(condition) != after.get(condition):
                found.append(
                    ThresholdChange(rule_id, condition, before.get(condition), after.get(condition))
                )
    return found


def vanishing_buttons(old: PackView, new: PackView) -> list[str]:
    """Ids that buttons people already have still carry, gone from the new pack: pressing
    one would answer as if the button were stale."""
    warnings: list[str] = []
    for kind, label in BUTTON_KINDS.items():
        gone = old.button_ids.get(kind, frozenset()) - new.button_ids.get(kind, frozenset())
        warnings += [f"{label} `{item}`" for item in sorted(gone)]
    return warnings


def weakening(old: RedFlagStrength, new: RedFlagStrength) -> list[str]:
    """Every way the new red-flag set catches less than the old one: a sign removed or
    lowered a tier, a phrase or vocabulary word removed, an exclusion added, a safety-check
    option removed or ticking fewer signs. Empty: at least as strong."""
    found: list[str] = []
    for flag_id, before in sorted(old.flags.items()):
        after = new.flags.get(flag_id)
        if after is None:
            found.append(f"red flag `{flag_id}` removed")
            continue
        if after.tier < before.tier:
            found.append(f"red flag `{flag_id}` lowered from tier {before.tier} to {after.tier}")
        lost = before.patterns - after.patterns
        if lost:
            found.append(f"red flag `{flag_id}` loses {len(lost)} phrase(s)")
        added = after.excludes - before.excludes
        if added:
            found.append(f"red flag `{flag_id}` gains {len(added)} exclusion(s)")
    for term, words in sorted(old.terms.items()):
        lost = words - new.terms.get(term, frozenset())
        if lost:
            found.append(f"vocabulary `{term}` loses {len(lost)} word(s)")
    for option, flags in sorted(old.screen.items()):
        after_flags = new.screen.get(option)
        if after_flags is None:
            found.append(f"safety-check option `{option}` removed")
        elif flags - after_flags:
            found.append(
                f"safety-check option `{option}` no longer ticks {len(flags - after_flags)} sign(s)"
            )
    return found


def diff_packs(old: PackView, new: PackView) -> PackDiff:
    """What changes for people when `new` replaces `old`."""
    changes: list[Change] = []
    for name, _label in SECTIONS:
        changes += _section_changes(name, old.sections.get(name, {}), new.sections.get(name, {}))
    return PackDiff(
        old_version=old.version,
        new_version=new.version,
        changes=tuple(changes),
        thresholds=tuple(_threshold_changes(old.thresholds, new.thresholds)),
        vanishing_buttons=tuple(vanishing_buttons(old, new)),
        weaker=tuple(weakening(old.red_flags, new.red_flags)),
    )
