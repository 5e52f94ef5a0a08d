"""Red-flag escalations and educational snippets, inside the caller's transaction.

Used by the check-in (screen answers, history patterns, snippets after saving) and by every
typed message (free-text scan, plain questions). Escalations are stored only for people who
consented; everyone is told.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.contentpack import ContentPack, Snippet
from bot.db.models import Checkin, Escalation, SnippetView
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
    """An escalation to show before anything else: its tier and the message."""

    tier: Tier
    text: str
    flag_ids: tuple[str, ...]


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
    if store:
        session.add(
            Escalation(
                user_id=user_id,
                tier=int(tier),
                flag_ids=flags,
                reasons=list(dict.fromkeys(f.flag.reason for f in fresh.findings)),
                sources=list(dict.fromkeys(f.flag.source for f in fresh.findings)),
                origin=origin,
                local_date=day,
            )
        )
    text = render_escalation(fresh, forwarded=forwarded)
    return EscalationNotice(tier=tier, text=text, flag_ids=tuple(flags))


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
