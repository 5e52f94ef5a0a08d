"""A dry run of the snippet rules: which snippets a few typical check-ins would get from
one pack and from another, for an admin to judge a rule change before publishing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from bot.domain.checkin import Caffeine, CheckinAnswers, Location, Severity
from bot.domain.snippets import DayAnswers, MatchContext, choose_for_checkin

if TYPE_CHECKING:
    from bot.contentpack import ContentPack


@dataclass(frozen=True)
class SampleCheckin:
    label: str
    today: CheckinAnswers
    days_running: int = 0  # earlier days with the same twitching, just before today
    mentions: frozenset[str] = frozenset()


def _day(
    severity: Severity, *, sleep: float, mg: int, water: float, where: Location | None = None
) -> CheckinAnswers:
    locations = frozenset({where}) if where is not None else frozenset()
    return CheckinAnswers(severity, locations, sleep, Caffeine(mg), water)


SAMPLE_CHECKINS: tuple[SampleCheckin, ...] = (
    SampleCheckin(
        "calm day (no twitching, 8 h, 1 coffee, 2 l)",
        _day(Severity.NONE, sleep=8, mg=95, water=2.0),
    ),
    SampleCheckin(
        "mild eyelid, short night (5.5 h, 2 coffees, 1.5 l)",
        _day(Severity.MILD, sleep=5.5, mg=190, water=1.5, where=Location.EYELID_FACE),
    ),
    SampleCheckin(
        "moderate calves, 4 coffees, little water (7 h, 0.8 l)",
        _day(Severity.MODERATE, sleep=7, mg=380, water=0.8, where=Location.LEGS_FEET),
    ),
    SampleCheckin(
        "mild arms, 5th day running, stressed (7.5 h, 1 tea, 2 l)",
        _day(Severity.MILD, sleep=7.5, mg=47, water=2.0, where=Location.ARMS_HANDS),
        days_running=4,
        mentions=frozenset({"stress"}),
    ),
)


@dataclass(frozen=True)
class DryRunRow:
    label: str
    before: tuple[str, ...]  # snippet ids the live pack gives
    after: tuple[str, ...]  # snippet ids the new pack gives

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _context(sample: SampleCheckin, day: date, known_topics: frozenset[str]) -> MatchContext:
    earlier = tuple(
        DayAnswers(day - timedelta(days=offset), sample.today)
        for offset in range(1, sample.days_running + 1)
    )
    return MatchContext(
        today=sample.today, day=day, recent_days=earlier, mentions=sample.mentions & known_topics
    )


def _ids(pack: ContentPack, sample: SampleCheckin, day: date) -> tuple[str, ...]:
    topics = frozenset(topic.id for topic in pack.topics)
    return tuple(
        choice.snippet.id for choice in choose_for_checkin(pack, _context(sample, day, topics))
    )


def dry_run(
    old: ContentPack,
    new: ContentPack,
    day: date,
    samples: tuple[SampleCheckin, ...] = SAMPLE_CHECKINS,
) -> list[DryRunRow]:
    """For each sample check-in, the snippets each pack would show (nobody saw any before)."""
    return [
        DryRunRow(sample.label, _ids(old, sample, day), _ids(new, sample, day))
        for sample in samples
    ]
