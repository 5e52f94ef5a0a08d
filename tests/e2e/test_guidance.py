"""Snippets, /learn, plain questions and red-flag escalation, through the real bot."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.db.models import Checkin, Escalation, SnippetView
from bot.db.session import create_engine, create_session_factory
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_checkin import USER, last_text, onboard, rows

MARKERS = ("🚨", "⚠️", "⚠")


def texts_since(sandbox: SandboxServer, seq: int, user: int = USER) -> list[str]:
    return [message.plain_text or "" for message in sandbox.new_messages_since(user, seq)]


async def checkin(sandbox: SandboxServer, answers: list[str], user: int = USER) -> list[str]:
    """Run /checkin with typed answers; the messages the bot sent meanwhile."""
    mark = sandbox.last_seq
    await sandbox.exchange_text(user, "/checkin")
    for answer in answers:
        await sandbox.exchange_text(user, answer)
    return texts_since(sandbox, mark, user)


async def test_little_water_much_coffee_short_night_get_their_snippets(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    sent = await checkin(sandbox, ["none", "none", "5 hours", "4 coffees", "0.5 l"])
    after = sent[sent.index(next(t for t in sent if t.startswith("Saved for"))) + 1 :]
    assert len(after) == 3
    joined = "\n".join(after).casefold()
    assert "water" in joined and "caffeine" in joined and "sleep" in joined
    assert all("Source:" in text and ".txt" in text for text in after)
    assert not any(text.startswith(MARKERS) for text in sent)
    views = await rows(bot.settings.database_url, SnippetView, user_id=USER)
    assert len(views) == 3 and {view.via for view in views} == {"checkin"}
    assert all(view.content_version for view in views)


async def test_calm_days_get_a_general_tip_that_changes(
    sandbox: SandboxServer, bot: BotRunner, clock
) -> None:
    await onboard(sandbox)
    tips = []
    for day in range(3):
        answers = ["none", "none", "8", "0", "2 l"] if day == 0 else ["none", "8", "0", "2 l"]
        sent = await checkin(sandbox, answers)
        saved = next(i for i, text in enumerate(sent) if text.startswith("Saved for"))
        assert len(sent[saved + 1 :]) == 1, "a calm day gets one general tip"
        tips.append(sent[saved + 1])
        clock.advance(days=1)
    assert len(set(tips)) == 3
    assert all("Source:" in tip for tip in tips)


async def test_learn_menu_and_pages(sandbox: SandboxServer, bot: BotRunner) -> None:
    await sandbox.exchange_text(USER, "/learn")
    menu = sandbox.last_message(USER)
    labels = [text for row in menu.buttons() for text, _ in row]
    assert len(labels) >= 10
    await sandbox.exchange_press(USER, labels[2])
    page = sandbox.last_message(USER)
    assert page.message_id == menu.message_id, "pages edit the menu message"
    assert "1/" in (page.plain_text or "") and "Source:" in (page.plain_text or "")
    await sandbox.exchange_press(USER, "Next ›")
    assert "2/" in last_text(sandbox)
    await sandbox.exchange_press(USER, "‹ Previous")
    assert "1/" in last_text(sandbox)
    await sandbox.exchange_press(USER, "All topics")
    assert "Pick a topic" in last_text(sandbox)
    for forged in ["learn|nope|0", "learn|magnesium|999", "learn|magnesium|-1"]:
        mark = sandbox.last_seq
        sandbox.press_button(USER, menu.message_id, forged)
        calls = await sandbox.settle(USER, after_seq=mark)
        assert [call.method for call in calls] == ["answerCallbackQuery"]


async def test_plain_questions_are_answered_from_the_content(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "what foods have magnesium?")
    answer = "\n".join(texts_since(sandbox, mark)).casefold()
    assert "magnesium" in answer and "source:" in answer
    await sandbox.exchange_text(USER, "who won the match yesterday?")
    assert "don't have an answer" in last_text(sandbox)
    # A topic the pack does not cover, asked without a question mark: said so, with who to ask.
    await sandbox.exchange_text(USER, "thyroid and twitching")
    assert "don't have an answer" in last_text(sandbox) and "doctor" in last_text(sandbox)
    await sandbox.exchange_text(USER, "thanks")
    assert "/checkin" in last_text(sandbox)


async def test_plain_questions_without_a_question_mark_are_answered(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    """Everyday wording reaches the content; late check-in answers and red flags do not."""
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "b12 stuff pls")
    [answer] = texts_since(sandbox, mark)[:1]
    assert "B12" in answer and "Source:" in answer
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "do i have als")
    sent = texts_since(sandbox, mark)
    assert sent[0].startswith("Worried it could be ALS or MND?")
    assert "weakness that keeps getting worse" in sent[0] and "NHS" in sent[0]
    assert not any("seizure" in text.casefold() for text in sent)
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "2 coffees")
    [pointer] = texts_since(sandbox, mark)
    assert "/checkin" in pointer and "Source:" not in pointer
    await onboard(sandbox)
    mark = sandbox.last_seq
    await sandbox.exchange_text(
        USER, "is this als, my hand is getting weaker, I keep dropping things"
    )
    [escalation] = texts_since(sandbox, mark)
    assert escalation.startswith("⚠️"), "a red flag is escalated, not answered as a question"
    assert "Source:" not in escalation


async def test_screen_flag_escalates_mid_checkin_without_losing_it(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_press(USER, "Moderate")
    await sandbox.exchange_text(USER, "calves")
    await sandbox.exchange_press(USER, "☐ Trouble breathing")
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, "Done")
    sent = texts_since(sandbox, mark)
    [escalation] = [text for text in sent if text.startswith(MARKERS)]
    assert escalation.startswith("🚨") and "breath" in escalation.casefold()
    assert "112" in escalation and "911" in escalation and "999" in escalation
    assert sent.index(escalation) < len(sent) - 1 and "sleep" in sent[-1]
    for answer in ["6", "1 coffee", "2 l"]:
        await sandbox.exchange_text(USER, answer)
    [stored] = await rows(bot.settings.database_url, Escalation, user_id=USER)
    assert (stored.tier, stored.origin) == (2, "screen")
    assert stored.reasons and stored.sources
    [row] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert row.screen == ["breathing"] and row.severity == 2


async def test_free_text_emergency_mid_checkin_keeps_the_question(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    for answer in ["none", "none"]:
        await sandbox.exchange_text(USER, answer)
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "I suddenly can't swallow and I'm choking")
    sent = texts_since(sandbox, mark)
    assert sent[0].startswith("🚨")
    assert "sleep" in sent[-1]
    await sandbox.exchange_text(USER, "7")
    assert "caffeine" in last_text(sandbox)
    [stored] = await rows(bot.settings.database_url, Escalation, user_id=USER)
    assert (stored.tier, stored.origin) == (2, "text")


async def test_free_text_outside_a_checkin_and_negations(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "no weakness, no numbness, just my eyelid twitching")
    assert not any(text.startswith(MARKERS) for text in texts_since(sandbox, mark))
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "my hand has felt weak for days and I keep dropping things")
    [message] = texts_since(sandbox, mark)
    assert message.startswith("⚠️") and "weak" in message.casefold()
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "still dropping things, my grip is weak")
    assert not any(text.startswith(MARKERS) for text in texts_since(sandbox, mark)), (
        "the same reason is not repeated the same day"
    )


async def test_a_benign_checkin_never_shows_a_marker(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    sent = await checkin(sandbox, ["mild", "eyelid", "none", "7.5", "1 coffee", "2 l"])
    assert sent and not any(text.startswith(MARKERS) for text in sent)
    assert await rows(bot.settings.database_url, Escalation, user_id=USER) == []


async def test_fourteen_days_of_twitching_raise_the_consult_tier_once(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    today = date(2026, 11, 22)
    engine = create_engine(bot.settings.database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            for back in range(1, 14):
                session.add(
                    Checkin(
                        user_id=USER,
                        local_date=today - timedelta(days=back),
                        severity=1,
                        locations="eyelid_face",
                        sleep_hours=7.5,
                        caffeine_mg=95,
                        water_litres=2.0,
                        screen=[] if back == 1 else None,
                    )
                )
    finally:
        await engine.dispose()
    sent = await checkin(sandbox, ["mild", "eyelid", "none", "7.5", "1 coffee", "2 l"])
    flagged = [text for text in sent if text.startswith(MARKERS)]
    assert len(flagged) == 1 and flagged[0].startswith("⚠️")
    assert "two weeks" in flagged[0] or "2 weeks" in flagged[0] or "14" in flagged[0]
    saved = next(i for i, text in enumerate(sent) if text.startswith("Saved for"))
    assert sent.index(flagged[0]) < saved
    stored = await rows(bot.settings.database_url, Escalation, user_id=USER)
    assert [(row.tier, row.origin) for row in stored] == [(1, "history")]

    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_press(USER, "Update today's")
    mark = sandbox.last_seq
    for answer in ["mild", "eyelid", "none", "7", "1 coffee", "2 l"]:
        await sandbox.exchange_text(USER, answer)
    assert not any(text.startswith(MARKERS) for text in texts_since(sandbox, mark))
    assert len(await rows(bot.settings.database_url, Escalation, user_id=USER)) == 1


async def test_no_health_data_stored_for_people_who_did_not_consent(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, "I have crushing chest pain")
    assert texts_since(sandbox, mark)[0].startswith("🚨")
    engine = create_engine(bot.settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            assert (await session.execute(select(Escalation))).first() is None
    finally:
        await engine.dispose()
