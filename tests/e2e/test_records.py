"""A person with four weeks of check-ins uses /history, /insights, /report, /export, /delete
and /summary through the sandbox, against the real bot."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.context import DEPS_KEY, Deps
from bot.db.models import Base, Checkin, Escalation, User
from bot.db.session import create_engine, create_session_factory
from bot.domain.checkin import Severity
from bot.domain.insights import DayEntry, find_patterns, format_insights
from bot.sandbox.models import ApiCall
from bot.sandbox.server import SandboxServer
from handlers import records
from tests.e2e.harness import BotRunner

USER = 4242
TODAY = date(2026, 11, 22)  # the FakeClock's Sunday; 10:00 in Berlin
FIRST_DAY = TODAY - timedelta(days=27)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ESCALATION_DAY = TODAY - timedelta(days=2)


def seeded_entry(index: int) -> DayEntry:
    """Day ``index`` of the four weeks: four coffees every third day, with more twitching."""
    day = FIRST_DAY + timedelta(days=index)
    high_caffeine = index % 3 == 0
    return DayEntry(
        day=day,
        severity=Severity.MODERATE if high_caffeine else Severity(index % 2),
        sleep_hours=6.0 if index % 4 == 0 else 7.5,
        caffeine_mg=380 if high_caffeine else 95,
        water_litres=1.0 if index % 5 == 0 else 2.0,
    )


ENTRIES = [seeded_entry(index) for index in range(28)]


async def seed_four_weeks(url: str) -> None:
    """An onboarded person with a check-in on each of the last 28 days and one escalation."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine).begin() as session:
            session.add(
                User(
                    id=USER,
                    consented_at=datetime(2026, 10, 20, 8, 0, tzinfo=UTC),
                    timezone="Europe/Berlin",
                    reminder_time=time(9, 0),
                )
            )
            await session.flush()
            session.add_all(
                Checkin(
                    user_id=USER,
                    local_date=entry.day,
                    severity=int(entry.severity),
                    locations="eyelid_face" if entry.severity else "",
                    sleep_hours=entry.sleep_hours,
                    caffeine_mg=entry.caffeine_mg,
                    caffeine_servings=entry.caffeine_mg / 95,
                    water_litres=entry.water_litres,
                )
                for entry in ENTRIES
            )
            session.add(
                Escalation(
                    user_id=USER,
                    tier=1,
                    flag_ids=["weakness"],
                    reasons=["You mentioned weakness in your hand."],
                    sources=["nhs-fasciculations"],
                    origin="text",
                    local_date=ESCALATION_DAY,
                    created_at=datetime(2026, 11, 20, 18, 15, tzinfo=UTC),
                )
            )
    finally:
        await engine.dispose()


async def rows_about(url: str, user_id: int) -> dict[str, int]:
    """Rows naming the person in every table with a user_id column, plus users."""
    engine = create_engine(url)
    counts: dict[str, int] = {}
    try:
        async with create_session_factory(engine)() as session:
            for table in Base.metadata.sorted_tables:
                column = "id" if table.name == "users" else "user_id"
                if column not in table.c:
                    continue
                statement = (
                    select(func.count()).select_from(table).where(table.c[column] == user_id)
                )
                counts[table.name] = int(await session.scalar(statement) or 0)
    finally:
        await engine.dispose()
    return counts


async def exchange_until(
    sandbox: SandboxServer, text: str, method: str, count: int = 1
) -> list[ApiCall]:
    """Send ``text`` and wait for ``count`` calls of ``method`` in the chat, then for quiet.

    Rendering a chart or PDF takes longer than settle()'s quiet period after the
    "uploading…" chat action, so settle() alone could return before the upload.
    """
    mark = sandbox.last_seq
    sandbox.send_text(USER, text)
    seen: list[ApiCall] = []
    while len(seen) < count:
        after = seen[-1].seq if seen else mark
        seen.append(
            await sandbox.wait_for_call(
                lambda call: call.method == method and str(call.params.get("chat_id")) == str(USER),
                after_seq=after,
            )
        )
    return await sandbox.settle(USER, after_seq=mark)


def last_text(sandbox: SandboxServer) -> str:
    return sandbox.last_message(USER).plain_text or ""


def uploads(calls: list[ApiCall], method: str, field: str) -> list[tuple[str, bytes]]:
    return [
        (call.files[field].filename, call.files[field].data)
        for call in calls
        if call.method == method and field in call.files
    ]


