"""Red-flag triage: which answers mean "see a professional soon" or "get help now".

Three ways in, one result type: the check-in screen (:func:`assess_screen`), any free-text
message (:func:`scan_text`) and the stored history (:func:`assess_history`) each return an
:class:`Assessment`. :func:`render_escalation` turns one into the message the person sees,
and :func:`new_reasons_to_tell` keeps the same reason from being repeated within a day.
The flags, their reasons, sources, trigger words and the screen options are data in
``content/redflags.yaml``; this module holds no medical vocabulary of its own.
"""

from __future__ import annotations

import enum
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from statistics import fmean
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.checkin import Location, Severity
from bot.domain.triage_text import (
    ContextSpec,
    DurationSpec,
    FlagTextSpec,
    SpellingSpec,
    TextRules,
    compile_text_rules,
    read_text,
)
from bot.yaml_strict import load_strict_yaml

TELEGRAM_MESSAGE_LIMIT = 4096
EMERGENCY_MARKER = "🚨"
CONSULT_MARKER = "⚠️"

# Flag ids the history rules produce; the content pack must define them.
LONG_TWITCHING_FLAG = "twitching_long"
SPREADING_FLAG = "twitching_spreading"
WORSENING_FLAG = "twitching_worsening"

# History rules (see assess_history for the exact wording).
LONG_TWITCHING_MIN_DAYS = 14
LONG_TWITCHING_WINDOW_DAYS = 28
RECENT_WINDOW_DAYS = 7
SEVERAL_AREAS_ON_ONE_DAY = 2
WORSENING_MIN_CHECKINS = 4
WORSENING_EDGE_DAYS = 3
WORSENING_MIN_RISE = 1.0


class Tier(enum.IntEnum):
    """How urgent a red flag is; higher means more urgent."""

    CONSULT = 1
    EMERGENCY = 2


@dataclass(frozen=True)
class RedFlag:
    """One sign worth escalating, as the person is told about it."""

    id: str
    tier: Tier
    reason: str
    source: str


@dataclass(frozen=True)
class Finding:
    """A flag that applies, with the words (or data) that showed it; never logged."""

    flag: RedFlag
    evidence: str


@dataclass(frozen=True)
class Assessment:
    """All findings from one look (screen, message or history); may be empty."""

    findings: tuple[Finding, ...] = ()

    @property
    def tier(self) -> Tier | None:
        """The most urgent tier among the findings, or None when nothing was found."""
        return max((finding.flag.tier for finding in self.findings), default=None)

    @property
    def flag_ids(self) -> frozenset[str]:
        """Ids of the flags found, for storage and the once-a-day rule."""
        return frozenset(finding.flag.id for finding in self.findings)


@dataclass(frozen=True)
class ScreenOption:
    """A button in the check-in red-flag screen."""

    id: str
    label: str
    flag_ids: tuple[str, ...]


@dataclass(frozen=True)
class BystanderText:
    """The wording for someone else's emergency (Telegram HTML, from the content)."""

    headline: str
    action: str
    closing: str


@dataclass(frozen=True)
class RedFlagCatalog:
    """The content pack's red flags, screen and compiled text rules."""

    flags: Mapping[str, RedFlag]
    screen_options: tuple[ScreenOption, ...]
    none_option_id: str
    text_rules: TextRules | None = field(default=None, repr=False, compare=False)
    # flag id -> flag ids it makes redundant when both are found (e.g. the emergency
    # "racing heart with dizziness" replaces the consult "racing heart").
    replaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # tier -> the flag told when the learned opinion (not a rule) recognised a sign.
    learned_flags: Mapping[Tier, str] = field(default_factory=dict)
    bystander: BystanderText | None = None


# ----------------------------------------------------------------------------- loading


class _FlagModel(FlagTextSpec):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    tier: Tier
    reason: str = Field(min_length=3, max_length=200)
    source: str = Field(min_length=3, max_length=600)
    replaces: list[str] = Field(default_factory=list)
    # Told when the learned opinion recognised a sign of this tier; found by no rule.
    learned: bool = False

    @field_validator("tier", mode="before")
    @classmethod
    def _tier_by_name(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return Tier[value.upper()]
            except KeyError as exc:
                raise ValueError(f"tier must be 'consult' or 'emergency', not {value!r}") from exc
        return value


class _ScreenOptionModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=60)
    flags: list[str]


