"""A flood from one chat delays only that chat, and 150 identical /report are answered once."""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox.models import ApiCall
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_records import USER, seed_four_weeks

OTHER = 5151
FLOOD = 150


def in_chat(chat_id: int, method: str | None = None) -> Callable[[ApiCall], bool]:
    def matches(call: ApiCall) -> bool:
        return str(call.params.get("chat_id")) == str(chat_id) and (
            method is None or call.method == method
        )

    return matches


async def test_a_report_flood_from_one_chat_does_not_hold_up_another_chat(
    sandbox: SandboxServer, bot: BotRunner
) -> None:
    await seed_four_weeks(bot.settings.database_url)
    mark = sandbox.last_seq
    for _ in range(FLOOD):
        sandbox.send_text(USER, "/report")
    sandbox.send_text(OTHER, "/help")

    help_reply = await sandbox.wait_for_call(in_chat(OTHER, "sendMessage"), after_seq=mark)
    first_pdf = await sandbox.wait_for_call(
        in_chat(USER, "sendDocument"), after_seq=mark, timeout=60
    )
    await sandbox.wait_until_confirmed(timeout=60)
    calls = await sandbox.settle(USER, after_seq=mark, quiet=0.5, timeout=60)

    # The other person's /help is answered before the flooding chat's (only) report is out.
    assert help_reply.seq < first_pdf.seq
    documents = [call for call in calls if call.method == "sendDocument"]
    assert documents == [first_pdf]
    texts = [str(call.params.get("text", "")) for call in calls if call.method == "sendMessage"]
    assert sum(text.startswith("Still working on that one") for text in texts) == 1
    assert len(texts) <= 3  # the report's own lines and one "still working": no 150 replies