def table_line(text: str, day: str) -> list[str]:
    """The whitespace-separated cells of the history row starting with ``day`` ("22 Nov")."""
    [line] = [line for line in text.splitlines() if line.startswith(day)]
    return line.split()


@pytest.fixture
async def seeded(bot: BotRunner) -> BotRunner:
    await seed_four_weeks(bot.settings.database_url)
    return bot


async def test_history_shows_the_last_fourteen_days_and_pages_back(
    sandbox: SandboxServer, seeded: BotRunner
) -> None:
    await sandbox.exchange_text(USER, "/history")
    message = sandbox.last_message(USER)
    text = message.plain_text
    assert text.startswith("Your check-ins, 9–22 Nov 2026")
    assert not text.startswith(("⚠", "🚨"))
    assert "<pre>" in (message.text or "")
    assert table_line(text, "22 Nov") == ["22", "Nov", "moderate", "7.5h", "380mg", "2l"]
    assert table_line(text, "21 Nov") == ["21", "Nov", "none", "7.5h", "95mg", "2l"]
    assert table_line(text, "20 Nov") == ["20", "Nov", "mild", "7.5h", "95mg", "1l", "⚠️"]
    assert "Check-ins in November: 22." in text
    dates = [line.split()[:2] for line in text.splitlines() if line[:1].isdigit()]
    assert dates[0] == ["22", "Nov"] and dates[-1] == ["9", "Nov"] and len(dates) == 14
    assert [label for row in message.buttons() for label, _ in row] == ["« Earlier"]

    mark = sandbox.last_seq
    sandbox.press(USER, "« Earlier")
    calls = await sandbox.settle(USER, after_seq=mark)
    # Only this feature's handler answered the press (the check-in's button handler did not).
    assert [call.method for call in calls] == ["answerCallbackQuery", "editMessageText"]
    earlier = sandbox.last_message(USER)
    assert earlier.message_id == message.message_id
    assert earlier.plain_text.startswith("Your check-ins, 26 Oct – 8 Nov 2026")
    assert table_line(earlier.plain_text, "26 Oct") == [
        "26", "Oct", "moderate", "6h", "380mg", "1l",
    ]  # fmt: skip
    # 26 Oct is the first check-in, so there is nothing earlier to page to.
    assert table_line(earlier.plain_text, "8 Nov")[:3] == ["8", "Nov", "mild"]
    assert [label for row in earlier.buttons() for label, _ in row] == ["Later »"]

    await sandbox.exchange_press(USER, "Later »")
    assert sandbox.last_message(USER).plain_text.startswith("Your check-ins, 9–22 Nov 2026")


async def test_insights_send_a_chart_and_patterns_that_match_the_data(
    sandbox: SandboxServer, seeded: BotRunner
) -> None:
    calls = await exchange_until(sandbox, "/insights", "sendMessage")
    [(filename, png)] = uploads(calls, "sendPhoto", "photo")
    assert png.startswith(PNG_SIGNATURE)
    assert filename == "twitchcheck-chart.png"
    expected = format_insights(find_patterns(ENTRIES))
    assert last_text(sandbox) == expected
    # Four coffees every third day came with moderate twitching (2.0); other days averaged 0.5.
    assert (
        "On days with 300 mg of caffeine or more (more than 3 cups of coffee), your twitching "
        "tended to be higher: it averaged 2.0 (moderate)" in expected
    )
    assert "0.5 (between none and mild) on other days (based on 10 days with and 18 without)" in (
        expected
    )


