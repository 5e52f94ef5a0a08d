"""No alarm fatigue: when a history pattern is told again, and which safety screen is due.

History patterns (twitching on 14+ of 28 days, in several areas, getting worse) stay true
for days once they start. Told every day, the ⚠️ turns into noise people learn to skim, and
the one that matters is missed. So a history pattern is told at most once a week per reason,
never on a day without twitching, and not at all for 8 weeks after the person says they have
seen a doctor about it. Free-text and screen flags are what the person says today: they are
never held back here.

The check-in safety screen follows the same idea: the full list at least weekly (and the
very first time), and on the twitching days between, one tap — "anything new since last
time?" — that opens the full list only when the answer is yes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from bot.domain.triage import (
    LONG_TWITCHING_FLAG,
    SPREADING_FLAG,
    WORSENING_FLAG,
    Assessment,
    Tier,
)

HISTORY_REPEAT_DAYS = 7
DOCTOR_PAUSE_DAYS = 56  # 8 weeks
FULL_SCREEN_EVERY_DAYS = 7

# The flags that come from stored history; only these are capped weekly or paused.
PAUSABLE_FLAGS = frozenset({LONG_TWITCHING_FLAG, SPREADING_FLAG, WORSENING_FLAG})


def history_findings_to_tell(
    assessment: Assessment,
    *,
    today: date,
    twitching_today: bool,
    last_told: Mapping[str, date],
    paused_until: Mapping[str, date],
) -> Assessment:
    """The history findings worth telling today.

    Nothing on a day the person reports no twitching. Otherwise a finding is dropped when
    its flag was told on any of the last 7 days (`last_told`: flag id → latest local date it
    was told, from any origin), or while a "seen a doctor" pause for it runs
    (`paused_until`: flag id → first day it may be told again).
    """
    if not twitching_today:
        return Assessment()
    kept = tuple(
        finding
        for finding in assessment.findings
        if not _told_within_a_week(last_told.get(finding.flag.id), today)
        and not _paused(paused_until.get(finding.flag.id), today)
    )
    return Assessment(findings=kept)


def _told_within_a_week(told_on: date | None, today: date) -> bool:
    return told_on is not None and (today - told_on).days < HISTORY_REPEAT_DAYS


def _paused(until: date | None, today: date) -> bool:
    return until is not None and today < until


def pause_ends(seen_on: date) -> date:
    """The first day a paused history flag may be told again."""
    return seen_on + timedelta(days=DOCTOR_PAUSE_DAYS)


def pausable(flag_ids: Iterable[str]) -> tuple[str, ...]:
    """The flags of an escalation that "I've seen a doctor about this" pauses, in order."""
    return tuple(flag_id for flag_id in dict.fromkeys(flag_ids) if flag_id in PAUSABLE_FLAGS)


def offers_doctor_button(tier: Tier, flag_ids: Iterable[str]) -> bool:
    """A ⚠️ that names a history pattern offers the button; a 🚨 never does (it must be acted
    on now), and neither does a ⚠️ with nothing the button could pause."""
    return tier is Tier.CONSULT and bool(pausable(flag_ids))


class ScreenKind(enum.StrEnum):
    """Which safety screen a check-in asks; stored with the check-in, so values never change."""

    FULL = "full"  # every option, ticked one by one
    SHORT = "short"  # "anything new since last time?"; yes opens the full list


def screen_due(
    *, twitching_reported: bool, last_full_screen_day: date | None, today: date
) -> ScreenKind | None:
    """The full list when it was never shown or not within the last 7 days; otherwise the
    short question on a day with twitching, and no screen on a calm day."""
    if last_full_screen_day is None or (today - last_full_screen_day).days >= (
        FULL_SCREEN_EVERY_DAYS
    ):
        return ScreenKind.FULL
    return ScreenKind.SHORT if twitching_reported else None
