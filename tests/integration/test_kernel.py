"""Two bot instances (two engines, one database) racing on one person's updates.

The second instance runs on its own thread and event loop, as another process would: with
the inline SQLite driver a statement waiting on the file lock blocks its own loop, which in
one shared loop would also stop the instance holding the lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import Checkin
from bot.domain import conversation as conv
from bot.services import conversations as svc
from tests.integration.test_conversation_service import USER, Harness, clock, unwrap, url_of
from tests.support.clock import FakeClock

__all__ = ["clock"]  # the fixture, shared with the conversation service tests

T = TypeVar("T")


async def as_other_instance(
    url: str, clock: FakeClock, work: Callable[[Harness], Awaitable[T]]
) -> T:
    """Run ``work`` with a Harness of its own on a thread with its own event loop."""

    async def main() -> T:
        harness = Harness(url, clock)
        try:
            return await work(harness)
        finally:
            await harness.close()

    return await asyncio.to_thread(asyncio.run, main())


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
    first = Harness(url_of(engine), clock)
    try:
        await first.onboard()
        assert isinstance(await first.service.begin_checkin(USER, first.next_id()), svc.Ask)
        updates = [(first.next_id(), text) for text, _ in SCRIPT] + [(first.next_id(), "1.5 l")]

        async def deliver(harness: Harness) -> list[tuple[int, Any]]:
            return [
                (update_id, unwrap(await harness.service.answer_text(USER, update_id, text)))
                for update_id, text in updates
            ]

        seen_by = await asyncio.gather(
            deliver(first), as_other_instance(url_of(engine), clock, deliver)
        )
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


async def test_concurrent_presses_through_two_instances_each_take_effect(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    """Without per-person serialisation two transactions read the same draft and the later
    write drops the earlier tick."""
    first = Harness(url_of(engine), clock)
    try:
        await first.onboard()
        await first.service.begin_checkin(USER, first.next_id())
        await first.press("2")
        state = await first.state()
        assert state is not None and state.step == "locations"
        for sign in ["+", "-", "+", "-"]:

            def press_all(
                harness: Harness, values: list[str], sign: str = sign
            ) -> Awaitable[list[Any]]:
                return asyncio.gather(
                    *(
                        harness.service.answer_press(
                            USER,
                            harness.next_id(),
                            conv.encode_callback(state.token, "locations", sign + value),
                        )
                        for value in values
                    )
                )

            here, there = LOCATIONS[::2], LOCATIONS[1::2]
            mine, theirs = await asyncio.gather(
                press_all(first, here),
                as_other_instance(url_of(engine), clock, partial(press_all, values=there)),
            )
            assert all(isinstance(result, svc.Ask) for result in [*mine, *theirs])
            after = await first.state()
            assert after is not None
            expected = set(LOCATIONS) if sign == "+" else set()
            assert set(after.answers.get("locations", [])) == expected
    finally:
        await first.close()
