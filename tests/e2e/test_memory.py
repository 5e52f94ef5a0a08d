"""Memory that must not grow with the number of people: PTB's persistence bookkeeping.

python-telegram-bot's Application remembers every user and chat id that sent an update "to
be updated in persistence", even when no persistence is configured, so without care it keeps
one entry per person for as long as it runs (~13 MB at 100k people).
"""

from __future__ import annotations

from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner

PEOPLE = range(7_000, 7_012)


async def test_no_ids_are_kept_for_a_persistence_that_is_not_there(
    bot: BotRunner, sandbox: SandboxServer
) -> None:
    for user_id in PEOPLE:
        await sandbox.exchange_text(user_id, "/help")
    application = bot.application
    assert application is not None and application.persistence is None
    assert application._user_ids_to_be_updated_in_persistence == set()
    assert application._chat_ids_to_be_updated_in_persistence == set()
