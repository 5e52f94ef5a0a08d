"""Short typed answers repeat ("6.5", "two cups of coffee"): their red-flag reading (rules,
and the model for three words or more) is worked out once per process, not once per
message; longer messages are read every time."""

from __future__ import annotations

import dataclasses
import itertools

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content_bundle import load_bundle
from bot.db.session import create_session_factory
from bot.domain.triage_opinion import Opinion
from bot.paths import CONTENT_DIR
from bot.services.conversations import ConversationService

CONTENT = load_bundle(CONTENT_DIR)
SHORT = "two cups of coffee"
LONG = "my eyelid has been twitching on and off all week, mostly in the evening after work"


async def test_short_texts_are_read_once_and_long_ones_every_time(engine: AsyncEngine) -> None:
    scorer = CONTENT.opinion
    assert scorer is not None
    read: list[str] = []

    def counting(text: str) -> Opinion:
        read.append(text)
        return scorer(text)

    content = dataclasses.replace(CONTENT, opinion=counting)
    service = ConversationService(
        create_session_factory(engine), content, default_timezone="Europe/Berlin"
    )
    update_ids = itertools.count(1)
    first = await service.answer_text(501, next(update_ids), SHORT)
    again = await service.answer_text(502, next(update_ids), SHORT)
    for _ in range(2):
        await service.answer_text(503, next(update_ids), LONG)
    assert first == again
    assert read == [SHORT, LONG, LONG]
