"""A person talks to the real bot through the sandbox: onboarding and the daily check-in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Select, func, select

from bot.db.models import Checkin, ConversationState, User
from bot.db.session import create_engine, create_session_factory
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner

USER = 4242


async def rows(url: str, model: type[Any], **where: object) -> list[Any]:
    """Rows of one table, read through a fresh engine as another process would."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            statement: Select[Any] = select(model).filter_by(**where)
            return list((await session.execute(statement)).scalars())
    finally:
        await engine.dispose()


async def onboard(sandbox: SandboxServer, user: int = USER) -> None:
    await sandbox.exchange_text(user, "/start")
    assert "agree" in last_text(sandbox, user)
    await sandbox.exchange_press(user, "I agree")
    assert "timezone" in last_text(sandbox, user)
    await sandbox.exchange_text(user, "Berlin")
    assert "reminder" in last_text(sandbox, user)
    await sandbox.exchange_press(user, "09:00")
    assert "All set" in last_text(sandbox, user)


def saved_summary(sandbox: SandboxServer, prefix: str, user: int = USER) -> str:
    """The newest message starting with prefix (snippets may follow the summary)."""
    texts = [message.plain_text or "" for message in sandbox.messages(user)]
    return next(text for text in reversed(texts) if text.startswith(prefix))


def last_text(sandbox: SandboxServer, user: int = USER) -> str:
    return sandbox.last_message(user).plain_text or ""


async def test_full_checkin_stores_exactly_what_was_answered(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    [user] = await rows(bot.settings.database_url, User, id=USER)
    assert user.consented_at is not None
    assert user.timezone == "Europe/Berlin"
    assert user.reminder_time is not None and user.reminder_time.strftime("%H:%M") == "09:00"

    await sandbox.exchange_text(USER, "/checkin")
    assert "twitching" in last_text(sandbox)
    await sandbox.exchange_press(USER, "Mild")
    assert "Where" in last_text(sandbox)
    await sandbox.exchange_press(USER, "☐ Eyelid / face")
    await sandbox.exchange_press(USER, "☐ Legs / calves / feet")
    labels = [text for row in sandbox.last_message(USER).buttons() for text, _ in row]
    assert "☑ Eyelid / face" in labels and "☑ Legs / calves / feet" in labels
    await sandbox.exchange_press(USER, "Done")
    assert "safety check" in last_text(sandbox)
    await sandbox.exchange_press(USER, "None of these")
    assert "sleep" in last_text(sandbox)
    await sandbox.exchange_text(USER, "6h30")
    assert "caffeine" in last_text(sandbox)
    await sandbox.exchange_text(USER, "2 coffees")
    assert "water" in last_text(sandbox)
    await sandbox.exchange_text(USER, "1.5 l")
    summary = saved_summary(sandbox, "Saved for")
    assert "mild" in summary and "6.5 h" in summary and "190 mg" in summary and "1.5 l" in summary

    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert checkin.severity == 1
    assert checkin.locations == "eyelid_face,legs_feet"
    assert checkin.sleep_hours == 6.5
    assert checkin.caffeine_mg == 190 and checkin.caffeine_servings == 2
    assert checkin.water_litres == 1.5
    assert str(checkin.local_date) == "2026-11-22"
    assert await rows(bot.settings.database_url, ConversationState, user_id=USER) == []


async def test_no_twitching_skips_the_area_question(sandbox: SandboxServer, bot: BotRunner) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_text(USER, "none")
    assert "safety check" in last_text(sandbox), "the first check-in includes the weekly screen"
    await sandbox.exchange_text(USER, "none")
    assert "sleep" in last_text(sandbox)
    await sandbox.exchange_press(USER, "8 h")
    await sandbox.exchange_press(USER, "None")
    await sandbox.exchange_press(USER, "2 l")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.severity, checkin.locations, checkin.sleep_hours) == (0, "", 8.0)
    assert (checkin.caffeine_mg, checkin.water_litres) == (0, 2.0)