async def test_insights_with_too_little_data_say_how_many_more_are_needed(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    engine = create_engine(bot.settings.database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            session.add(
                User(id=USER, consented_at=datetime(2026, 11, 1, tzinfo=UTC), timezone="UTC")
            )
            await session.flush()
            session.add(
                Checkin(
                    user_id=USER,
                    local_date=TODAY,
                    severity=1,
                    sleep_hours=8.0,
                    caffeine_mg=0,
                    water_litres=2.0,
                )
            )
    finally:
        await engine.dispose()
    await exchange_until(sandbox, "/insights", "sendMessage")
    assert "more check-ins will be needed" in last_text(sandbox)


async def test_report_is_a_pdf_document(sandbox: SandboxServer, seeded: BotRunner) -> None:
    calls = await exchange_until(sandbox, "/report", "sendDocument")
    [(filename, pdf)] = uploads(calls, "sendDocument", "document")
    assert filename == "twitchcheck-report-2026-11-22.pdf"
    assert pdf.startswith(b"%PDF-")
    assert sandbox.last_message(USER).plain_text.startswith("Your check-in report for 26 Oct")

    calls = await exchange_until(sandbox, "/report 8", "sendDocument")
    [(_, longer)] = uploads(calls, "sendDocument", "document")
    assert longer.startswith(b"%PDF-")
    assert "28 Sep – 22 Nov 2026" in sandbox.last_message(USER).plain_text

    await sandbox.exchange_text(USER, "/report 99")
    assert "from 1 to 26" in last_text(sandbox)


async def test_export_sends_json_and_csv_that_hold_the_data(
    sandbox: SandboxServer, seeded: BotRunner
) -> None:
    calls = await exchange_until(sandbox, "/export", "sendDocument", count=4)
    documents = dict(uploads(calls, "sendDocument", "document"))
    assert set(documents) == {
        "twitchcheck-export.json",
        "twitchcheck-users.csv",
        "twitchcheck-checkins.csv",
        "twitchcheck-escalations.csv",
    }
    exported = json.loads(documents["twitchcheck-export.json"])
    tables: dict[str, list[dict[str, Any]]] = exported["tables"]
    assert [row["id"] for row in tables["users"]] == [USER]
    assert [
        (row["local_date"], row["severity"], row["sleep_hours"], row["caffeine_mg"])
        for row in tables["checkins"]
    ] == [
        (entry.day.isoformat(), int(entry.severity), entry.sleep_hours, entry.caffeine_mg)
        for entry in ENTRIES
    ]
    [escalation] = tables["escalations"]
    assert escalation["reasons"] == ["You mentioned weakness in your hand."]
    assert escalation["local_date"] == ESCALATION_DAY.isoformat()

    checkin_rows = list(csv.DictReader(io.StringIO(documents["twitchcheck-checkins.csv"].decode())))
    assert [(row["local_date"], float(row["water_litres"])) for row in checkin_rows] == [
        (entry.day.isoformat(), entry.water_litres) for entry in ENTRIES
    ]
    [escalation_row] = csv.DictReader(
        io.StringIO(documents["twitchcheck-escalations.csv"].decode())
    )
    assert json.loads(escalation_row["flag_ids"]) == ["weakness"]


async def test_delete_after_confirmation_erases_everything_and_starts_over(
    sandbox: SandboxServer, seeded: BotRunner
) -> None:
    url = seeded.settings.database_url
    await sandbox.exchange_text(USER, "/delete")
    assert "Delete everything?" in last_text(sandbox)
    await sandbox.exchange_press(USER, "Keep my data")
    assert last_text(sandbox) == "Okay, nothing was deleted. Your data stays as it is."
    assert (await rows_about(url, USER))["checkins"] == 28

    await sandbox.exchange_text(USER, "/delete")
    await sandbox.exchange_press(USER, "Delete everything")
    assert last_text(sandbox).startswith("Done — everything I stored about you has been erased.")
    assert set((await rows_about(url, USER)).values()) == {0}

    await sandbox.exchange_text(USER, "/history")
    assert "/start" in last_text(sandbox)
    await sandbox.exchange_text(USER, "/start")
    assert "agree" in last_text(sandbox)


async def test_old_delete_confirmations_are_not_used(
    sandbox: SandboxServer, seeded: BotRunner
) -> None:
    await sandbox.exchange_text(USER, "/delete")
    seeded.clock.advance(hours=2)
    await sandbox.exchange_press(USER, "Delete everything")
    assert "more than an hour old" in last_text(sandbox)
    assert (await rows_about(seeded.settings.database_url, USER))["checkins"] == 28


async def test_weekly_summary_is_chosen_and_sent_once_that_evening(
    sandbox: SandboxServer, seeded: BotRunner
) -> None:
    await sandbox.exchange_text(USER, "/summary")
    assert last_text(sandbox).startswith("The weekly summary is off.")
    await sandbox.exchange_press(USER, "Sun")
    assert last_text(sandbox) == "Done — your weekly summary will come on Sunday evenings."

    application = seeded.application
    assert application is not None
    deps: Deps = application.bot_data[DEPS_KEY]
    mark = sandbox.last_seq
    seeded.clock.now = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)  # 18:30 in Berlin
    assert await records.queue_weekly_summaries(deps) == 1
    assert await records.queue_weekly_summaries(deps) == 0
    # The outbox's dispatcher sends it.
    await sandbox.wait_for_call(lambda call: call.method == "sendPhoto", after_seq=mark)
    await sandbox.settle(USER, after_seq=mark)
    summaries = [call for call in sandbox.calls_of("sendPhoto") if call.seq > mark]
    assert len(summaries) == 1
    assert summaries[0].files["photo"].data.startswith(PNG_SIGNATURE)
    assert summaries[0].files["photo"].filename == "twitchcheck-chart.png"
    caption = sandbox.last_message(USER).plain_text
    assert caption.startswith("Your week, 16–22 November: 7 check-ins.")
    assert "/summary" in caption

    await sandbox.exchange_text(USER, "/summary")
    assert "Sunday evenings" in last_text(sandbox)
    await sandbox.exchange_press(USER, "Off")
    assert last_text(sandbox).startswith("The weekly summary is off.")


async def test_commands_point_newcomers_to_start(sandbox: SandboxServer, bot: BotRunner) -> None:
    for command in ("/history", "/insights", "/report", "/export", "/summary"):
        await sandbox.exchange_text(USER, command)
        assert "/start" in last_text(sandbox), command
    await sandbox.exchange_text(USER, "/delete")
    assert "nothing to delete" in last_text(sandbox)


async def test_forged_delete_buttons_erase_nothing(
    sandbox: SandboxServer, seeded: BotRunner
) -> None:
    """Only the button of the open /delete prompt confirms; the data alone proves nothing."""
    url = seeded.settings.database_url
    await sandbox.exchange_text(USER, "/history")
    history_message = sandbox.last_message(USER)
    now = int(seeded.clock().timestamp())
    for forged in (f"del|yes|{now}", f"del|yes|{now - 60}", "del|yes|", "del|yes|abcdef123456"):
        calls = await _press_data(sandbox, history_message.message_id, forged)
        assert (await rows_about(url, USER))["checkins"] == 28, forged
        [answer] = [call.params for call in calls if call.method == "answerCallbackQuery"]
        assert "nothing was deleted" in answer.get("text", "") or (
            answer.get("text") == "Sorry, I couldn't use that button."
        ), forged

    # With a prompt open, its own button is the only way in: a guessed token does nothing.
    await sandbox.exchange_text(USER, "/delete")
    prompt = sandbox.last_message(USER)
    [[(_, yes_data), _]] = prompt.buttons()
    for forged in (f"del|yes|{now}", yes_data[:-1] + ("x" if yes_data[-1] != "x" else "y")):
        await _press_data(sandbox, prompt.message_id, forged)
        assert (await rows_about(url, USER))["checkins"] == 28, forged

    # A second /delete replaces the first prompt: the first one's button no longer works.
    await sandbox.exchange_text(USER, "/delete")
    second = sandbox.last_message(USER)
    calls = await _press_data(sandbox, prompt.message_id, yes_data)
    assert (await rows_about(url, USER))["checkins"] == 28
    [answer] = [call.params for call in calls if call.method == "answerCallbackQuery"]
    assert answer["text"].startswith("That button doesn't belong to an open /delete question")

    await sandbox.exchange_press(USER, "Delete everything")
    assert sandbox.last_message(USER).message_id == second.message_id
    assert set((await rows_about(url, USER)).values()) == {0}


async def test_keep_my_data_closes_the_prompt(sandbox: SandboxServer, seeded: BotRunner) -> None:
    await sandbox.exchange_text(USER, "/delete")
    prompt = sandbox.last_message(USER)
    [[(_, yes_data), _]] = prompt.buttons()
    await sandbox.exchange_press(USER, "Keep my data")
    await _press_data(sandbox, prompt.message_id, yes_data)
    assert (await rows_about(seeded.settings.database_url, USER))["checkins"] == 28


async def _press_data(sandbox: SandboxServer, message_id: int, data: str) -> list[ApiCall]:
    mark = sandbox.last_seq
    sandbox.press_button(USER, message_id, data)
    return await sandbox.settle(USER, after_seq=mark)
