"""RecordsService against real databases (SQLite and PostgreSQL): history, export, erasure,
weekly summaries."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import (
    Base,
    Checkin,
    ConsentRequest,
    ConversationState,
    Escalation,
    HistoryFlagPause,
    OutboxMessage,
    ProcessedUpdate,
    SnippetView,
    User,
)
from bot.db.session import SessionFactory, create_session_factory
from bot.domain.checkin import Severity
from bot.domain.outbox import OutboxKind, OutgoingMessage
from bot.reports.pdf import ReportData
from bot.services import records as svc

PERSON = 1001
OTHER = 2002
# Sunday 22 November 2026, 10:00 in Berlin (UTC+1 in winter).
SUNDAY_MORNING = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 22)
SUNDAY = 6


@dataclass
class Clock:
    now: datetime = field(default=SUNDAY_MORNING)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(sessions: SessionFactory, clock: Clock) -> svc.RecordsService:
    return svc.RecordsService(sessions, default_timezone="UTC", clock=clock)


def make_user(user_id: int, **values: Any) -> User:
    defaults: dict[str, Any] = {
        "consented_at": datetime(2026, 10, 1, 8, 0, tzinfo=UTC),
        "timezone": "Europe/Berlin",
        "reminder_time": time(9, 0),
    }
    return User(id=user_id, **(defaults | values))


def make_checkin(user_id: int, day: date, severity: int = 1, **values: Any) -> Checkin:
    defaults: dict[str, Any] = {
        "locations": "eyelid_face" if severity else "",
        "sleep_hours": 7.5,
        "caffeine_mg": 95,
        "caffeine_servings": 1.0,
        "water_litres": 2.0,
    }
    return Checkin(user_id=user_id, local_date=day, severity=severity, **(defaults | values))


def make_escalation(user_id: int, day: date, tier: int, **values: Any) -> Escalation:
    defaults: dict[str, Any] = {
        "flag_ids": ["weakness"],
        "reasons": ["You mentioned weakness."],
        "sources": ["nhs-fasciculations"],
        "origin": "screen",
        "created_at": datetime.combine(day, time(19, 30), tzinfo=UTC),
    }
    return Escalation(user_id=user_id, local_date=day, tier=tier, **(defaults | values))


async def seed(sessions: SessionFactory, *rows: Any) -> None:
    """Users first, then their rows, so foreign keys hold on both backends."""
    async with sessions.begin() as session:
        session.add_all([row for row in rows if isinstance(row, User)])
        await session.flush()
        session.add_all([row for row in rows if not isinstance(row, User)])


async def seed_everything_about(sessions: SessionFactory, user_id: int) -> None:
    """A row in every kind of table that holds something about a person."""
    await seed(
        sessions,
        make_user(user_id, weekly_summary_day=SUNDAY),
        make_checkin(user_id, TODAY - timedelta(days=1), severity=2, caffeine_servings=None),
        make_checkin(user_id, TODAY, severity=0, sleep_hours=6.5, water_litres=1.25),
        ConversationState(
            user_id=user_id,
            kind="checkin",
            step="sleep",
            token="abc123",
            answers={"severity": "mild", "locations": ["arms_hands"]},
            extra={},
            local_date=TODAY,
        ),
        make_escalation(user_id, TODAY - timedelta(days=1), tier=1),
        make_escalation(user_id, TODAY, tier=2, flag_ids=["breathing"], origin="text"),
        HistoryFlagPause(
            user_id=user_id,
            flag_id="twitching_long",
            seen_on=TODAY,
            paused_until=TODAY + timedelta(weeks=8),
        ),
        SnippetView(
            user_id=user_id,
            snippet_id="magnesium-basics",
            content_version="v3",
            shown_on=TODAY,
            via="checkin",
            shown_at=datetime(2026, 11, 22, 9, 5, tzinfo=UTC),
        ),
        # Erasure must reach even a pending consent question (it names the person's id).
        ConsentRequest(
            user_id=user_id, token="def456", created_at=datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
        ),
        # A queued weekly summary carries the person's numbers until it is sent.
        OutboxMessage(
            dedupe_key=f"summary:{user_id}:{TODAY.isoformat()}",
            kind="summary",
            chat_id=user_id,
            user_id=user_id,
            is_group=False,
            text="Your week: 2 check-ins.",
            state="pending",
            not_before=datetime(2026, 11, 22, 17, 0, tzinfo=UTC),
            attempts=0,
        ),
    )


def tables_naming_a_person() -> list[tuple[Table, str]]:
    """Every table in the metadata with a user_id column, plus users (matched by id).

    Walks the metadata itself, so a table added later is checked without touching this test.
    """
    found: list[tuple[Table, str]] = []
    for table in Base.metadata.sorted_tables:
        if table.name == "users":
            found.append((table, "id"))
        elif "user_id" in table.c:
            found.append((table, "user_id"))
    return found


async def count_rows_about(sessions: SessionFactory, user_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with sessions() as session:
        for table, column in tables_naming_a_person():
            statement = select(func.count()).select_from(table).where(table.c[column] == user_id)
            counts[table.name] = int(await session.scalar(statement) or 0)
    return counts


# --- history ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "start", "end"),
    [
        (0, date(2026, 11, 9), date(2026, 11, 22)),
        (1, date(2026, 10, 26), date(2026, 11, 8)),
        (2, date(2026, 10, 12), date(2026, 10, 25)),
    ],
)
def test_history_windows_are_contiguous_and_fourteen_days(
    page: int, start: date, end: date
) -> None:
    assert svc.history_window(TODAY, page) == (start, end)
    assert (end - start).days + 1 == svc.HISTORY_DAYS


def test_history_window_rejects_negative_pages() -> None:
    with pytest.raises(ValueError):
        svc.history_window(TODAY, -1)


async def test_history_pages_place_each_checkin_on_its_day(
    sessions: SessionFactory, service: svc.RecordsService
) -> None:
    days_with_checkins = [TODAY - timedelta(days=offset) for offset in (0, 3, 13, 14, 20, 30)]
    await seed(
        sessions,
        make_user(PERSON),
        make_user(OTHER),
        *(
            make_checkin(PERSON, day, severity=offset % 4)
            for offset, day in enumerate(days_with_checkins)
        ),
        make_checkin(OTHER, TODAY - timedelta(days=1)),
        make_escalation(PERSON, TODAY - timedelta(days=3), tier=1),
        make_escalation(PERSON, TODAY - timedelta(days=3), tier=2),
    )

    first = await service.history(PERSON, 0)
    assert isinstance(first, svc.HistoryPage)
    assert (first.start, first.end, first.today) == (date(2026, 11, 9), TODAY, TODAY)
    assert [day.day for day in first.days] == [
        date(2026, 11, 9) + timedelta(days=offset) for offset in range(14)
    ]
    shown = {day.day: day.entry.severity for day in first.days if day.entry is not None}
    assert shown == {
        TODAY: Severity(0),
        TODAY - timedelta(days=3): Severity(1),
        TODAY - timedelta(days=13): Severity(2),
    }
    flagged = {day.day: day.tiers for day in first.days if day.tiers}
    assert flagged == {TODAY - timedelta(days=3): (1, 2)}
    # November so far: the 22nd, 19th, 9th, 8th and 2nd (23 October is not counted).
    assert first.checkins_this_month == 5
    assert first.has_older and not first.has_newer and first.has_any

    second = await service.history(PERSON, 1)
    assert isinstance(second, svc.HistoryPage)
    assert (second.start, second.end) == (date(2026, 10, 26), date(2026, 11, 8))
    assert {day.day for day in second.days if day.entry} == {
        TODAY - timedelta(days=14),
        TODAY - timedelta(days=20),
    }
    assert second.has_older and second.has_newer

    third = await service.history(PERSON, 2)
    assert isinstance(third, svc.HistoryPage)
    assert {day.day for day in third.days if day.entry} == {TODAY - timedelta(days=30)}
    assert not third.has_older


async def test_history_follows_the_local_date(
    sessions: SessionFactory, service: svc.RecordsService, clock: Clock
) -> None:
    await seed(sessions, make_user(PERSON, timezone="Pacific/Auckland"))
    clock.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # already the 23rd in Auckland
    page = await service.history(PERSON, 0)
    assert isinstance(page, svc.HistoryPage)
    assert page.end == date(2026, 11, 23)
    assert not page.has_any


async def test_everything_needs_onboarding_first(
    sessions: SessionFactory, service: svc.RecordsService
) -> None:
    await seed(sessions, make_user(PERSON, consented_at=None))
    assert isinstance(await service.history(PERSON), svc.NeedsOnboarding)
    assert isinstance(await service.insights(PERSON), svc.NeedsOnboarding)
    assert isinstance(await service.report(PERSON, person_label="A"), svc.NeedsOnboarding)
    assert isinstance(await service.export(PERSON), svc.NeedsOnboarding)
    assert isinstance(await service.summary_setting(PERSON), svc.NeedsOnboarding)
    assert isinstance(await service.history(OTHER), svc.NeedsOnboarding)
    # Erasure is offered to anyone with a row, consented or not.
    assert isinstance(await service.request_erasure(PERSON, update_id=1), svc.ErasureRequested)
    assert isinstance(await service.request_erasure(OTHER, update_id=2), svc.NothingToErase)


# --- insights and report --------------------------------------------------------------------


async def test_insights_use_the_last_four_weeks_only(
    sessions: SessionFactory, service: svc.RecordsService
) -> None:
    await seed(
        sessions,
        make_user(PERSON),
        make_checkin(PERSON, TODAY),
        make_checkin(PERSON, TODAY - timedelta(days=27)),
        make_checkin(PERSON, TODAY - timedelta(days=28)),
    )
    data = await service.insights(PERSON)
    assert isinstance(data, svc.InsightsData)
    assert (data.start, data.end) == (TODAY - timedelta(days=27), TODAY)
    assert [entry.day for entry in data.entries] == [TODAY - timedelta(days=27), TODAY]
    assert data.result.patterns == ()
    assert data.result.checkins_needed > 0


async def test_report_data_holds_the_period_flags_and_label(
    sessions: SessionFactory, service: svc.RecordsService
) -> None:
    await seed(
        sessions,
        make_user(PERSON),
        *(make_checkin(PERSON, TODAY - timedelta(days=offset)) for offset in range(0, 70, 5)),
        make_escalation(PERSON, TODAY - timedelta(days=2), tier=2, reasons=["Trouble breathing"]),
        make_escalation(PERSON, TODAY - timedelta(days=10), tier=1),
        make_escalation(PERSON, TODAY - timedelta(days=60), tier=1),
        make_escalation(PERSON, TODAY - timedelta(days=100), tier=2),
    )
    data = await service.report(PERSON, weeks=8, person_label="Ana")
    assert isinstance(data, ReportData)
    assert data.person_label == "Ana"
    assert data.timezone == "Europe/Berlin"
    assert (data.period_start, data.period_end) == (TODAY - timedelta(days=55), TODAY)
    assert [entry.day for entry in data.entries] == [
        TODAY - timedelta(days=offset) for offset in range(55, -1, -5)
    ]
    assert [(flag.tier, flag.reasons) for flag in data.flags] == [
        ("consult", ("You mentioned weakness.",)),
        ("emergency", ("Trouble breathing",)),
    ]
    with pytest.raises(ValueError):
        await service.report(PERSON, weeks=27, person_label="Ana")


@pytest.mark.parametrize(
    ("stored", "for_pdf"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("UTC", "UTC"),
        ("UTC+05:00", "Etc/GMT-5"),
        ("UTC-03:00", "Etc/GMT+3"),
        ("UTC+05:30", "UTC"),
    ],
)
def test_report_timezone_names_are_ones_zoneinfo_accepts(stored: str, for_pdf: str) -> None:
    assert svc.report_timezone_name(stored) == for_pdf


# --- export ---------------------------------------------------------------------------------


async def test_export_round_trips_what_was_stored(
    sessions: SessionFactory, service: svc.RecordsService
) -> None:
    await seed_everything_about(sessions, PERSON)
    await seed_everything_about(sessions, OTHER)

    files = await service.export(PERSON)
    assert isinstance(files, svc.ExportFiles)
    document = json.loads(files.json_document)
    assert document["user_id"] == PERSON
    tables = document["tables"]

    # Every table that names a person is in the export, with exactly this person's rows.
    expected_counts = await count_rows_about(sessions, PERSON)
    assert {name: len(rows) for name, rows in tables.items()} == expected_counts
    assert "processed_updates" not in tables

    [user] = tables["users"]
    assert user["id"] == PERSON
    assert user["timezone"] == "Europe/Berlin"
    assert user["reminder_time"] == "09:00:00"
    assert user["weekly_summary_day"] == SUNDAY
    assert datetime.fromisoformat(user["consented_at"]) == datetime(2026, 10, 1, 8, tzinfo=UTC)

    checkins = {row["local_date"]: row for row in tables["checkins"]}
    assert set(checkins) == {"2026-11-21", "2026-11-22"}
    saturday, sunday = checkins["2026-11-21"], checkins["2026-11-22"]
    assert (saturday["severity"], saturday["locations"], saturday["caffeine_servings"]) == (
        2,
        "eyelid_face",
        None,
    )
    assert (sunday["severity"], sunday["sleep_hours"], sunday["water_litres"]) == (0, 6.5, 1.25)
    assert all(row["user_id"] == PERSON for row in tables["checkins"])

    [state] = tables["conversation_states"]
    assert state["answers"] == {"severity": "mild", "locations": ["arms_hands"]}
    assert (state["step"], state["local_date"]) == ("sleep", "2026-11-22")

    escalations = sorted(tables["escalations"], key=lambda row: row["local_date"])
    assert [(row["tier"], row["flag_ids"], row["origin"]) for row in escalations] == [
        (1, ["weakness"], "screen"),
        (2, ["breathing"], "text"),
    ]
    assert datetime.fromisoformat(escalations[0]["created_at"]) == datetime(
        2026, 11, 21, 19, 30, tzinfo=UTC
    )

    [view] = tables["snippet_views"]
    assert (view["snippet_id"], view["shown_on"], view["via"]) == (
        "magnesium-basics",
        "2026-11-22",
        "checkin",
    )

    # The CSV files say the same as the JSON, table by table.
    assert set(files.csv_documents) == {name for name, rows in tables.items() if rows}
    for name, data in files.csv_documents.items():
        parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
        assert parsed == [
            {column: svc.csv_cell(value) for column, value in row.items()} for row in tables[name]
        ]
    checkin_rows = list(csv.DictReader(io.StringIO(files.csv_documents["checkins"].decode())))
    assert [
        (row["local_date"], row["severity"], row["caffeine_servings"]) for row in checkin_rows
    ] == [("2026-11-21", "2", ""), ("2026-11-22", "0", "1.0")]
    escalation_rows = csv.DictReader(io.StringIO(files.csv_documents["escalations"].decode()))
    assert sorted(json.loads(row["flag_ids"])[0] for row in escalation_rows) == [
        "breathing",
        "weakness",
    ]


# --- erasure --------------------------------------------------------------------------------


async def test_delete_leaves_no_row_about_the_person_in_any_table(
    sessions: SessionFactory, service: svc.RecordsService
) -> None:
    await seed_everything_about(sessions, PERSON)
    await seed_everything_about(sessions, OTHER)
    before = await count_rows_about(sessions, PERSON)
    other_before = await count_rows_about(sessions, OTHER)
    assert all(before.values()), f"the seed should touch every personal table: {before}"

    request = await service.request_erasure(PERSON, update_id=76)
    assert isinstance(request, svc.ErasureRequested)
    deleted = await service.confirm_erasure(PERSON, 77, request.token)
    assert isinstance(deleted, svc.Deleted)
    assert deleted.rows_per_table == before

    assert set((await count_rows_about(sessions, PERSON)).values()) == {0}
    assert await count_rows_about(sessions, OTHER) == other_before
    async with sessions() as session:
        # Only the update id is kept, so a re-delivered press does nothing.
        assert await session.get(ProcessedUpdate, 77) is not None

    assert isinstance(await service.confirm_erasure(PERSON, 77, request.token), svc.Duplicate)
    again = await service.confirm_erasure(PERSON, 78, request.token)
    assert isinstance(again, svc.ErasureNotOpen)
    assert isinstance(await service.request_erasure(PERSON, update_id=79), svc.NothingToErase)
    again = await service.delete_everything(PERSON, update_id=80)
    assert isinstance(again, svc.Deleted) and again.total == 0


async def test_only_the_open_confirmation_erases_and_only_within_an_hour(
    sessions: SessionFactory, service: svc.RecordsService, clock: Clock
) -> None:
    await seed_everything_about(sessions, PERSON)
    before = await count_rows_about(sessions, PERSON)
    not_open = svc.ErasureNotOpen()
    # Without a /delete, no token confirms anything.
    for guess in ("", "0", str(int(clock().timestamp())), "0" * 12):
        assert await service.confirm_erasure(PERSON, 100 + len(guess), guess) == not_open

    first = await service.request_erasure(PERSON, update_id=200)
    second = await service.request_erasure(PERSON, update_id=201)
    assert isinstance(first, svc.ErasureRequested) and isinstance(second, svc.ErasureRequested)
    assert first.token != second.token and len(second.token) == 12
    assert await service.confirm_erasure(PERSON, 202, first.token) == not_open  # replaced
    assert await service.confirm_erasure(OTHER, 203, second.token) == not_open  # not theirs
    await service.cancel_erasure(PERSON, first.token)  # an old prompt's "Keep" changes nothing

    clock.now += timedelta(minutes=61)
    assert await service.confirm_erasure(PERSON, 204, second.token) == svc.ErasureExpired()
    assert await service.confirm_erasure(PERSON, 205, second.token) == not_open  # now closed

    third = await service.request_erasure(PERSON, update_id=206)
    assert isinstance(third, svc.ErasureRequested)
    await service.cancel_erasure(PERSON, third.token)
    assert await service.confirm_erasure(PERSON, 207, third.token) == not_open
    assert await count_rows_about(sessions, PERSON) == before

    fourth = await service.request_erasure(PERSON, update_id=208)
    assert isinstance(fourth, svc.ErasureRequested)
    clock.now += timedelta(minutes=59)
    assert isinstance(await service.confirm_erasure(PERSON, 209, fourth.token), svc.Deleted)
    assert set((await count_rows_about(sessions, PERSON)).values()) == {0}


def test_erasure_covers_every_table_that_names_a_person() -> None:
    covered = {table.name for table, _columns in svc.personal_tables()}
    assert {table.name for table, _column in tables_naming_a_person()} <= covered
    assert "processed_updates" not in covered


# --- weekly summary ---------------------------------------------------------------------------


async def test_weekly_summary_setting_is_off_by_default_and_switches(
    sessions: SessionFactory, service: svc.RecordsService
) -> None:
    await seed(sessions, make_user(PERSON))
    assert await service.summary_setting(PERSON) == svc.SummarySetting(weekday=None)
    assert await service.set_summary_day(PERSON, 1, 2) == svc.SummarySetting(2, changed=True)
    assert isinstance(await service.set_summary_day(PERSON, 1, None), svc.Duplicate)
    assert await service.summary_setting(PERSON) == svc.SummarySetting(weekday=2)
    assert await service.set_summary_day(PERSON, 2, None) == svc.SummarySetting(None, True)
    assert await service.summary_setting(PERSON) == svc.SummarySetting(weekday=None)


@pytest.mark.parametrize(
    ("weekday", "last_sent", "local_now", "due"),
    [
        (SUNDAY, None, datetime(2026, 11, 22, 18, 0), True),
        (SUNDAY, None, datetime(2026, 11, 22, 17, 59), False),
        (SUNDAY, TODAY, datetime(2026, 11, 22, 21, 0), False),
        (SUNDAY, TODAY - timedelta(days=7), datetime(2026, 11, 22, 23, 59), True),
        (0, None, datetime(2026, 11, 22, 20, 0), False),
        (None, None, datetime(2026, 11, 22, 20, 0), False),
    ],
)
def test_summary_is_due_on_the_weekday_evening_once(
    weekday: int | None, last_sent: date | None, local_now: datetime, due: bool
) -> None:
    assert svc.is_summary_due(weekday=weekday, last_sent=last_sent, local_now=local_now) is due


def compose(due: svc.DueSummary) -> OutgoingMessage:
    """The outbox message of a claimed summary (its rendering is the handlers' business)."""
    return OutgoingMessage(
        chat_id=due.user_id,
        kind=OutboxKind.SUMMARY,
        dedupe_key=due.dedupe_key,
        text=due.text,
        buttons=None,
        not_before=due.claimed_at,
        stale_after=None,
    )


async def test_weekly_summary_is_claimed_once_on_the_chosen_local_evening(
    sessions: SessionFactory, service: svc.RecordsService, clock: Clock
) -> None:
    await seed(
        sessions,
        make_user(PERSON, weekly_summary_day=SUNDAY),
        make_user(OTHER),  # summary off
        make_user(3003, weekly_summary_day=0),  # Mondays
        make_user(4004, weekly_summary_day=SUNDAY, timezone="America/New_York"),
        make_checkin(PERSON, TODAY, severity=2),
        make_checkin(PERSON, TODAY - timedelta(days=6), severity=0),
        make_checkin(PERSON, TODAY - timedelta(days=7), severity=3),  # the week before
    )
    assert await service.claim_due_summaries(compose) == []  # 10:00 in Berlin

    clock.now = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)  # 18:30 Berlin, 12:30 New York
    [due] = await service.claim_due_summaries(compose)
    assert due.user_id == PERSON
    assert (due.start, due.end) == (TODAY - timedelta(days=6), TODAY)
    assert [entry.day for entry in due.entries] == [TODAY - timedelta(days=6), TODAY]
    assert due.text.startswith("Your week, 16–22 November: 2 check-ins.")
    assert await service.claim_due_summaries(compose) == []

    clock.now = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 18:30 in New York
    assert [summary.user_id for summary in await service.claim_due_summaries(compose)] == [4004]
    assert await service.claim_due_summaries(compose) == []

    async with sessions() as session:
        person = await session.get(User, PERSON)
        assert person is not None and person.last_summary_date == TODAY

    # Switching to Monday right after Sunday's summary does not send another one next day.
    assert isinstance(await service.set_summary_day(PERSON, 90, 0), svc.SummarySetting)
    clock.now = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
    assert [summary.user_id for summary in await service.claim_due_summaries(compose)] == [3003]
    assert isinstance(await service.set_summary_day(PERSON, 91, SUNDAY), svc.SummarySetting)

    clock.now = datetime(2026, 11, 29, 17, 30, tzinfo=UTC)  # the next Sunday evening
    assert [summary.user_id for summary in await service.claim_due_summaries(compose)] == [PERSON]


async def test_concurrent_claimers_send_each_summary_once(
    sessions: SessionFactory, clock: Clock
) -> None:
    people = list(range(5000, 5012))
    await seed(sessions, *(make_user(user_id, weekly_summary_day=SUNDAY) for user_id in people))
    clock.now = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    instances = [
        svc.RecordsService(sessions, default_timezone="UTC", clock=clock) for _ in range(3)
    ]
    batches = await asyncio.gather(
        *(
            instance.claim_due_summaries(compose, limit=5)
            for instance in instances
            for _ in range(3)
        )
    )
    claimed = [summary.user_id for batch in batches for summary in batch]
    assert sorted(claimed) == sorted(set(claimed))
    # Whatever the first round left (limits and skipped locks), later rounds pick up.
    while batch := await instances[0].claim_due_summaries(compose, limit=5):
        claimed.extend(summary.user_id for summary in batch)
    assert sorted(claimed) == people
    async with sessions() as session:
        keys = list((await session.execute(select(OutboxMessage.dedupe_key))).scalars())
    assert sorted(keys) == sorted(f"summary:{user_id}:2026-11-22" for user_id in people)