async def test_nothing_is_stored_before_consent(sandbox: SandboxServer, bot: BotRunner) -> None:
    await sandbox.exchange_text(USER, "/checkin")
    assert "/start" in last_text(sandbox)
    await sandbox.exchange_text(USER, "/start")
    await sandbox.exchange_press(USER, "Not now")
    assert "nothing about you" in last_text(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    assert "/start" in last_text(sandbox)
    assert await rows(bot.settings.database_url, User, id=USER) == []
    assert await rows(bot.settings.database_url, Checkin, user_id=USER) == []


async def test_resumes_at_the_same_question_after_a_restart(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_text(USER, "moderate")
    await sandbox.exchange_text(USER, "hands")
    await sandbox.exchange_press(USER, "None of these")
    assert "sleep" in last_text(sandbox)

    await bot.restart()

    await sandbox.exchange_text(USER, "7 hours")
    assert "caffeine" in last_text(sandbox)
    await bot.restart()
    await sandbox.exchange_text(USER, "/checkin")
    assert "continue" in last_text(sandbox) and "caffeine" in last_text(sandbox)
    await sandbox.exchange_text(USER, "200mg")
    await sandbox.exchange_text(USER, "6 glasses")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.severity, checkin.locations) == (2, "arms_hands")
    assert (checkin.sleep_hours, checkin.caffeine_mg, checkin.water_litres) == (7.0, 200, 1.5)


async def test_duplicate_update_is_processed_once(sandbox: SandboxServer, bot: BotRunner) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_text(USER, "none")
    await sandbox.exchange_text(USER, "none")
    mark = sandbox.calls[-1].seq
    update = sandbox.send_text(USER, "7")
    sandbox.enqueue_update(update)
    calls = await sandbox.settle(USER, after_seq=mark)
    sent = [call for call in calls if call.method == "sendMessage"]
    assert len(sent) == 1 and "caffeine" in sent[0].params["text"]
    state = (await rows(bot.settings.database_url, ConversationState, user_id=USER))[0]
    assert state.step == "caffeine" and state.answers["sleep"] == 7.0


async def test_double_tap_records_once(sandbox: SandboxServer, bot: BotRunner) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    question = sandbox.last_message(USER)
    [[(_, none_data), *_], *_] = question.buttons()
    mark = sandbox.calls[-1].seq
    sandbox.press_button(USER, question.message_id, none_data)
    sandbox.press_button(USER, question.message_id, none_data)
    calls = await sandbox.settle(USER, after_seq=mark)
    answers = [call for call in calls if call.method == "answerCallbackQuery"]
    assert len(answers) == 2
    assert any("Already saved" in str(call.params.get("text")) for call in answers)
    sent = [call for call in calls if call.method == "sendMessage"]
    assert len(sent) == 1 and "safety check" in sent[0].params["text"]


async def test_stale_and_forged_buttons_change_nothing(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    old_question = sandbox.last_message(USER)
    old_data = old_question.buttons()[0][0][1]
    await sandbox.exchange_text(USER, "/cancel")
    assert "stopped" in last_text(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    current = sandbox.last_message(USER)
    token = current.buttons()[0][0][1].split("|")[0]

    forged = [
        old_data,
        "garbage",
        f"{token}|severity|9",
        f"{token}|water|1.5",
        f"{token}|locations|+spleen",
        "x" * 64,
        "set|everything",
    ]
    for data in forged:
        mark = sandbox.calls[-1].seq
        sandbox.press_button(USER, current.message_id, data)
        calls = await sandbox.settle(USER, after_seq=mark)
        assert [call.method for call in calls] == ["answerCallbackQuery"], data
        assert calls[0].params.get("text"), data
    [state] = await rows(bot.settings.database_url, ConversationState, user_id=USER)
    assert state.step == "severity" and state.answers == {}


async def test_bad_answers_get_a_friendly_reask(sandbox: SandboxServer, bot: BotRunner) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_text(USER, "no twitching")
    await sandbox.exchange_text(USER, "nothing")
    for nonsense in ["abc", "25 hours", "-3", "🙂", "x" * 4000, "1e400", "\u202e\u202e"]:
        await sandbox.exchange_text(USER, nonsense)
        reply = last_text(sandbox)
        assert "sleep" in reply and ("6.5" in reply or "short" in reply), nonsense
    [state] = await rows(bot.settings.database_url, ConversationState, user_id=USER)
    assert state.step == "sleep" and "sleep" not in state.answers
    await sandbox.exchange_text(USER, "6,5")
    await sandbox.exchange_text(USER, "9999 mg")
    assert "200mg" in last_text(sandbox)
    await sandbox.exchange_text(USER, "1 tea")
    await sandbox.exchange_text(USER, "a bucket")
    assert "1500 ml" in last_text(sandbox)
    await sandbox.exchange_text(USER, "1500 ml")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.sleep_hours, checkin.caffeine_mg, checkin.water_litres) == (6.5, 47, 1.5)


async def test_back_button_edits_the_previous_answer(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_press(USER, "Severe")
    await sandbox.exchange_text(USER, "everywhere")
    assert "safety check" in last_text(sandbox)
    await sandbox.exchange_press(USER, "« Back")
    assert "Where" in last_text(sandbox)
    await sandbox.exchange_press(USER, "« Back")
    assert "twitching" in last_text(sandbox)
    await sandbox.exchange_press(USER, "None")
    assert "safety check" in last_text(sandbox)
    await sandbox.exchange_press(USER, "None of these")
    await sandbox.exchange_press(USER, "5 h")
    await sandbox.exchange_press(USER, "3 coffees")
    await sandbox.exchange_press(USER, "1 l")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.severity, checkin.locations, checkin.caffeine_mg) == (0, "", 285)


async def test_second_checkin_same_day_offers_an_update(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    for answer in ["none", "none", "7", "1 coffee", "2 l"]:
        await sandbox.exchange_text(USER, answer)
    await sandbox.exchange_text(USER, "/checkin")
    assert "already checked in today" in last_text(sandbox)
    await sandbox.exchange_press(USER, "Keep it")
    assert "stays as it is" in last_text(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_press(USER, "Update today's")
    for answer in ["mild", "eyelid", "none", "5", "4 coffees", "1 l"]:
        await sandbox.exchange_text(USER, answer)
    assert saved_summary(sandbox, "Updated today's check-in")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.severity, checkin.sleep_hours, checkin.caffeine_mg) == (1, 5.0, 380)


async def test_next_local_day_is_a_new_checkin(
    sandbox: SandboxServer, bot: BotRunner, clock
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    for answer in ["none", "none", "7", "1 coffee", "2 l"]:
        await sandbox.exchange_text(USER, answer)
    clock.advance(hours=15)  # 00:00 in Berlin on the 23rd
    await sandbox.exchange_text(USER, "/checkin")
    assert "twitching" in last_text(sandbox)
    for answer in ["none", "8", "0", "2 l"]:
        await sandbox.exchange_text(USER, answer)
    checkins = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert sorted(str(row.local_date) for row in checkins) == ["2026-11-22", "2026-11-23"]


async def test_settings_change_timezone_and_reminder(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/settings")
    assert "Europe/Berlin" in last_text(sandbox)
    await sandbox.exchange_press(USER, "Timezone")
    await sandbox.exchange_text(USER, "America/New_York")
    assert "Saved" in last_text(sandbox)
    await sandbox.exchange_text(USER, "/settings")
    await sandbox.exchange_press(USER, "Reminder time")
    await sandbox.exchange_text(USER, "8:30pm")
    assert "20:30" in last_text(sandbox)
    [user] = await rows(bot.settings.database_url, User, id=USER)
    assert user.timezone == "America/New_York" and str(user.reminder_time) == "20:30:00"


async def test_help_and_commands_menu(sandbox: SandboxServer, bot: BotRunner) -> None:
    await sandbox.exchange_text(USER, "/help")
    assert "/checkin" in last_text(sandbox) and "not a doctor" in last_text(sandbox)
    [menu] = sandbox.calls_of("setMyCommands")
    assert "checkin" in str(menu.params["commands"])


async def test_many_people_at_once_keep_their_answers_apart(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    people = list(range(5000, 5006))
    await asyncio.gather(*(onboard(sandbox, person) for person in people))
    for person in people:
        await sandbox.exchange_text(person, "/checkin")
    for index, person in enumerate(people):
        for answer in ["none", "none", str(4 + index), "0", "1 l"]:
            await sandbox.exchange_text(person, answer)
    engine = create_engine(bot.settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            count = await session.scalar(select(func.count()).select_from(Checkin))
            hours = dict(
                (await session.execute(select(Checkin.user_id, Checkin.sleep_hours))).all()
            )
    finally:
        await engine.dispose()
    assert count == len(people)
    assert hours == {person: float(4 + index) for index, person in enumerate(people)}


async def _to_caffeine(sandbox: SandboxServer) -> None:
    await sandbox.exchange_text(USER, "/checkin")
    for answer in ["none", "none", "7"]:
        await sandbox.exchange_text(USER, answer)
    assert "caffeine" in last_text(sandbox)


@pytest.mark.parametrize(("typed", "pressed", "mg"), [("20", "20 mg", 20), ("21", "21 mg", 21)])
async def test_a_bare_caffeine_number_is_asked_back_on_both_sides_of_twenty(
    sandbox: SandboxServer, bot: BotRunner, typed: str, pressed: str, mg: int
) -> None:
    await onboard(sandbox)
    await _to_caffeine(sandbox)
    await sandbox.exchange_text(USER, typed)
    asked = sandbox.last_message(USER)
    assert (asked.plain_text or "").startswith(f"{typed} of what?")
    labels = [label for row in asked.buttons() for label, _ in row]
    assert pressed in labels
    if int(typed) <= 20:
        assert f"{typed} × coffee ({int(typed) * 95} mg)" in labels
        assert f"{typed} × tea ({int(typed) * 47} mg)" in labels
    await sandbox.exchange_press(USER, pressed)
    assert "water" in last_text(sandbox)
    await sandbox.exchange_text(USER, "2 l")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.caffeine_mg, checkin.caffeine_servings) == (mg, None)


async def test_tea_is_not_counted_as_coffee(sandbox: SandboxServer, bot: BotRunner) -> None:
    await onboard(sandbox)
    await _to_caffeine(sandbox)
    await sandbox.exchange_press(USER, "2 teas")
    await sandbox.exchange_text(USER, "2 l")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert (checkin.caffeine_mg, checkin.caffeine_servings) == (2 * 47, 2.0)


@pytest.mark.parametrize(
    ("answer", "mg", "noted"), [("3 coffees", 285, False), ("3 coffees and a tea", 332, True)]
)
async def test_the_one_caffeine_threshold_decides_the_caffeine_note(
    sandbox: SandboxServer, bot: BotRunner, answer: str, mg: int, noted: bool
) -> None:
    """300 mg for the after-check-in note, as for /insights' "high caffeine" days."""
    await onboard(sandbox)
    await _to_caffeine(sandbox)
    await sandbox.exchange_text(USER, answer)
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "2 l")
    sent = [m.plain_text or "" for m in sandbox.new_messages_since(USER, mark)]
    assert sent and sent[0].startswith("Saved for") and f"{mg} mg" in sent[0]
    assert any("Caffeine and jumpy muscles" in text for text in sent[1:]) is noted
