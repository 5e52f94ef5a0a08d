"""History, insights, the clinician report, the weekly summary and the person's data rights.

Read-only use cases (history, insights, report, export) run in one read transaction each.
Use cases that change something (/delete, /summary) record the Telegram update id in the
same transaction as their effect, so a re-delivered update acts once.

Export and erasure are built from the SQLAlchemy metadata rather than a list of models: every
table with a column that names the person (``user_id``, or any foreign key to ``users.id``)
is included, plus the ``users`` row itself, so tables added later are covered automatically.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Column, Table, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Base, Checkin, Escalation, User
from bot.db.session import SessionFactory
from bot.domain.checkin import Location, Severity
from bot.domain.insights import DayEntry, InsightsResult, find_patterns, weekly_summary_text
from bot.domain.outbox import OutgoingMessage
from bot.domain.timezones import zone_for
from bot.reports.pdf import FlagEvent, ReportData
from bot.services import outbox
from bot.services.kernel import Clock, Kernel, utc_now
from bot.services.kernel import Duplicate as Duplicate
from bot.services.kernel import NeedsOnboarding as NeedsOnboarding

HISTORY_DAYS = 14
# Paging further back than about ten years is not a real request; refuse forged page numbers.
MAX_HISTORY_PAGE = 10 * 366 // HISTORY_DAYS
INSIGHTS_DAYS = 28
DEFAULT_REPORT_WEEKS = 4
MAX_REPORT_WEEKS = 26
# The weekly summary goes out on the chosen weekday from this local hour on (evening, so the
# day's check-in is usually in).
SUMMARY_LOCAL_HOUR = 18
SUMMARY_BATCH_SIZE = 50
# Summaries are weekly: someone who got one within the last two days (say, before switching to
# another weekday) is not even looked at, which keeps each tick's scan to people still due.
SUMMARY_MIN_GAP_DAYS = 2
SUMMARY_WEEK_DAYS = 7
USERS_TABLE = "users"
# Erasure needs a fresh decision: a confirmation older than this is not acted on.
ERASURE_TTL = timedelta(hours=1)
ERASURE_TOKEN_BYTES = 6  # 12 hex characters on the button, well under 64 bytes of data
# Escalation tiers as stored (1 = consult a professional, 2 = emergency care) → report labels.
CONSULT_TIER = 1
EMERGENCY_TIER = 2
_FIXED_OFFSET = re.compile(r"UTC(?P<sign>[+-])(?P<hours>\d{2}):(?P<minutes>\d{2})")


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureRequested:
    """The confirmation is open; its buttons carry ``token``."""

    token: str


@dataclass(frozen=True)
class NothingToErase:
    """Nothing is stored about the person."""


@dataclass(frozen=True)
class ErasureExpired:
    """The confirmation was older than ERASURE_TTL; nothing was erased and it is closed."""


@dataclass(frozen=True)
class ErasureNotOpen:
    """No open confirmation carries that token (forged, replaced, used or kept)."""


@dataclass(frozen=True)
class HistoryDay:
    """One calendar day of the history table: the check-in (if any) and the tiers raised."""

    day: date
    entry: DayEntry | None
    tiers: tuple[int, ...] = ()


@dataclass(frozen=True)
class HistoryPage:
    """A window of HISTORY_DAYS days ending ``page`` windows before today, newest last."""

    page: int
    start: date
    end: date
    days: tuple[HistoryDay, ...]
    today: date
    checkins_this_month: int
    has_older: bool
    has_any: bool

    @property
    def has_newer(self) -> bool:
        return self.page > 0


@dataclass(frozen=True)
class InsightsData:
    """The check-ins of the last four weeks and the patterns found in them."""

    start: date
    end: date
    entries: tuple[DayEntry, ...]
    result: InsightsResult


@dataclass(frozen=True)
class ExportFiles:
    """Everything stored about a person, as one JSON document and one CSV per non-empty table."""

    json_document: bytes
    csv_documents: dict[str, bytes]
    tables: dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Deleted:
    """Rows erased per table (counts only, for the log)."""

    rows_per_table: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows_per_table.values())


@dataclass(frozen=True)
class SummarySetting:
    """The weekday (0 = Monday … 6 = Sunday) the weekly summary goes out on, or None for off."""

    weekday: int | None
    changed: bool = False


@dataclass(frozen=True)
class DueSummary:
    """A weekly summary claimed for sending: its text and the week's entries for the chart."""

    user_id: int
    text: str
    start: date
    end: date
    entries: tuple[DayEntry, ...]
    claimed_at: datetime  # UTC: when it was decided, the outbox row's not_before

    @property
    def dedupe_key(self) -> str:
        """One summary per person and local date."""
        return f"summary:{self.user_id}:{self.end.isoformat()}"