class _ScreenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    none_option: str
    options: list[_ScreenOptionModel] = Field(min_length=2)


class _BystanderModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    headline: str = Field(min_length=3, max_length=120)
    action: str = Field(min_length=3, max_length=800)
    closing: str = Field(min_length=3, max_length=400)


class _CatalogModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    terms: dict[str, list[str]] = Field(default_factory=dict)
    flags: list[_FlagModel] = Field(min_length=1)
    screen: _ScreenModel
    bystander: _BystanderModel
    context: ContextSpec
    durations: DurationSpec
    spelling: SpellingSpec


def _check_references(model: _CatalogModel) -> None:
    flag_ids = [flag.id for flag in model.flags]
    duplicates = {flag_id for flag_id in flag_ids if flag_ids.count(flag_id) > 1}
    if duplicates:
        raise ValueError(f"duplicate flag ids: {sorted(duplicates)}")
    known = set(flag_ids)
    for required in (LONG_TWITCHING_FLAG, SPREADING_FLAG, WORSENING_FLAG):
        if required not in known:
            raise ValueError(f"flag {required!r} is required by the history rules")
    for flag in model.flags:
        unknown = set(flag.replaces) - known
        if unknown:
            raise ValueError(f"flag {flag.id!r} replaces unknown flags {sorted(unknown)}")
        findable = flag.patterns or flag.duration_over_days or flag.several_body_areas
        if flag.learned and findable:
            raise ValueError(f"learned flag {flag.id!r} must not have text rules")
        if not (findable or flag.learned):
            raise ValueError(f"flag {flag.id!r} has no way to be found in text")
    learned_tiers = [flag.tier for flag in model.flags if flag.learned]
    if sorted(learned_tiers) != [Tier.CONSULT, Tier.EMERGENCY]:
        raise ValueError("exactly one learned flag per tier (consult, emergency) is required")
    option_ids = [option.id for option in model.screen.options]
    if len(set(option_ids)) != len(option_ids):
        raise ValueError("duplicate screen option ids")
    none_options = [o for o in model.screen.options if o.id == model.screen.none_option]
    if not none_options:
        raise ValueError(f"none option {model.screen.none_option!r} is not a screen option")
    if none_options[0].flags:
        raise ValueError(f"none option {model.screen.none_option!r} must not name flags")
    for option in model.screen.options:
        unknown = set(option.flags) - known
        if unknown:
            raise ValueError(f"screen option {option.id!r} names unknown flags {sorted(unknown)}")
        if option.id != model.screen.none_option and not option.flags:
            raise ValueError(f"screen option {option.id!r} has no flags")


def catalog_from_data(data: Any) -> RedFlagCatalog:
    """Build a catalog from parsed YAML; ValueError with the reason when the data is wrong."""
    try:
        model = _CatalogModel.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"invalid red-flag content: {exc}") from exc
    _check_references(model)
    flags = {
        flag.id: RedFlag(id=flag.id, tier=flag.tier, reason=flag.reason, source=flag.source)
        for flag in model.flags
    }
    # An emergency sign that has already passed still counts (NHS: call 999 even when
    # stroke symptoms go away), so "it's gone now" cancels only consult-tier mentions.
    text_rules = compile_text_rules(
        {
            flag.id: flag.model_copy(update={"counts_when_resolved": True})
            if flag.tier is Tier.EMERGENCY
            else flag
            for flag in model.flags
        },
        model.terms,
        model.context,
        model.durations,
        model.spelling,
    )
    return RedFlagCatalog(
        flags=flags,
        screen_options=tuple(
            ScreenOption(id=option.id, label=option.label, flag_ids=tuple(option.flags))
            for option in model.screen.options
        ),
        none_option_id=model.screen.none_option,
        text_rules=text_rules,
        replaces={flag.id: tuple(flag.replaces) for flag in model.flags if flag.replaces},
        learned_flags={flag.tier: flag.id for flag in model.flags if flag.learned},
        bystander=BystanderText(**model.bystander.model_dump()),
    )


