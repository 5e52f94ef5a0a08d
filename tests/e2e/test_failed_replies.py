"""A reply that cannot be sent is retried; one that never arrives does not shift the answers."""

from __future__ import annotations

from bot.db.models import Checkin
from bot.delivery import RETRY_DELAYS
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_checkin import USER, last_text, onboard, rows

ATTEMPTS = len(RETRY_DELAYS) + 1


async def answer_up_to_sleep(sandbox: SandboxServer) -> None:
    await onboard(sandbox)
    await sandbox.exchange_text(USER, "/checkin")
    await sandbox.exchange_press(USER, "None")
    if "safety check" in last_text(sandbox):
        await sandbox.exchange_press(USER, "None of these")
    assert "sleep" in last_text(sandbox)


async def answer_while_replies_fail(sandbox: SandboxServer, text: str) -> None:
    """Send ``text`` while every attempt at the reply fails; wait for the apology after."""
    sandbox.fail_next(
        "sendMessage", error_code=500, description="Internal Server Error", times=ATTEMPTS
    )
    mark = sandbox.last_seq
    sandbox.send_text(USER, text)
    await sandbox.wait_for_call(
        lambda call: call.method == "sendMessage" and "went wrong" in str(call.params.get("text")),
        after_seq=mark,
        timeout=20,
    )
    await sandbox.settle(USER, after_seq=mark)


async def test_a_passing_server_error_on_a_reply_is_retried(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await answer_up_to_sleep(sandbox)
    sandbox.fail_next("sendMessage", error_code=500, description="Internal Server Error")
    await sandbox.exchange_text(USER, "6.5", quiet=0.5)
    assert "caffeine" in last_text(sandbox)
    assert not any("went wrong" in (m.plain_text or "") for m in sandbox.messages(USER))


async def test_a_retyped_answer_after_an_undelivered_question_is_not_taken_for_the_next(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await answer_up_to_sleep(sandbox)
    # Every attempt to send the caffeine question fails; the "sorry" afterwards gets through.
    await answer_while_replies_fail(sandbox, "6.5")

    # The person never saw the caffeine question, so they type their sleep again.
    await sandbox.exchange_text(USER, "6.5")
    assert "didn't reach you" in last_text(sandbox)
    assert "caffeine" in last_text(sandbox)
    await sandbox.exchange_text(USER, "2 coffees")
    assert "water" in last_text(sandbox)
    await sandbox.exchange_text(USER, "1.5 l")

    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert checkin.sleep_hours == 6.5
    assert checkin.caffeine_mg == 190 and checkin.caffeine_servings == 2
    assert checkin.water_litres == 1.5


async def test_an_answer_that_fits_only_the_unseen_question_gets_that_question_shown(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await answer_up_to_sleep(sandbox)
    await answer_while_replies_fail(sandbox, "6.5")
    # Not a sleep answer: shown the caffeine question rather than taken for it unseen.
    await sandbox.exchange_text(USER, "2 coffees")
    assert "didn't reach you" in last_text(sandbox) and "caffeine" in last_text(sandbox)
    await sandbox.exchange_text(USER, "3 coffees")
    assert "water" in last_text(sandbox)
    await sandbox.exchange_text(USER, "1 l")
    [checkin] = await rows(bot.settings.database_url, Checkin, user_id=USER)
    assert checkin.sleep_hours == 6.5 and checkin.caffeine_servings == 3
