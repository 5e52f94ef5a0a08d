"""Which educational snippets follow a check-in, and how one is rendered for Telegram.

The rules are data (content/rules.yaml); this module only evaluates them. Choice is
deterministic for the same inputs: matching rules in priority order (ties: pack order), one
snippet per rule, preferring snippets the person has not seen in the last week. When nothing
stands out, one general tip, rotating so that calm days do not all look the same.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from bot.domain.checkin import CheckinAnswers, Severity

if TYPE_CHECKING:
    # Only the pack's types are needed here; bot.contentpack imports this module at runtime.
    from bot.contentpack import ContentPack, Rule, Snippet

# A snippet shown this many days ago or more recently counts as "seen this week".
REPEAT_WINDOW_DAYS = 7
# A day counts towards a twitching run from this level up.
RUN_SEVERITY = Severity.MILD

_NEVER_SHOWN = date.min


@dataclass(frozen=True)
class DayAnswers:
    """A previous day's check-in."""

    day: date
    answers: CheckinAnswers


@dataclass(frozen=True)
class MatchContext:
    """Everything the choice depends on: today's answers, recent days and what was shown."""

    today: CheckinAnswers
    day: date
    recent_days: tuple[DayAnswers, ...]  # previous check-ins, newest first (up to ~14 days)
    mentions: frozenset[str] = frozenset()  # topics noticed in the person's own words
    shown_recently: Mapping[str, date] = field(default_factory=dict)  # snippet id -> last shown


@dataclass(frozen=True)
class SnippetChoice:
    """A snippet to show and the rule that picked it (None for a general tip)."""

    snippet: Snippet
    rule_id: str | None


def twitching_days_running(context: MatchContext) -> int:
    """Consecutive calendar days up to and including today with twitching of at least mild."""
    if context.today.severity < RUN_SEVERITY:
        return 0
    run = 1
    expected = context.day - timedelta(days=1)
    for entry in sorted(context.recent_days, key=lambda d: d.day, reverse=True):
        if entry.day > expected:
            continue  # today again, or a duplicate of a day already counted
        if entry.day < expected or entry.answers.severity < RUN_SEVERITY:
            break
        run += 1
        expected -= timedelta(days=1)
    return run


def rule_matches(rule: Rule, context: MatchContext) -> bool:
    """True when every condition the rule sets holds for this context."""
    when = rule.when
    today = context.today
    checks = (
        when.water_litres_below is None or today.water_litres < when.water_litres_below,
        when.caffeine_mg_at_least is None or today.caffeine.mg >= when.caffeine_mg_at_least,
        when.sleep_hours_below is None or today.sleep_hours < when.sleep_hours_below,
        when.severity_at_least is None or today.severity >= when.severity_at_least,
        when.mention is None or when.mention in context.mentions,
        when.twitching_days_running_at_least is None
        or twitching_days_running(context) >= when.twitching_days_running_at_least,
    )
    return all(checks)


def _last_shown(context: MatchContext, snippet_id: str) -> date:
    return context.shown_recently.get(snippet_id, _NEVER_SHOWN)


def _seen_this_week(context: MatchContext, snippet_id: str) -> bool:
    last = context.shown_recently.get(snippet_id)
    return last is not None and (context.day - last).days < REPEAT_WINDOW_DAYS


def _least_recently_shown(context: MatchContext, snippet_ids: Sequence[str]) -> str:
    """Oldest last-shown date wins; list order breaks ties (the rule's preferred order)."""
    order = {snippet_id: index for index, snippet_id in enumerate(snippet_ids)}
    return min(snippet_ids, key=lambda s: (_last_shown(context, s), order[s]))


def choose_snippets(
    pack: ContentPack, context: MatchContext, *, limit: int = 2
) -> list[SnippetChoice]:
    """The most relevant snippets for this check-in, at most `limit`, one per matching rule.

    First pass: rules in priority order each give their first snippet not seen this week.
    Second pass, only if slots remain: rules whose snippets were all seen this week give their
    least recently shown one. With no usable rule, a single general tip.
    """
    if limit <= 0:
        return []
    order = {rule.id: index for index, rule in enumerate(pack.rules)}
    matching = sorted(
        (rule for rule in pack.rules if rule_matches(rule, context)),
        key=lambda rule: (-rule.priority, order[rule.id]),
    )
    chosen: list[SnippetChoice] = []
    taken: set[str] = set()
    all_seen: list[tuple[Rule, list[str]]] = []
    for rule in matching:
        if len(chosen) >= limit:
            break
        candidates = [
            s for s in dict.fromkeys(rule.snippets) if s not in taken and pack.has_snippet(s)
        ]
        fresh = [s for s in candidates if not _seen_this_week(context, s)]
        if fresh:
            chosen.append(SnippetChoice(pack.snippet(fresh[0]), rule.id))
            taken.add(fresh[0])
        elif candidates:
            all_seen.append((rule, candidates))
    for rule, candidates in all_seen:
        remaining = [s for s in candidates if s not in taken]
        if len(chosen) >= limit or not remaining:
            continue
        pick = _least_recently_shown(context, remaining)
        chosen.append(SnippetChoice(pack.snippet(pick), rule.id))
        taken.add(pick)
    if chosen:
        return chosen
    tip = general_tip(pack, context)
    return [SnippetChoice(tip, None)] if tip is not None else []


def general_tip(pack: ContentPack, context: MatchContext) -> Snippet | None:
    """The least recently shown general tip; never-shown ties rotate with the calendar day.

    The rotation means consecutive calm days differ even when nothing was recorded as shown.
    """
    tips = pack.general_tips()
    if not tips:
        return None
    offset = context.day.toordinal() % len(tips)
    ranked = sorted(
        range(len(tips)),
        key=lambda i: (_last_shown(context, tips[i].id), (i - offset) % len(tips)),
    )
    return tips[ranked[0]]


def render_snippet(snippet: Snippet) -> str:
    """Telegram HTML: bold title, body, optional "Try this", and the source it is drawn from."""
    parts = [f"<b>{html.escape(snippet.title)}</b>", html.escape(snippet.body.strip())]
    if snippet.try_this:
        parts.append(f"<b>Try this:</b> {html.escape(snippet.try_this.strip())}")
    source = snippet.source
    source_line = f"Source: <i>{html.escape(source.title)}</i> ({html.escape(source.file)})"
    for also in snippet.also_sources:
        source_line += f"\nAlso from: <i>{html.escape(also.title)}</i> ({html.escape(also.file)})"
    for guidance in snippet.guidance:
        source_line += (
            f"\nGuidance: <i>{html.escape(guidance.title)}</i> — {html.escape(guidance.publisher)}"
        )
    parts.append(source_line)
    return "\n\n".join(parts)


# Today's three everyday factors; when all three stand out, each gets its snippet.
EVERYDAY_FACTOR_RULES = frozenset({"low_water", "much_caffeine", "short_sleep"})


def choose_for_checkin(pack: ContentPack, context: MatchContext) -> list[SnippetChoice]:
    """One or two snippets after a check-in — three only when water, caffeine and sleep all
    stand out, so that none of the three goes unexplained."""
    choices = choose_snippets(pack, context, limit=3)
    if {choice.rule_id for choice in choices} == EVERYDAY_FACTOR_RULES:
        return choices
    return choices[:2]
