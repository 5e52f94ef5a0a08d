"""Red-flag escalations and educational snippets, inside the caller's transaction.

Used by the check-in (screen answers, history patterns, snippets after saving) and by every
typed message (free-text scan, plain questions). Escalations are stored only for people who
consented; everyone is told.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.contentpack import ContentPack, Snippet
from bot.db.models import Checkin, Escalation, HistoryFlagPause, SnippetView
from bot.domain.alarm_fatigue import (
    HISTORY_REPEAT_DAYS,
    history_findings_to_tell,
    offers_doctor_button,
    pausable,
    pause_ends,
)
from bot.domain.checkin import Caffeine, CheckinAnswers, Location, Severity
from bot.domain.snippets import DayAnswers, MatchContext, choose_for_checkin
from bot.domain.triage import (
    Assessment,
    BystanderText,
    DayRecord,
    RedFlagCatalog,
    Tier,
    assess_history,
    new_reasons_to_tell,
    render_escalation,
)

HISTORY_WINDOW_DAYS = 28
SNIPPET_MEMORY_DAYS = 14


@dataclass(frozen=True)
class EscalationNotice:
    """An escalation to show before anything else: its tier and the message.
    `doctor_token`: offer "I've seen a doctor about this", bound to this token."""

    tier: Tier
    text: str
    flag_ids: tuple[str, ...]
    doctor_token: str | None = None


@dataclass(frozen=True)
class DoctorSeen:
    """ "I've seen a doctor about this" was recorded: these reasons pause until `until`."""

    reasons: tuple[str, ...]
    until: date


def answers_from_row(row: Checkin) -> CheckinAnswers:
    """A stored check-in as domain answers."""
    locations = frozenset(Location(value) for value in row.locations.split(",") if value)
    return CheckinAnswers(
        severity=Severity(row.severity),
        locations=locations,
        sleep_hours=row.sleep_hours,
        caffeine=Caffeine(mg=row.caffeine_mg, servings=row.caffeine_servings),
        water_litres=row.water_litres,
    )


async def told_today(session: AsyncSession, user_id: int, day: date) -> dict[str, Tier]:
    """Flag id → highest tier already told to this person on that local date."""
    statement = select(Escalation.flag_ids, Escalation.tier).where(
        Escalation.user_id == user_id, Escalation.local_date == day
    )
    told: dict[str, Tier] = {}
    for flag_ids, tier in (await session.execute(statement)).all():
        for flag_id in flag_ids:
            told[flag_id] = max(told.get(flag_id, Tier.CONSULT), Tier(tier))
    return told


async def escalate(
    session: AsyncSession,
    *,
    user_id: int,
    assessment: Assessment,
    origin: str,
    day: date,
    store: bool,
    forwarded: bool = False,
    bystander: BystanderText | None = None,
) -> EscalationNotice | None:
    """Tell what is new today (same reason at most once a day unless the tier rises);
    `forwarded` words it for a message someone else wrote.

    With `bystander` wording, the emergency is someone else's: it is always told, worded for
    the person helping, and never stored (it is not the writer's health)."""
    if assessment.tier is None:
        return None
    if bystander is not None and not forwarded and assessment.tier is Tier.EMERGENCY:
        flag_ids = tuple(dict.fromkeys(finding.flag.id for finding in assessment.findings))
        text = render_escalation(assessment, bystander)
        return EscalationNotice(tier=Tier.EMERGENCY, text=text, flag_ids=flag_ids)
    told = await told_today(session, user_id, day) if store else {}
    fresh = new_reasons_to_tell(assessment, told)
    tier = fresh.tier
    if tier is None:
        return None
    flags = list(dict.fromkeys(finding.flag.id for finding in fresh.findings))
    doctor_token = None
    if store:
        # The button's token is stored with the escalation, so it still works after a
        # restart; only people who consented get it (a pause is stored data).
        doctor_token = secrets.token_hex(3) if offers_doctor_button(tier, flags) else None
        session.add(
            Escalation(
                user_id=user_id,
                tier=int(tier),
                flag_ids=flags,
                reasons=list(dict.fromkeys(f.flag.reason for f in fresh.findings)),
                sources=list(dict.fromkeys(f.flag.source for f in fresh.findings)),
                origin=origin,
                local_date=day,
                doctor_token=doctor_token,
            )
        )
    text = render_escalation(fresh, forwarded=forwarded)
    return EscalationNotice(tier=tier, text=text, flag_ids=tuple(flags), doctor_token=doctor_token)


async def last_told(session: AsyncSession, user_id: int, day: date) -> dict[str, date]:
    """Flag id → latest local date within the week up to `day` it was told (any origin)."""
    statement = select(Escalation.flag_ids, Escalation.local_date).where(
        Escalation.user_id == user_id,
        Escalation.local_date > day - timedelta(days=HISTORY_REPEAT_DAYS),
        Escalation.local_date <= day,
    )
    told: dict[str, date] = {}
    for flag_ids, told_on in (await session.execute(statement)).all():
        for flag_id in flag_ids:
            told[flag_id] = max(told.get(flag_id, told_on), told_on)
    return told


async def pauses_running(session: AsyncSession, user_id: int, day: date) -> dict[str, date]:
    """Flag id → the day its "seen a doctor" pause ends, for pauses still running on `day`."""
    statement = select(HistoryFlagPause.flag_id, HistoryFlagPause.paused_until).where(
        HistoryFlagPause.user_id == user_id, HistoryFlagPause.paused_until > day
    )
    return {row.flag_id: row.paused_until for row in await session.execute(statement)}


async def escalate_history(
    session: AsyncSession,
    *,
    user_id: int,
    catalog: RedFlagCatalog,
    history: Sequence[Checkin],
    day: date,
    twitching_today: bool,
) -> EscalationNotice | None:
    """History patterns after a check-in: at most once a week per reason, never on a day
    without twitching, and not while a "seen a doctor" pause for the reason runs."""
    if not twitching_today:
        return None
    found = history_assessment(catalog, history, day)
    if found.tier is None:
        return None
    due = history_findings_to_tell(
        found,
        today=day,
        twitching_today=twitching_today,
        last_told=await last_told(session, user_id, day),
        paused_until=await pauses_running(session, user_id, day),
    )
    return await escalate(
        session, user_id=user_id, assessment=due, origin="history", day=day, store=True
    )


async def record_doctor_seen(
    session: AsyncSession, *, user_id: int, token: str, catalog: RedFlagCatalog, day: date
) -> DoctorSeen | None:
    """The person pressed "I've seen a doctor about this" under the escalation bound to
    `token`: pause its history patterns for 8 weeks from `day`. None when no escalation of
    theirs carries that token (forged, or erased since); pressing again renews nothing."""
    statement = select(Escalation).where(
        Escalation.user_id == user_id, Escalation.doctor_token == token
    )
    escalation = (await session.execute(statement)).scalars().first()
    if escalation is None:
        return None
    seen_on = escalation.doctor_seen_on or day
    until = pause_ends(seen_on)
    flag_ids = pausable(escalation.flag_ids)
    reasons = tuple(catalog.flags[f].reason for f in flag_ids if f in catalog.flags)
    if escalation.doctor_seen_on is not None:
        return DoctorSeen(reasons=reasons, until=until)
    escalation.doctor_seen_on = day
    existing = {
        pause.flag_id: pause
        for pause in (
            await session.execute(
                select(HistoryFlagPause).where(
                    HistoryFlagPause.user_id == user_id, HistoryFlagPause.flag_id.in_(flag_ids)
                )
            )
        ).scalars()
    }
    for flag_id in flag_ids:
        pause = existing.get(flag_id)
        if pause is None:
            session.add(
                HistoryFlagPause(user_id=user_id, flag_id=flag_id, seen_on=day, paused_until=until)
            )
        else:
            pause.seen_on, pause.paused_until = day, until
    return DoctorSeen(reasons=reasons, until=until)


async def recent_checkins(
    session: AsyncSession, user_id: int, until: date, *, days: int = HISTORY_WINDOW_DAYS
) -> list[Checkin]:
    """Check-ins of the last `days` local dates up to `until`, newest first."""
    statement = (
        select(Checkin)
        .where(
            Checkin.user_id == user_id,
            Checkin.local_date > until - timedelta(days=days),
            Checkin.local_date <= until,
        )
        .order_by(Checkin.local_date.desc())
    )
    return list((await session.execute(statement)).scalars())


def day_records(rows: Iterable[Checkin]) -> list[DayRecord]:
    """Stored check-ins as the triage history needs them."""
    return [
        DayRecord(
            day=row.local_date,
            severity=Severity(row.severity),
            locations=frozenset(Location(value) for value in row.locations.split(",") if value),
        )
        for row in rows
    ]


def history_assessment(catalog: RedFlagCatalog, rows: Sequence[Checkin], today: date) -> Assessment:
    """Patterns over days: long-lasting, spreading or worsening twitching."""
    return assess_history(catalog, day_records(rows), today)


async def snippets_after_checkin(
    session: AsyncSession,
    *,
    user_id: int,
    pack: ContentPack,
    day: date,
    today: CheckinAnswers,
    history: Sequence[Checkin],
    mentions: frozenset[str],
) -> tuple[Snippet, ...]:
    """Choose one or two snippets for today's answers and remember that they were shown."""
    since = day - timedelta(days=SNIPPET_MEMORY_DAYS)
    statement = select(SnippetView.snippet_id, SnippetView.shown_on).where(
        SnippetView.user_id == user_id, SnippetView.shown_on > since
    )
    shown: dict[str, date] = {}
    for snippet_id, shown_on in (await session.execute(statement)).all():
        shown[snippet_id] = max(shown.get(snippet_id, shown_on), shown_on)
    context = MatchContext(
        today=today,
        day=day,
        recent_days=tuple(
            DayAnswers(day=row.local_date, answers=answers_from_row(row))
            for row in history
            if row.local_date < day
        ),
        mentions=mentions,
        shown_recently=shown,
    )
    choices = choose_for_checkin(pack, context)
    for choice in choices:
        session.add(
            SnippetView(
                user_id=user_id,
                snippet_id=choice.snippet.id,
                content_version=pack.version,
                shown_on=day,
                via="checkin",
            )
        )
    return tuple(choice.snippet for choice in choices)
