"""No alarm fatigue, through the real bot: history flags at most weekly and never on a calm
day, "I've seen a doctor about this" pauses them for 8 weeks (also after a restart), and the
check-in asks "anything new since last time?" between weekly full safety screens."""

from __future__ import annotations

from datetime import date, timedelta

from bot.db.models import Checkin, Escalation, HistoryFlagPause
from bot.db.session import create_engine, create_session_factory
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_checkin import USER, last_text, onboard, rows
from tests.e2e.test_guidance import MARKERS, texts_since
from tests.support.clock import FakeClock

TODAY = date(2026, 11, 22)  # the FakeClock's first day (09:00 UTC is 10:00 in Berlin)
SEEN_DOCTOR = "I've seen a doctor about this"
FULL_SCREEN = "None of these"
SHORT_SCREEN = "Nothing new"


async def seed_twitching_days(url: str, days: list[date]) -> None:
    """Stored check-ins with mild eyelid twitching on those days (a full screen on none)."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine).begin() as session:
            for day in days:
                session.add(
                    Checkin(
                        user_id=USER,
                        local_date=day,
                        severity=1,
                        locations="eyelid_face",
                        sleep_hours=7.5,
                        caffeine_mg=95,
                        water_litres=2.0,
                    )
                )
    finally:
        await engine.dispose()


def button_labels(sandbox: SandboxServer) -> list[str]:
    return [text for row in sandbox.last_message(USER).buttons() for text, _ in row]


async def checkin(sandbox: SandboxServer, *, twitching: bool) -> list[str]:
    """One check-in by buttons (mild eyelid twitching, or none); whichever safety screen comes
    is answered "none"/"nothing new". Returns every message the bot sent meanwhile."""
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_press(USER, "Mild" if twitching else "None")
    if twitching:
        await sandbox.exchange_press(USER, "☐ Eyelid / face")
        await sandbox.exchange_press(USER, "Done")
    labels = button_labels(sandbox)
    if FULL_SCREEN in labels:
        await sandbox.exchange_press(USER, FULL_SCREEN)
    elif SHORT_SCREEN in labels:
        await sandbox.exchange_press(USER, SHORT_SCREEN)
    assert "sleep" in last_text(sandbox)
    for answer in ("7 h", "1 coffee", "2 l"):
        await sandbox.exchange_press(USER, answer)
    sent = texts_since(sandbox, mark)
    assert any(text.startswith("Saved for") for text in sent)
    return sent


def flagged(sent: list[str]) -> list[str]:
    return [text for text in sent if text.startswith(MARKERS)]


async def test_a_history_flag_repeats_at_most_weekly_and_never_on_a_calm_day(
    sandbox: SandboxServer, bot: BotRunner, clock: FakeClock
) -> None:
    url = bot.settings.database_url
    await onboard(sandbox)
    await seed_twitching_days(url, [TODAY - timedelta(days=back) for back in range(1, 14)])

    [first] = flagged(await checkin(sandbox, twitching=True))  # day 0: 14 days of twitching
    assert first.startswith("⚠️") and "two weeks" in first
    assert SEEN_DOCTOR in button_labels_of_escalation(sandbox)

    for day in (1, 6):  # still 14+ days, but told this week
        clock.advance(days=1 if day == 1 else 5)
        assert flagged(await checkin(sandbox, twitching=True)) == [], f"day {day}"
    clock.advance(days=1)  # day 7: a week later, but no twitching today
    assert flagged(await checkin(sandbox, twitching=False)) == []
    clock.advance(days=1)  # day 8: twitching again, and a week has passed
    [again] = flagged(await checkin(sandbox, twitching=True))
    assert again.startswith("⚠️") and "two weeks" in again

    stored = await rows(url, Escalation, user_id=USER)
    assert sorted((row.local_date - TODAY).days for row in stored) == [0, 8]
    assert {row.origin for row in stored} == {"history"}


def button_labels_of_escalation(sandbox: SandboxServer) -> list[str]:
    """The buttons on the newest escalation message."""
    for message in reversed(sandbox.messages(USER)):
        if (message.plain_text or "").startswith(MARKERS):
            return [text for row in message.buttons() for text, _ in row]
    raise AssertionError("no escalation was sent")


async def test_seen_a_doctor_pauses_history_flags_for_eight_weeks_even_after_a_restart(
    sandbox: SandboxServer, bot: BotRunner, clock: FakeClock
) -> None:
    url = bot.settings.database_url
    await onboard(sandbox)
    await seed_twitching_days(url, [TODAY - timedelta(days=back) for back in range(1, 14)])
    [escalation] = flagged(await checkin(sandbox, twitching=True))
    assert escalation.startswith("⚠️")

    await bot.restart()  # the button is bound to a token stored with the escalation
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, SEEN_DOCTOR)
    [noted] = [text for text in texts_since(sandbox, mark) if "8 weeks" in text]
    assert "Sun 17 Jan" in noted and "more than two weeks" in noted
    assert not noted.startswith(MARKERS)
    assert button_labels_of_escalation(sandbox) == [], "the button is gone once pressed"
    [pause] = await rows(url, HistoryFlagPause, user_id=USER)
    assert (pause.flag_id, pause.seen_on, pause.paused_until) == (
        "twitching_long",
        TODAY,
        TODAY + timedelta(weeks=8),
    )

    clock.advance(days=8)  # past the weekly cap: only the pause holds it back now
    assert flagged(await checkin(sandbox, twitching=True)) == []
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "my legs have been twitching for three weeks")
    [typed] = flagged(texts_since(sandbox, mark))
    assert typed.startswith("⚠️"), "free-text flags of the same reason never pause"

    # Eight weeks after the doctor: still twitching most days, so the history flag is back.
    clock.advance(days=56 - 8)
    resumed = TODAY + timedelta(days=56)
    await seed_twitching_days(url, [resumed - timedelta(days=back) for back in range(1, 14)])
    [back] = flagged(await checkin(sandbox, twitching=True))
    assert back.startswith("⚠️") and "two weeks" in back
    history = [row for row in await rows(url, Escalation, user_id=USER) if row.origin == "history"]
    assert sorted(row.local_date for row in history) == [TODAY, resumed]


async def test_a_forged_seen_a_doctor_button_pauses_nothing(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    message_id = sandbox.last_message(USER).message_id
    mark = sandbox.last_seq
    sandbox.press_button(USER, message_id, "abc123|seen_doctor|yes")
    calls = await sandbox.settle(USER, after_seq=mark)
    assert [call.method for call in calls] == ["answerCallbackQuery"]
    assert await rows(bot.settings.database_url, HistoryFlagPause, user_id=USER) == []


async def test_the_safety_screen_is_one_tap_between_weekly_full_lists(
    sandbox: SandboxServer, bot: BotRunner, clock: FakeClock
) -> None:
    url = bot.settings.database_url
    await onboard(sandbox)

    async def screen_on(twitching: bool) -> list[str]:
        await sandbox.exchange_text(USER, "/checkin")
        await sandbox.exchange_press(USER, "Mild" if twitching else "None")
        if twitching:
            await sandbox.exchange_text(USER, "calves")
        return button_labels(sandbox)

    async def finish() -> None:
        for answer in ("7 h", "1 coffee", "2 l"):
            await sandbox.exchange_press(USER, answer)

    labels = await screen_on(True)  # day 0: the first screen ever is the full list
    assert FULL_SCREEN in labels and "☐ A seizure or blackout" in labels
    await sandbox.exchange_press(USER, FULL_SCREEN)
    await finish()

    clock.advance(days=1)  # day 1: twitching, full list shown yesterday
    labels = await screen_on(True)
    assert "anything new since last time" in last_text(sandbox)
    assert labels[:2] == [SHORT_SCREEN, "Yes, something new"]
    await sandbox.exchange_press(USER, SHORT_SCREEN)
    assert "sleep" in last_text(sandbox), "nothing new is one tap"
    await finish()

    clock.advance(days=1)  # day 2: calm, no screen due
    await screen_on(False)
    assert "sleep" in last_text(sandbox)
    await finish()

    clock.advance(days=1)  # day 3: something new opens the full list, seizure included
    await screen_on(True)
    await sandbox.exchange_press(USER, "Yes, something new")
    assert "☐ A seizure or blackout" in button_labels(sandbox)
    await sandbox.exchange_press(USER, "☐ A seizure or blackout")
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, "Done")
    [emergency] = flagged(texts_since(sandbox, mark))
    assert emergency.startswith("🚨") and "seizure" in emergency
    assert SEEN_DOCTOR not in button_labels_of_escalation(sandbox), "never under a 🚨"
    await finish()

    clock.advance(days=6)  # day 9: twitching, 6 days after day 3's full list: the short one
    await screen_on(True)
    assert SHORT_SCREEN in button_labels(sandbox)
    await sandbox.exchange_press(USER, SHORT_SCREEN)
    await finish()
    clock.advance(days=1)  # day 10: a week after the last full list, it is due again
    assert FULL_SCREEN in await screen_on(True)
    await sandbox.exchange_press(USER, FULL_SCREEN)
    await finish()

    stored = {
        (row.local_date - TODAY).days: (row.screen_kind, row.screen)
        for row in await rows(url, Checkin, user_id=USER)
    }
    assert stored == {
        0: ("full", []),
        1: ("short", []),
        2: (None, None),
        3: ("full", ["seizure_blackout"]),
        9: ("short", []),
        10: ("full", []),
    }