# Renders a claimed summary as the outbox message (texts and the chart live with handlers).
SummaryComposer = Callable[[DueSummary], OutgoingMessage]


# --- pure helpers -----------------------------------------------------------------------


def history_window(today: date, page: int) -> tuple[date, date]:
    """The first and last day of history page ``page`` (0 = the HISTORY_DAYS ending today)."""
    if page < 0:
        raise ValueError("page must not be negative")
    end = today - timedelta(days=HISTORY_DAYS * page)
    return end - timedelta(days=HISTORY_DAYS - 1), end


def report_period(today: date, weeks: int) -> tuple[date, date]:
    """The ``weeks`` whole weeks ending today (inclusive)."""
    if not 1 <= weeks <= MAX_REPORT_WEEKS:
        raise ValueError(f"weeks must be between 1 and {MAX_REPORT_WEEKS}")
    return today - timedelta(days=7 * weeks - 1), today


def report_timezone_name(name: str) -> str:
    """A name ZoneInfo accepts for the PDF: IANA names as they are, "UTC±HH:00" as Etc/GMT∓H.

    Offsets with minutes have no IANA name; those reports fall back to UTC.
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fixed = _FIXED_OFFSET.fullmatch(name)
        if fixed and fixed.group("minutes") == "00":
            hours = int(fixed.group("hours"))
            # POSIX-style Etc names invert the sign: UTC+05:00 is Etc/GMT-5.
            sign = "-" if fixed.group("sign") == "+" else "+"
            return f"Etc/GMT{sign}{hours}"
        return "UTC"
    return name


def flag_tier_name(tier: int) -> str:
    """Stored tier number → the report's tier name."""
    return "emergency" if tier >= EMERGENCY_TIER else "consult"


def entry_from_row(row: Checkin) -> DayEntry:
    """A stored check-in as the numbers insights and charts need."""
    return DayEntry(
        day=row.local_date,
        severity=Severity(row.severity),
        sleep_hours=row.sleep_hours,
        caffeine_mg=row.caffeine_mg,
        water_litres=row.water_litres,
        locations=frozenset(Location(value) for value in row.locations.split(",") if value),
    )


def personal_columns(table: Table) -> list[Column[Any]]:
    """The columns of ``table`` that name a person: ``user_id`` or a foreign key to users.id."""
    found: list[Column[Any]] = []
    for column in table.columns:
        refers_to_user = any(
            key.column.table.name == USERS_TABLE and key.column.name == "id"
            for key in column.foreign_keys
        )
        if column.name == "user_id" or refers_to_user:
            found.append(column)
    return found


def personal_tables() -> list[tuple[Table, list[Column[Any]]]]:
    """Every table holding rows about a person, with the columns to match, parents first.

    ``users`` matches on its own ``id``. Tables that name nobody are left out on purpose:
    ``processed_updates`` holds only Telegram update ids (for exactly-once handling), which
    identify no one and are not personal data.
    """
    tables: list[tuple[Table, list[Column[Any]]]] = []
    for table in Base.metadata.sorted_tables:
        if table.name == USERS_TABLE:
            tables.append((table, [table.c.id]))
            continue
        columns = personal_columns(table)
        if columns:
            tables.append((table, columns))
    return tables


def _matches(columns: Sequence[Column[Any]], user_id: int) -> Any:
    return or_(*(column == user_id for column in columns))


def export_value(value: Any) -> Any:
    """A stored value as JSON: ISO 8601 for dates and times; naive datetimes are UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def csv_cell(value: Any) -> str:
    """A JSON-ready value as one CSV cell: empty for None, JSON text for lists and mappings."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def export_documents(
    tables: Mapping[str, list[dict[str, Any]]],
    columns: Mapping[str, list[str]],
    *,
    user_id: int,
    exported_at: datetime,
) -> ExportFiles:
    """Encode exported rows: one pretty JSON document, and a CSV per table that has rows."""
    document = {
        "exported_at": export_value(exported_at),
        "user_id": user_id,
        "tables": tables,
    }
    json_bytes = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    csv_documents: dict[str, bytes] = {}
    for name, rows in tables.items():
        if not rows:
            continue
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns[name])
        for row in rows:
            writer.writerow([csv_cell(row[column]) for column in columns[name]])
        csv_documents[name] = buffer.getvalue().encode("utf-8")
    return ExportFiles(json_document=json_bytes, csv_documents=csv_documents, tables=dict(tables))