def load_catalog(path: Path) -> RedFlagCatalog:
    """Read and validate ``content/redflags.yaml`` (or an uploaded replacement)."""
    data = load_strict_yaml(path.read_text(encoding="utf-8"), source=str(path))
    try:
        return catalog_from_data(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


# ----------------------------------------------------------------------------- assessing


def _assessment(catalog: RedFlagCatalog, found: Iterable[tuple[str, str]]) -> Assessment:
    """Findings ordered most urgent first, one per flag, redundant ones dropped."""
    evidence_by_flag: dict[str, str] = {}
    for flag_id, evidence in found:
        evidence_by_flag.setdefault(flag_id, evidence)
    redundant = {
        replaced for flag_id in evidence_by_flag for replaced in catalog.replaces.get(flag_id, ())
    }
    order = {flag_id: index for index, flag_id in enumerate(catalog.flags)}
    findings = [
        Finding(flag=catalog.flags[flag_id], evidence=evidence)
        for flag_id, evidence in evidence_by_flag.items()
        if flag_id not in redundant
    ]
    findings.sort(key=lambda finding: (-finding.flag.tier, order[finding.flag.id]))
    return Assessment(findings=tuple(findings))


def combine(catalog: RedFlagCatalog, *assessments: Assessment) -> Assessment:
    """One assessment from several (screen + text + history), one finding per flag."""
    return _assessment(
        catalog,
        ((f.flag.id, f.evidence) for assessment in assessments for f in assessment.findings),
    )


def assess_screen(catalog: RedFlagCatalog, selected_option_ids: Iterable[str]) -> Assessment:
    """Flags behind the ticked screen options; unknown ids and "none of these" add nothing."""
    options = {option.id: option for option in catalog.screen_options}
    found: list[tuple[str, str]] = []
    for option_id in selected_option_ids:
        option = options.get(option_id)
        if option is None or option.id == catalog.none_option_id:
            continue
        found.extend((flag_id, option.label) for flag_id in option.flag_ids)
    return _assessment(catalog, found)


@dataclass(frozen=True)
class TextAssessment:
    """The rules' reading of a message (see ``triage_text.TextReading``)."""

    assessment: Assessment
    excluded: bool = False
    # The emergency found is someone else's, happening now: worded for a bystander.
    bystander: bool = False


def read_message(catalog: RedFlagCatalog, text: str) -> TextAssessment:
    """The rules' reading of a free-text message; never raises, bounded work."""
    if catalog.text_rules is None or not text or not text.strip():
        return TextAssessment(Assessment())
    reading = read_text(catalog.text_rules, text)
    assessment = _assessment(catalog, ((m.flag_id, m.evidence) for m in reading.mentions))
    emergency_ids = {f.flag.id for f in assessment.findings if f.flag.tier is Tier.EMERGENCY}
    return TextAssessment(
        assessment=assessment,
        excluded=reading.excluded,
        bystander=bool(emergency_ids) and emergency_ids <= reading.bystander_flags,
    )


def scan_text(catalog: RedFlagCatalog, text: str) -> Assessment:
    """Affirmed red flags in any free-text message; never raises, bounded work."""
    return read_message(catalog, text).assessment


@dataclass(frozen=True)
class DayRecord:
    """One stored check-in day, as the history rules need it."""

    day: date
    severity: Severity
    locations: frozenset[Location]


def _latest_per_day(days: Sequence[DayRecord], today: date) -> dict[date, DayRecord]:
    """One record per day (the last given wins), nothing from the future."""
    by_day: dict[date, DayRecord] = {}
    for record in days:
        if record.day <= today:
            by_day[record.day] = record
    return by_day


def _areas(records: Iterable[DayRecord]) -> set[Location]:
    return {
        location
        for record in records
        if record.severity >= Severity.MILD
        for location in record.locations
    }


def _long_twitching(by_day: Mapping[date, DayRecord], today: date) -> str | None:
    window_start = today - timedelta(days=LONG_TWITCHING_WINDOW_DAYS - 1)
    recent_start = today - timedelta(days=RECENT_WINDOW_DAYS - 1)
    twitching_days = sorted(
        day for day, record in by_day.items() if day >= window_start and record.severity
    )
    if len(twitching_days) >= LONG_TWITCHING_MIN_DAYS and twitching_days[-1] >= recent_start:
        return f"twitching on {len(twitching_days)} of the last {LONG_TWITCHING_WINDOW_DAYS} days"
    return None


def _spreading(by_day: Mapping[date, DayRecord], today: date) -> str | None:
    recent_start = today - timedelta(days=RECENT_WINDOW_DAYS - 1)
    earlier_start = recent_start - timedelta(days=RECENT_WINDOW_DAYS)
    recent = [r for d, r in by_day.items() if d >= recent_start]
    earlier = [r for d, r in by_day.items() if earlier_start <= d < recent_start]
    for record in sorted(recent, key=lambda r: r.day, reverse=True):
        if record.severity and (
            Location.MANY in record.locations or len(record.locations) >= SEVERAL_AREAS_ON_ONE_DAY
        ):
            return f"twitching in several places on {record.day.isoformat()}"
    recent_areas, earlier_areas = _areas(recent), _areas(earlier)
    if earlier_areas and len(recent_areas) > len(earlier_areas):
        return f"twitching in {len(recent_areas)} body areas this week, {len(earlier_areas)} before"
    return None


def _worsening(by_day: Mapping[date, DayRecord], today: date) -> str | None:
    recent_start = today - timedelta(days=RECENT_WINDOW_DAYS - 1)
    recent = sorted((r for d, r in by_day.items() if d >= recent_start), key=lambda r: r.day)
    if len(recent) < WORSENING_MIN_CHECKINS or recent[-1].severity < Severity.MODERATE:
        return None
    edge = min(WORSENING_EDGE_DAYS, len(recent) // 2)  # the two ends never overlap
    first = fmean(int(r.severity) for r in recent[:edge])
    last = fmean(int(r.severity) for r in recent[-edge:])
    if last >= first + WORSENING_MIN_RISE:
        return f"twitching severity rose from {first:.1f} to {last:.1f} this week"
    return None


def assess_history(catalog: RedFlagCatalog, days: Sequence[DayRecord], today: date) -> Assessment:
    """Patterns over stored check-ins (one record per day; the last one for a day wins).

    - Long: twitching (severity mild or more) on at least 14 distinct days within the last
      28 days, at least one of them within the last 7 days (so it is still going on).
    - Spreading: within the last 7 days, a day with twitching in two or more areas or in
      "many places"; or more distinct areas in the last 7 days than in the 7 days before,
      when that earlier week had twitching with a location at all.
    - Worsening: at least 4 check-ins in the last 7 days, the latest at moderate or worse,
      and the mean severity of the last ones at least 1 step above the first ones, where
      "ones" is 3 check-ins, or half of them when fewer than 6 (the ends never overlap).
    """
    by_day = _latest_per_day(days, today)
    found: list[tuple[str, str]] = []
    for flag_id, rule in (
        (LONG_TWITCHING_FLAG, _long_twitching),
        (SPREADING_FLAG, _spreading),
        (WORSENING_FLAG, _worsening),
    ):
        evidence = rule(by_day, today)
        if evidence is not None:
            found.append((flag_id, evidence))
    return _assessment(catalog, found)


# ----------------------------------------------------------------------------- telling


def _reasons(assessment: Assessment) -> list[str]:
    reasons: list[str] = []
    for finding in assessment.findings:
        if finding.flag.reason not in reasons:
            reasons.append(finding.flag.reason)
    return reasons


_EMERGENCY_ACTION = (
    "<b>What to do now:</b> call your local emergency number — <b>112</b> in Europe, "
    "<b>911</b> in North America, <b>999</b> in the UK — or go to the nearest emergency "
    "department. If someone is with you, let them know."
)
_CONSULT_ACTION = (
    "<b>What to do:</b> arrange to see a doctor or GP soon, in the next few days. Bring "
    "your check-in history — /report makes a summary you can show them."
)
_CONSULT_SAFETY_NET = (
    "If something comes on suddenly or gets much worse — trouble breathing, chest pain, "
    "fainting — call 112 (Europe), 911 (North America) or 999 (UK)."
)
_CANNOT_DIAGNOSE = "I'm a check-in helper and can't diagnose anything."
# A forwarded message was written by someone else: the signs are theirs, and so is the
# urgency — the person reading can call for them or check on them.
_FORWARDED_EMERGENCY_ACTION = (
    "<b>What to do now:</b> check on the person who wrote it right away. If they have these "
    "signs now, or you can't reach them, call the emergency number where they are for them "
    "— <b>112</b> in Europe, <b>911</b> in North America, <b>999</b> in the UK."
)
_FORWARDED_CONSULT_ACTION = (
    "<b>What to do:</b> let the person who wrote it know that these signs are worth showing "
    "a doctor or GP soon, in the next few days."
)
_FORWARDED_OWN_SIGNS = (
    "If you wrote it yourself or have these signs too, the same goes for you. A forwarded "
    "message is not taken as an answer to my questions."
)


def render_escalation(
    assessment: Assessment, bystander: BystanderText | None = None, *, forwarded: bool = False
) -> str:
    """The escalation message (Telegram HTML), calm and specific; ValueError when empty.

    `bystander`: an emergency is someone else's, happening now — call for them now.
    `forwarded`: the text was forwarded, so it describes someone else — the message says what
    to do for the person who wrote it, still starting with the tier's marker.
    """
    tier = assessment.tier
    if tier is None:
        raise ValueError("nothing to escalate: the assessment has no findings")
    wording = _about_the_writer if forwarded else str
    reasons = "\n".join(f"• {html.escape(wording(reason))}" for reason in _reasons(assessment))
    if forwarded:
        message = "\n\n".join(_forwarded_parts(tier, reasons))
        if len(message) > TELEGRAM_MESSAGE_LIMIT:
            raise ValueError("escalation message is longer than Telegram allows")
        return message
    if tier is Tier.EMERGENCY and bystander is not None:
        parts = [
            f"{EMERGENCY_MARKER} <b>{html.escape(bystander.headline)}</b>",
            f"Why I'm saying this:\n{reasons}",
            bystander.action,
            html.escape(bystander.closing),
        ]
    elif tier is Tier.EMERGENCY:
        parts = [
            f"{EMERGENCY_MARKER} <b>Please get medical help now.</b>",
            f"Why I'm saying this:\n{reasons}",
            _EMERGENCY_ACTION,
            f"{_CANNOT_DIAGNOSE} These signs need a person to look at them quickly — "
            "it's always fine to get checked and be told all is well.",
        ]
    else:
        parts = [
            f"{CONSULT_MARKER} <b>It would be good to see a doctor soon.</b>",
            f"Why I'm saying this:\n{reasons}",
            _CONSULT_ACTION,
            f"{_CANNOT_DIAGNOSE} This isn't an emergency, and most twitching turns out to "
            "be harmless — these signs are simply worth a professional look.",
            _CONSULT_SAFETY_NET,
        ]
    message = "\n\n".join(parts)
    if len(message) > TELEGRAM_MESSAGE_LIMIT:
        raise ValueError("escalation message is longer than Telegram allows")
    return message


# Reasons are written to the person ("you mentioned …"); a forward was written by someone else.
_WRITER_WORDING = (("you mentioned ", "it mentions "), ("you think ", "the writer thinks "))


def _about_the_writer(reason: str) -> str:
    for yours, theirs in _WRITER_WORDING:
        if reason.startswith(yours):
            return theirs + reason.removeprefix(yours)
    return reason


def _forwarded_parts(tier: Tier, reasons: str) -> list[str]:
    if tier is Tier.EMERGENCY:
        return [
            f"{EMERGENCY_MARKER} <b>The message you forwarded describes signs that need "
            "medical help now.</b>",
            f"Why I'm saying this:\n{reasons}",
            _FORWARDED_EMERGENCY_ACTION,
            f"{_CANNOT_DIAGNOSE} {_FORWARDED_OWN_SIGNS}",
        ]
    return [
        f"{CONSULT_MARKER} <b>The message you forwarded mentions signs worth a doctor's look "
        "soon.</b>",
        f"Why I'm saying this:\n{reasons}",
        _FORWARDED_CONSULT_ACTION,
        f"{_CANNOT_DIAGNOSE} {_FORWARDED_OWN_SIGNS}",
        _CONSULT_SAFETY_NET,
    ]


def new_reasons_to_tell(
    assessment: Assessment, already_told_today: Mapping[str, Tier]
) -> Assessment:
    """What is worth telling now, given what was already told today (flag id -> tier told).

    If the assessment's tier is higher than every tier told today, everything is told again:
    the more urgent message must stand on its own. Otherwise a finding is dropped when its
    flag id was already told today at the same or a higher tier. An empty result means:
    send nothing.
    """
    tier = assessment.tier
    if tier is None:
        return assessment
    highest_told = max(already_told_today.values(), default=None)
    if highest_told is None or tier > highest_told:
        return assessment
    kept = tuple(
        finding
        for finding in assessment.findings
        if finding.flag.id not in already_told_today
        or already_told_today[finding.flag.id] < finding.flag.tier
    )
    return Assessment(findings=kept)
