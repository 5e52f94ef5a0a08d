"""Two bot instances (two engines, one database) racing on one person's updates."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import Checkin
from bot.domain import conversation as conv
from bot.services import conversations as svc
from tests.integration.test_conversation_service import USER, Harness, clock, unwrap, url_of
from tests.support.clock import FakeClock

__all__ = ["clock"]  # the fixture, shared with the conversation service tests

LOCATIONS = ["eyelid_face", "arms_hands", "legs_feet", "torso"]
SCRIPT = [
    ("none", "screen"),
    ("none of these", "sleep"),
    ("6.5", "caffeine"),
    ("2 coffees", "water"),
]


async def test_both_instances_given_every_update_act_once_each_in_order(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    first, second = Harness(url_of(engine), clock), Harness(url_of(engine), clock)
    try:
        await first.onboard()
        assert isinstance(await first.service.begin_checkin(USER, first.next_id()), svc.Ask)
        updates = [(first.next_id(), text) for text, _ in SCRIPT] + [(first.next_id(), "1.5 l")]

        async def deliver(harness: Harness) -> list[tuple[int, Any]]:
            return [
                (update_id, unwrap(await harness.service.answer_text(USER, update_id, text)))
                for update_id, text in updates
            ]

        seen_by = await asyncio.gather(deliver(first), deliver(second))
        acted: dict[int, Any] = {}
        for results in seen_by:
            for update_id, result in results:
                if not isinstance(result, svc.Duplicate):
                    assert update_id not in acted, "an update acted twice"
                    acted[update_id] = result
        assert sorted(acted) == [update_id for update_id, _ in updates]  # one effect each
        steps = [acted[update_id].draft.step for update_id, _ in updates[:-1]]
        assert steps == [step for _, step in SCRIPT]  # in order: each answer to its question
        assert isinstance(acted[updates[-1][0]], svc.CheckinSaved)
        [row] = await first.rows(Checkin, user_id=USER)
        assert (row.sleep_hours, row.caffeine_servings, row.water_litres) == (6.5, 2, 1.5)
    finally:
        await first.close()
        await second.close()


async def test_concurrent_presses_through_two_instances_each_take_effect(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    """Without per-person serialisation two transactions read the same draft and the later
    write drops the earlier tick."""
    first, second = Harness(url_of(engine), clock), Harness(url_of(engine), clock)
    try:
        await first.onboard()
        await first.service.begin_checkin(USER, first.next_id())
        await first.press("2")
        state = await first.state()
        assert state is not None and state.step == "locations"
        for sign in ["+", "-", "+", "-"]:
            presses = [
                (first if index % 2 else second).service.answer_press(
                    USER,
                    first.next_id(),
                    conv.encode_callback(state.token, "locations", sign + value),
                )
                for index, value in enumerate(LOCATIONS)
            ]
            results = await asyncio.gather(*presses)
            assert all(isinstance(result, svc.Ask) for result in results)
            after = await first.state()
            assert after is not None
            expected = set(LOCATIONS) if sign == "+" else set()
            assert set(after.answers.get("locations", [])) == expected
    finally:
        await first.close()
        await second.close()