def is_summary_due(*, weekday: int | None, last_sent: date | None, local_now: datetime) -> bool:
    """Whether a weekly summary should go out now for someone whose local time is ``local_now``."""
    if weekday is None:
        return False
    return (
        local_now.weekday() == weekday
        and local_now.hour >= SUMMARY_LOCAL_HOUR
        and last_sent != local_now.date()
    )


async def _erase_everything(session: AsyncSession, user_id: int) -> Deleted:
    counts: dict[str, int] = {}
    for table, matching in reversed(personal_tables()):
        result = await session.execute(delete(table).where(_matches(matching, user_id)))
        counts[table.name] = int(getattr(result, "rowcount", 0) or 0)
    return Deleted(rows_per_table=counts)


def _within(earlier: datetime, now: datetime, limit: timedelta) -> bool:
    """``earlier`` is at most ``limit`` before ``now`` (and not in the future); a naive time,
    as SQLite returns it, is UTC."""
    if earlier.tzinfo is None:
        earlier = earlier.replace(tzinfo=UTC)
    return timedelta(0) <= now - earlier <= limit


# --- the service ------------------------------------------------------------------------


class RecordsService:
    """Use cases behind /history, /insights, /report, /export, /delete and /summary."""

    def __init__(
        self, sessions: SessionFactory, *, default_timezone: str, clock: Clock = utc_now
    ) -> None:
        self._sessions = sessions
        self._kernel = Kernel(sessions)
        self._default_timezone = default_timezone
        self._clock = clock

    def _zone(self, user: User) -> tzinfo:
        return zone_for(user.timezone or self._default_timezone)

    def _local_today(self, user: User) -> date:
        return self._clock().astimezone(self._zone(user)).date()

    @staticmethod
    async def _entries(
        session: AsyncSession, user_id: int, start: date, end: date
    ) -> tuple[DayEntry, ...]:
        statement = (
            select(Checkin)
            .where(Checkin.user_id == user_id, Checkin.local_date.between(start, end))
            .order_by(Checkin.local_date)
        )
        rows = (await session.execute(statement)).scalars()
        return tuple(entry_from_row(row) for row in rows)

    @staticmethod
    async def _escalations(
        session: AsyncSession, user_id: int, start: date, end: date
    ) -> list[Escalation]:
        statement = (
            select(Escalation)
            .where(Escalation.user_id == user_id, Escalation.local_date.between(start, end))
            .order_by(Escalation.created_at, Escalation.id)
        )
        return list((await session.execute(statement)).scalars())

    # --- history ------------------------------------------------------------------------

    async def history(self, user_id: int, page: int = 0) -> HistoryPage | NeedsOnboarding:
        """The HISTORY_DAYS-day table for ``page`` windows back, with this month's count."""
        if not 0 <= page <= MAX_HISTORY_PAGE:
            raise ValueError(f"page must be between 0 and {MAX_HISTORY_PAGE}")

        async def work(session: AsyncSession, user: User) -> HistoryPage:
            today = self._local_today(user)
            start, end = history_window(today, page)
            entries = {
                entry.day: entry for entry in await self._entries(session, user_id, start, end)
            }
            tiers: dict[date, list[int]] = defaultdict(list)
            for escalation in await self._escalations(session, user_id, start, end):
                tiers[escalation.local_date].append(escalation.tier)
            month_count = await session.scalar(
                select(func.count())
                .select_from(Checkin)
                .where(
                    Checkin.user_id == user_id,
                    Checkin.local_date.between(today.replace(day=1), today),
                )
            )
            older = await session.scalar(
                select(func.count())
                .select_from(Checkin)
                .where(Checkin.user_id == user_id, Checkin.local_date < start)
            )
            older_flags = await session.scalar(
                select(func.count())
                .select_from(Escalation)
                .where(Escalation.user_id == user_id, Escalation.local_date < start)
            )
            days = tuple(
                HistoryDay(
                    day=day,
                    entry=entries.get(day),
                    tiers=tuple(sorted(tiers.get(day, ()))),
                )
                for day in (start + timedelta(days=offset) for offset in range(HISTORY_DAYS))
            )
            return HistoryPage(
                page=page,
                start=start,
                end=end,
                days=days,
                today=today,
                checkins_this_month=int(month_count or 0),
                has_older=bool(older or older_flags) and page < MAX_HISTORY_PAGE,
                has_any=bool(entries) or bool(tiers) or bool(older) or bool(older_flags),
            )

        return await self._kernel.read(user_id, work)

    # --- insights and report ------------------------------------------------------------

    async def insights(self, user_id: int) -> InsightsData | NeedsOnboarding:
        """The last INSIGHTS_DAYS days of check-ins and the factor/twitching patterns in them."""

        async def work(session: AsyncSession, user: User) -> InsightsData:
            end = self._local_today(user)
            start = end - timedelta(days=INSIGHTS_DAYS - 1)
            entries = await self._entries(session, user_id, start, end)

            return InsightsData(
                start=start, end=end, entries=entries, result=find_patterns(entries)
            )

        return await self._kernel.read(user_id, work)

    async def report(
        self, user_id: int, *, weeks: int = DEFAULT_REPORT_WEEKS, person_label: str
    ) -> ReportData | NeedsOnboarding:
        """Everything the clinician PDF shows for the ``weeks`` ending today.

        ``person_label`` comes from the live Telegram update (a first name); it is never stored.
        """

        async def work(session: AsyncSession, user: User) -> ReportData:
            start, end = report_period(self._local_today(user), weeks)
            entries = await self._entries(session, user_id, start, end)
            escalations = await self._escalations(session, user_id, start, end)
            timezone = report_timezone_name(user.timezone or self._default_timezone)

            flags = tuple(
                FlagEvent(
                    at=row.created_at,
                    tier=flag_tier_name(row.tier),
                    reasons=tuple(str(reason) for reason in row.reasons),
                )
                for row in escalations
            )
            return ReportData(
                person_label=person_label,
                timezone=timezone,
                period_start=start,
                period_end=end,
                entries=entries,
                flags=flags,
                insights=find_patterns(entries),
                generated_at=self._clock(),
            )

        return await self._kernel.read(user_id, work)

    # --- export and erasure -------------------------------------------------------------

    async def export(self, user_id: int) -> ExportFiles | NeedsOnboarding:
        """Every row about the person in every table, as JSON and CSV documents."""

        async def work(session: AsyncSession, _user: User) -> ExportFiles:
            tables: dict[str, list[dict[str, Any]]] = {}
            columns: dict[str, list[str]] = {}
            for table, matching in personal_tables():
                statement = (
                    select(table)
                    .where(_matches(matching, user_id))
                    .order_by(*table.primary_key.columns)
                )
                result = await session.execute(statement)
                columns[table.name] = list(result.keys())
                tables[table.name] = [
                    {key: export_value(value) for key, value in row.items()}
                    for row in result.mappings()
                ]

            return export_documents(tables, columns, user_id=user_id, exported_at=self._clock())

        return await self._kernel.read(user_id, work)

    async def request_erasure(
        self, user_id: int, update_id: int
    ) -> ErasureRequested | NothingToErase | Duplicate:
        """Open the /delete confirmation: a fresh token stored with the time it was offered.

        Only a button carrying this token can confirm, so callback data alone (forged, or an
        older prompt's) never erases anything; a new /delete replaces the open one.
        """

        async def work(session: AsyncSession) -> ErasureRequested | NothingToErase:
            user = await session.get(User, user_id)
            if user is None:
                return NothingToErase()
            user.erasure_token = secrets.token_hex(ERASURE_TOKEN_BYTES)
            user.erasure_requested_at = self._clock()
            return ErasureRequested(token=user.erasure_token)

        return await self._kernel.run(user_id, update_id, work)

    async def confirm_erasure(
        self, user_id: int, update_id: int, token: str
    ) -> Deleted | ErasureExpired | ErasureNotOpen | Duplicate:
        """Erase everything when ``token`` is the open confirmation's and under an hour old."""

        async def work(session: AsyncSession) -> Deleted | ErasureExpired | ErasureNotOpen:
            user = await session.get(User, user_id)
            pending = user.erasure_token if user is not None else None
            if user is None or not pending or not secrets.compare_digest(pending, token):
                return ErasureNotOpen()
            offered_at = user.erasure_requested_at
            if offered_at is None or not _within(offered_at, self._clock(), ERASURE_TTL):
                user.erasure_token = None
                user.erasure_requested_at = None
                return ErasureExpired()
            return await _erase_everything(session, user_id)

        return await self._kernel.run(user_id, update_id, work)

    async def cancel_erasure(self, user_id: int, token: str) -> None:
        """ "Keep my data": close the open confirmation if this is its button."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(User)
                .where(User.id == user_id, User.erasure_token == token)
                .values(erasure_token=None, erasure_requested_at=None)
                .execution_options(synchronize_session=False)
            )

    async def delete_everything(self, user_id: int, update_id: int) -> Deleted | Duplicate:
        """Erase every row about the person, children first, in one transaction.

        Afterwards nothing links the person to the bot, so /start treats them as new. The
        bot goes through confirm_erasure; this is the erasure itself, without the prompt.
        """

        async def work(session: AsyncSession) -> Deleted:
            return await _erase_everything(session, user_id)

        # --- weekly summary -----------------------------------------------------------------

        return await self._kernel.run(user_id, update_id, work)

    async def summary_setting(self, user_id: int) -> SummarySetting | NeedsOnboarding:
        """The current weekly-summary weekday (None = off)."""

        async def work(session: AsyncSession, user: User) -> SummarySetting:
            return SummarySetting(weekday=user.weekly_summary_day)

        return await self._kernel.read(user_id, work)

    async def set_summary_day(
        self, user_id: int, update_id: int, weekday: int | None
    ) -> SummarySetting | NeedsOnboarding | Duplicate:
        """Turn the weekly summary on for ``weekday`` (0 = Monday) or off with None."""
        if weekday is not None and not 0 <= weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) … 6 (Sunday)")

        async def work(session: AsyncSession, user: User) -> SummarySetting:
            changed = user.weekly_summary_day != weekday
            # last_summary_date stays: switching off and on again on the same evening must
            # not send that day's summary twice.
            user.weekly_summary_day = weekday
            return SummarySetting(weekday=weekday, changed=changed)

        return await self._kernel.run_set_up(user_id, update_id, work)

    async def claim_due_summaries(
        self, compose: SummaryComposer, limit: int = SUMMARY_BATCH_SIZE
    ) -> list[DueSummary]:
        """Claim the weekly summaries due now and queue them in the outbox, in one transaction.

        A summary is claimed by setting ``last_summary_date`` to the local date with a
        compare-and-set UPDATE, and its outbox message (``compose``) is written in the same
        transaction: of several instances (or ticks) racing for the same person exactly one
        wins, and the dedupe key ``summary:<user>:<local date>`` makes a second write a no-op.
        On PostgreSQL the candidate rows are also locked with FOR UPDATE SKIP LOCKED so
        instances split the work instead of queueing. The outbox sends it at most once.
        """
        now = self._clock()
        utc_today = now.astimezone(UTC).date()
        utc_weekday = utc_today.weekday()
        # Local weekday is within one day of the UTC weekday everywhere on Earth.
        nearby_weekdays = sorted({(utc_weekday + shift) % 7 for shift in (-1, 0, 1)})
        claimed: list[DueSummary] = []
        async with self._sessions.begin() as session:
            candidates = select(User).where(
                User.weekly_summary_day.in_(nearby_weekdays),
                User.consented_at.is_not(None),
                User.timezone.is_not(None),
                User.active.is_(True),
                or_(
                    User.last_summary_date.is_(None),
                    User.last_summary_date <= utc_today - timedelta(days=SUMMARY_MIN_GAP_DAYS),
                ),
            )
            if session.get_bind().dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True, of=User)
            users = list((await session.execute(candidates.order_by(User.id))).scalars())
            for user in users:
                if len(claimed) >= limit:
                    break
                local_now = now.astimezone(self._zone(user))
                if not is_summary_due(
                    weekday=user.weekly_summary_day,
                    last_sent=user.last_summary_date,
                    local_now=local_now,
                ):
                    continue
                today = local_now.date()
                won = await session.execute(
                    update(User)
                    .where(
                        User.id == user.id,
                        or_(
                            User.last_summary_date.is_(None),
                            User.last_summary_date != today,
                        ),
                    )
                    .values(last_summary_date=today)
                    .execution_options(synchronize_session=False)
                )
                if getattr(won, "rowcount", 0) != 1:
                    continue
                start = today - timedelta(days=SUMMARY_WEEK_DAYS - 1)
                entries = await self._entries(session, user.id, start, today)
                due = DueSummary(
                    user_id=user.id,
                    text=weekly_summary_text(entries, week_end=today),
                    start=start,
                    end=today,
                    entries=entries,
                    claimed_at=now.astimezone(UTC),
                )
                if await outbox.enqueue(session, compose(due)):
                    claimed.append(due)
        return claimed
