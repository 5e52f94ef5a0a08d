"""Bystander emergencies and the uncertain-middle question, through the real bot.

The messages here carry no rule trigger word (or only someone else's), so the learned
opinion decides; they were chosen against the trained model (rules + model decision:
`python -m benchmarks.triage_blind` scores the same path).
"""

from __future__ import annotations

from bot.db.models import Checkin, ConversationState, Escalation
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_checkin import USER, last_text, onboard, rows
from tests.e2e.test_guidance import MARKERS, texts_since

BYSTANDER = "my dad has gone down on the kitchen floor and won't respond"
THIN_URGENT = "feeling a bit off in my chest"  # asks "is this happening right now?"
THIN_CONSULT = "my voice sounds different"  # asks "is it new or getting worse?"


def new_texts(sandbox: SandboxServer, mark: int) -> list[str]:
    """Messages the bot sent since `mark`, without the pressed question edited in place."""
    return [text for text in texts_since(sandbox, mark) if "\n\n→ " not in text]


async def test_someone_elses_emergency_tells_the_helper_to_call_for_them(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, BYSTANDER)
    [message] = new_texts(sandbox, mark)
    assert message.startswith("🚨")
    assert "call an emergency number for them" in message
    assert "112" in message and "911" in message and "999" in message
    assert "stay with them" in message
    # Someone else's emergency is not the writer's health record.
    assert await rows(bot.settings.database_url, Escalation, user_id=USER) == []


async def test_thin_urgent_evidence_asks_and_yes_means_emergency(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, THIN_URGENT)
    [question] = new_texts(sandbox, mark)
    assert "happening right now?" in question and not question.startswith(MARKERS)
    assert await rows(bot.settings.database_url, Escalation, user_id=USER) == []
    asked = sandbox.last_message(USER)
    [(_, yes_data), _] = asked.buttons()[0]
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, "Yes")
    [escalation] = new_texts(sandbox, mark)
    assert escalation.startswith("🚨") and "112" in escalation
    [stored] = await rows(bot.settings.database_url, Escalation, user_id=USER)
    assert (stored.tier, stored.origin) == (2, "check")
    # The question's buttons are spent: a second tap (or forged data) changes nothing.
    for data in [yes_data, yes_data.replace("|yes", "|maybe")]:
        mark = sandbox.last_seq
        sandbox.press_button(USER, asked.message_id, data)
        calls = await sandbox.settle(USER, after_seq=mark)
        assert [call.method for call in calls] == ["answerCallbackQuery"]
    assert len(await rows(bot.settings.database_url, Escalation, user_id=USER)) == 1


async def test_thin_evidence_no_means_consult_or_nothing(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, THIN_URGENT)
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, "No")
    [consult] = new_texts(sandbox, mark)
    assert consult.startswith("⚠️")
    await sandbox.exchange_text(USER, THIN_CONSULT)
    assert "new, or getting worse?" in last_text(sandbox)
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, "No")
    [calm] = new_texts(sandbox, mark)
    assert not calm.startswith(MARKERS) and "good to know" in calm
    [stored] = await rows(bot.settings.database_url, Escalation, user_id=USER)
    assert stored.tier == 1
    # A second thin message the same day: answered Yes, the consult is not told twice.
    await sandbox.exchange_text(USER, THIN_CONSULT)
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, "Yes")
    [told] = new_texts(sandbox, mark)
    assert told.startswith("⚠️") or "good to know" in told  # consult already told today


async def test_the_question_interrupts_a_checkin_without_losing_it(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_press(USER, "None")
    await sandbox.exchange_press(USER, "None of these")  # the first weekly safety check
    assert "sleep" in last_text(sandbox).casefold()
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, THIN_URGENT)
    sent = new_texts(sandbox, mark)
    assert "happening right now?" in sent[0] and "sleep" in sent[-1].casefold()
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, "Yes")
    sent = new_texts(sandbox, mark)
    assert sent[0].startswith("🚨") and "sleep" in sent[-1].casefold()
    for answer in ["7", "1 coffee", "2 l"]:
        await sandbox.exchange_text(USER, answer)
    [row] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert row.sleep_hours == 7 and row.water_litres == 2
    assert await rows(bot.settings.database_url, ConversationState, user_id=USER) == []


async def test_nothing_is_stored_before_consent(sandbox: SandboxServer, bot: BotRunner) -> None:
    mark = sandbox.last_seq
    await sandbox.exchange_text(USER, THIN_URGENT)
    [question] = new_texts(sandbox, mark)
    assert "happening right now?" in question
    assert await rows(bot.settings.database_url, ConversationState, user_id=USER) == []
    mark = sandbox.last_seq
    await sandbox.exchange_press(USER, "Yes")
    [escalation] = new_texts(sandbox, mark)
    assert escalation.startswith("🚨")
    assert await rows(bot.settings.database_url, Escalation, user_id=USER) == []
    assert await rows(bot.settings.database_url, ConversationState, user_id=USER) == []
