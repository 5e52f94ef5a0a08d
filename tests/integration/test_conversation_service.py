"""The data layer through ConversationService, on SQLite and on PostgreSQL.

The service is built the way the bot builds it (bot.app.build_deps) on a migrated database, and
every claim of issue 2 about stored state is checked by reading the tables back: consent first,
one effect per update id, exactly the answers stored, one row per person and local day, stale or
forged buttons harmless, and an unfinished conversation that survives a restart.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_deps
from bot.config import Settings
from bot.content_bundle import ContentBundle, load_bundle
from bot.db.models import (
    Checkin,
    ConsentRequest,
    ConversationState,
    Escalation,
    ProcessedUpdate,
    SnippetView,
    User,
)
from bot.db.session import create_engine, create_session_factory
from bot.domain import conversation as conv
from bot.paths import CONTENT_DIR
from bot.services import conversations as svc
from tests.support.clock import FakeClock

CONTENT: ContentBundle = load_bundle(CONTENT_DIR)
USER = 4242
# Tables that hold what the bot knows about a person (processed_updates is bookkeeping).
PERSONAL_TABLES: tuple[type[Any], ...] = (
    User,
    Checkin,
    ConversationState,
    Escalation,
    SnippetView,
    ConsentRequest,
)


@dataclass(frozen=True)
class Text:
    """A typed answer."""

    text: str


@dataclass(frozen=True)
class Press:
    """A press of the button with this value on the open question."""

    value: str


Script = Mapping[str, Sequence[Text | Press]]

# A full check-in with twitching in one place (ticked twice, another ticked and unticked); the
# red-flag screen is answered "none of these", or "nothing new" when the short one is asked.
FULL_CHECKIN: Script = {
    "severity": [Press("2")],
    "locations": [
        Press("+legs_feet"),
        Press("+eyelid_face"),
        Press("+eyelid_face"),
        Press("-legs_feet"),
        Press("!"),
    ],
    "screen": [Press(CONTENT.catalog.none_option_id)],
    "screen_new": [Press("no")],  # asked instead of the full list within a week of it
    "sleep": [Text("6h30")],
    "caffeine": [Text("2 coffees")],
    "water": [Text("1.5 l")],
}
QUIET_DAY: Script = {
    "severity": [Text("none")],
    "screen": [Text("none")],
    "sleep": [Press("8")],
    "caffeine": [Press("0")],
    "water": [Press("2")],
}


class Harness:
    """One bot process: a service on its own engine, plus fresh update ids."""

    update_ids: Iterator[int] = itertools.count(1_000)

    def __init__(self, url: str, clock: FakeClock) -> None:
        self.url = url
        self.clock = clock
        self.engine = create_engine(url)
        settings = Settings(
            telegram_bot_token="",
            database_url=url,
            default_timezone="Europe/Berlin",
            _env_file=None,
        )
        deps = build_deps(settings, create_session_factory(self.engine), CONTENT, clock)
        self.service: svc.ConversationService = deps.conversations

    def next_id(self) -> int:
        return next(self.update_ids)

    async def close(self) -> None:
        await self.engine.dispose()

    async def rows(self, model: type[Any], **where: object) -> list[Any]:
        async with create_session_factory(self.engine)() as session:
            return list((await session.execute(select(model).filter_by(**where))).scalars())

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every personal row, as plain tuples, to compare before and after."""
        found: dict[str, list[tuple[Any, ...]]] = {}
        async with self.engine.connect() as connection:
            for model in PERSONAL_TABLES:
                table = model.__table__
                result = await connection.execute(select(table).order_by(*table.primary_key))
                found[table.name] = [tuple(row) for row in result]
        return found

    async def state(self, user_id: int = USER) -> ConversationState | None:
        found = await self.rows(ConversationState, user_id=user_id)
        return found[0] if found else None

    # -- the person's side

    async def press(self, value: str, *, user_id: int = USER, step: str | None = None) -> Any:
        """Press a button of the open question (its current token), like the keyboard would."""
        state = await self.state(user_id)
        if state is not None:
            token, open_step = state.token, state.step
        else:  # before consent, the open question is the pending consent request
            pending = await self.rows(ConsentRequest, user_id=user_id)
            assert pending, "no open question to press a button of"
            token, open_step = pending[0].token, "consent"
        data = conv.encode_callback(token, step or open_step, value)
        return await self.service.answer_press(user_id, self.next_id(), data)

    async def say(self, text: str, *, user_id: int = USER) -> Any:
        return await self.service.answer_text(user_id, self.next_id(), text)

    async def onboard(self, *, user_id: int = USER, timezone: str = "Europe/Berlin") -> None:
        assert isinstance(await self.service.start(user_id, self.next_id()), svc.Ask)
        await self.press("yes", user_id=user_id)
        await self.say(timezone, user_id=user_id)
        saved = unwrap(await self.press("09:00", user_id=user_id))
        assert isinstance(saved, svc.SettingsSaved) and saved.timezone == timezone

    async def answer(self, script: Script, *, user_id: int = USER) -> Any:
        """Answer each open question from the script until the conversation ends, or until a
        question the script leaves unanswered (an empty list) is open."""
        result: Any = None
        for _ in range(20):
            state = await self.state(user_id)
            if state is None or not script.get(state.step, [None]):
                return unwrap(result)
            assert state.step in script, f"unexpected question {state.step!r}"
            for given in script[state.step]:
                if isinstance(given, Text):
                    result = await self.say(given.text, user_id=user_id)
                else:
                    result = await self.press(given.value, user_id=user_id)
        raise AssertionError("the conversation did not end")

    async def checkin(self, script: Script, *, user_id: int = USER) -> svc.CheckinSaved:
        started = unwrap(await self.service.begin_checkin(user_id, self.next_id()))
        assert isinstance(started, svc.Ask) and started.draft.step == "severity", started
        saved = await self.answer(script, user_id=user_id)
        assert isinstance(saved, svc.CheckinSaved), saved
        return saved


def unwrap(result: Any) -> Any:
    """The result behind any escalation shown in front of it."""
    while isinstance(result, svc.Escalated):
        result = result.then
    return result


def url_of(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(engine: AsyncEngine, clock: FakeClock) -> AsyncIterator[Harness]:
    harness = Harness(url_of(engine), clock)
    try:
        yield harness
    finally:
        await harness.close()


# --- onboarding and consent -------------------------------------------------------------


async def test_onboarding_stores_consent_at_once_and_settings_at_the_end(
    bot: Harness, clock: FakeClock
) -> None:
    assert isinstance(await bot.service.start(USER, bot.next_id()), svc.Ask)
    assert await bot.rows(User, id=USER) == []
    assert len(await bot.rows(ConsentRequest, user_id=USER)) == 1
    await bot.press("yes")
    assert await bot.rows(ConsentRequest, user_id=USER) == []
    [user] = await bot.rows(User, id=USER)
    assert user.consented_at is not None
    assert user.consented_at.replace(tzinfo=UTC) == clock.now.replace(tzinfo=UTC)
    assert (user.timezone, user.reminder_time) == (None, None)

    await bot.say("Berlin")
    [user] = await bot.rows(User, id=USER)
    assert (user.timezone, user.reminder_time) == (None, None)
    state = await bot.state()
    assert state is not None and state.step == "reminder"

    saved = unwrap(await bot.say("8pm"))
    assert saved == svc.SettingsSaved(
        timezone="Europe/Berlin", reminder=saved.reminder, first_time=True
    )
    [user] = await bot.rows(User, id=USER)
    assert user.consented_at is not None
    assert user.consented_at.replace(tzinfo=UTC) == clock.now.replace(tzinfo=UTC)
    assert user.timezone == "Europe/Berlin"
    assert user.reminder_time is not None and user.reminder_time.strftime("%H:%M") == "20:00"
    assert await bot.state() is None

    welcome = await bot.service.start(USER, bot.next_id())
    assert isinstance(welcome, svc.Welcome) and welcome.timezone == "Europe/Berlin"


async def test_nothing_about_health_is_stored_before_consent(bot: Harness) -> None:
    assert await bot.service.begin_checkin(USER, bot.next_id()) == svc.NeedsOnboarding()
    await bot.service.start(USER, bot.next_id())
    # A worrying message before consent is answered (escalated) but never stored.
    told = await bot.say("my arms feel weak")
    assert isinstance(told, svc.Escalated)
    assert await bot.service.begin_checkin(USER, bot.next_id()) == svc.NeedsOnboarding()
    assert unwrap(await bot.press("no")) == svc.Simple("consent_declined")

    snapshot = await bot.snapshot()
    assert snapshot["checkins"] == [] and snapshot["escalations"] == []
    assert snapshot["conversation_states"] == [] and snapshot["snippet_views"] == []
    assert snapshot["users"] == [] and snapshot["consent_requests"] == []
    assert await bot.service.begin_checkin(USER, bot.next_id()) == svc.NeedsOnboarding()


async def test_settings_need_onboarding_first(bot: Harness) -> None:
    result = await bot.service.open_settings(USER, bot.next_id(), "timezone")
    assert result == svc.NeedsOnboarding()
    assert (await bot.snapshot())["conversation_states"] == []


# --- one effect per update id -----------------------------------------------------------


async def _repeat_is_a_duplicate(bot: Harness, action: Any) -> Any:
    """Run `action(update_id)` twice with the same id: the second is a Duplicate, no effect."""
    update_id = bot.next_id()
    first = await action(update_id)
    before = await bot.snapshot()
    assert await action(update_id) == svc.Duplicate()
    assert await bot.snapshot() == before
    [claimed] = await bot.rows(ProcessedUpdate, update_id=update_id)
    assert claimed.update_id == update_id
    return first


async def test_a_repeated_start_is_a_duplicate(bot: Harness) -> None:
    first = await _repeat_is_a_duplicate(bot, lambda uid: bot.service.start(USER, uid))
    assert isinstance(first, svc.Ask) and first.draft.step == "consent"


async def test_a_repeated_press_and_text_are_duplicates(bot: Harness) -> None:
    asked = await bot.service.start(USER, bot.next_id())
    assert isinstance(asked, svc.Ask)
    consent = conv.encode_callback(asked.draft.token, "consent", "yes")
    moved = await _repeat_is_a_duplicate(
        bot, lambda uid: bot.service.answer_press(USER, uid, consent)
    )
    assert isinstance(moved, svc.Ask) and moved.draft.step == "timezone"
    moved = await _repeat_is_a_duplicate(
        bot, lambda uid: bot.service.answer_text(USER, uid, "Berlin")
    )
    assert isinstance(moved, svc.Ask) and moved.draft.step == "reminder"


async def test_a_repeated_checkin_and_cancel_are_duplicates(bot: Harness) -> None:
    await bot.onboard()
    started = await _repeat_is_a_duplicate(bot, lambda uid: bot.service.begin_checkin(USER, uid))
    assert isinstance(started, svc.Ask) and started.draft.step == "severity"
    await bot.say("mild")
    cancelled = await _repeat_is_a_duplicate(bot, lambda uid: bot.service.cancel(USER, uid))
    assert cancelled == svc.Simple("cancelled")
    assert await bot.state() is None


async def test_the_last_answer_delivered_twice_stores_one_checkin(bot: Harness) -> None:
    await bot.onboard()
    await bot.service.begin_checkin(USER, bot.next_id())
    await bot.answer({**QUIET_DAY, "water": []})
    saved = await _repeat_is_a_duplicate(bot, lambda uid: bot.service.answer_text(USER, uid, "2 l"))
    assert isinstance(unwrap(saved), svc.CheckinSaved)
    assert len(await bot.rows(Checkin, user_id=USER)) == 1


async def test_an_update_id_is_claimed_once_whatever_it_carries(bot: Harness) -> None:
    await bot.onboard()
    update_id = bot.next_id()
    assert isinstance(await bot.service.begin_checkin(USER, update_id), svc.Ask)
    before = await bot.snapshot()
    assert await bot.service.answer_text(USER, update_id, "none") == svc.Duplicate()
    assert await bot.service.cancel(USER, update_id) == svc.Duplicate()
    assert await bot.snapshot() == before


# --- the check-in -----------------------------------------------------------------------


async def test_a_full_checkin_stores_exactly_the_answers(bot: Harness) -> None:
    await bot.onboard()
    saved = await bot.checkin(FULL_CHECKIN)
    assert saved.updated is False and saved.local_date == date(2026, 11, 22)

    [row] = await bot.rows(Checkin, user_id=USER)
    assert row.local_date == date(2026, 11, 22)
    assert row.severity == 2
    assert row.locations == "eyelid_face"
    assert row.sleep_hours == 6.5
    assert (row.caffeine_mg, row.caffeine_servings) == (190, 2.0)
    assert row.water_litres == 1.5
    assert row.screen == []
    assert await bot.state() is None
    assert (await bot.snapshot())["escalations"] == []


async def test_typed_answers_out_of_range_are_not_stored(bot: Harness) -> None:
    await bot.onboard()
    await bot.service.begin_checkin(USER, bot.next_id())
    await bot.answer({**QUIET_DAY, "sleep": []})
    for nonsense in ("25 hours", "-3", "abc"):
        result = unwrap(await bot.say(nonsense))
        assert isinstance(result, svc.Ask) and result.invalid_reason, nonsense
    state = await bot.state()
    assert state is not None and state.step == "sleep" and "sleep" not in state.answers
    assert await bot.rows(Checkin, user_id=USER) == []


async def test_a_redo_updates_the_same_row(bot: Harness) -> None:
    await bot.onboard()
    await bot.checkin(QUIET_DAY)
    [first] = await bot.rows(Checkin, user_id=USER)

    offer = await bot.service.begin_checkin(USER, bot.next_id())
    assert isinstance(offer, svc.Ask) and offer.draft.step == "redo"
    assert offer.summary is not None and offer.summary.sleep_hours == 8.0
    assert await bot.press("no") == svc.Simple("redo_kept")
    assert [row.sleep_hours for row in await bot.rows(Checkin, user_id=USER)] == [8.0]

    await bot.service.begin_checkin(USER, bot.next_id())
    await bot.press("yes")
    saved = await bot.answer(FULL_CHECKIN)
    assert isinstance(saved, svc.CheckinSaved) and saved.updated is True
    [row] = await bot.rows(Checkin, user_id=USER)
    assert row.id == first.id and row.local_date == first.local_date
    assert (row.severity, row.sleep_hours, row.caffeine_mg) == (2, 6.5, 190)


async def test_the_database_allows_one_checkin_per_person_and_local_day(bot: Harness) -> None:
    await bot.onboard()
    await bot.checkin(QUIET_DAY)
    sessions = create_session_factory(bot.engine)
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(
                Checkin(
                    user_id=USER,
                    local_date=date(2026, 11, 22),
                    severity=0,
                    locations="",
                    sleep_hours=7.0,
                    caffeine_mg=0,
                    water_litres=1.0,
                )
            )
    assert len(await bot.rows(Checkin, user_id=USER)) == 1


async def test_the_local_date_follows_each_persons_timezone(bot: Harness, clock: FakeClock) -> None:
    kiwi, angeleno = 7001, 7002
    clock.now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # just after midnight UTC
    await bot.onboard(user_id=kiwi, timezone="Pacific/Auckland")  # 13:30 on the 23rd
    await bot.onboard(user_id=angeleno, timezone="America/Los_Angeles")  # 16:30 on the 22nd
    assert (await bot.checkin(QUIET_DAY, user_id=kiwi)).local_date == date(2026, 11, 23)
    assert (await bot.checkin(QUIET_DAY, user_id=angeleno)).local_date == date(2026, 11, 22)
    [kiwi_row] = await bot.rows(Checkin, user_id=kiwi)
    [angeleno_row] = await bot.rows(Checkin, user_id=angeleno)
    assert (kiwi_row.local_date, angeleno_row.local_date) == (
        date(2026, 11, 23),
        date(2026, 11, 22),
    )

    clock.advance(hours=9)  # 09:30 UTC: 22:30 on the 23rd in Auckland, 01:30 on the 23rd in LA
    again = await bot.service.begin_checkin(kiwi, bot.next_id())
    assert isinstance(again, svc.Ask) and again.draft.step == "redo"
    new_day = await bot.service.begin_checkin(angeleno, bot.next_id())
    assert isinstance(new_day, svc.Ask) and new_day.draft.step == "severity"
    assert new_day.draft.local_date == date(2026, 11, 23)


# --- stale and forged buttons -----------------------------------------------------------


async def test_stale_tokens_and_forged_data_change_nothing(bot: Harness) -> None:
    await bot.onboard()
    await bot.service.begin_checkin(USER, bot.next_id())
    old = await bot.state()
    assert old is not None
    await bot.service.cancel(USER, bot.next_id())
    await bot.service.begin_checkin(USER, bot.next_id())
    current = await bot.state()
    assert current is not None and current.token != old.token
    before = await bot.snapshot()

    stale = conv.encode_callback(old.token, "severity", "1")
    assert await bot.service.answer_press(USER, bot.next_id(), stale) == svc.Simple("stale_button")
    forged = [
        None,
        "",
        "garbage",
        "x" * 65,
        f"{current.token}|severity|9",
        f"{current.token}|severity|1\n",
        f"{current.token}|severity|+spleen",
    ]
    for data in forged:
        result = await bot.service.answer_press(USER, bot.next_id(), data)
        assert result == svc.Simple("forged_button"), data
    not_current = conv.encode_callback(current.token, "water", "1.5")
    assert await bot.service.answer_press(USER, bot.next_id(), not_current) == svc.Simple(
        "already_answered"
    )
    assert await bot.snapshot() == before


async def test_a_double_tap_records_once(bot: Harness) -> None:
    await bot.onboard()
    await bot.service.begin_checkin(USER, bot.next_id())
    state = await bot.state()
    assert state is not None
    data = conv.encode_callback(state.token, "severity", "0")
    first = await bot.service.answer_press(USER, bot.next_id(), data)
    assert isinstance(first, svc.Ask) and first.draft.step != "severity"
    before = await bot.snapshot()
    assert await bot.service.answer_press(USER, bot.next_id(), data) == svc.Simple(
        "already_answered"
    )
    assert await bot.snapshot() == before


# --- restart ----------------------------------------------------------------------------


async def test_a_new_service_on_the_same_database_resumes_at_the_same_question(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    url = url_of(engine)
    first = Harness(url, clock)
    try:
        await first.onboard()
        await first.service.begin_checkin(USER, first.next_id())
        await first.say("moderate")
        await first.say("hands")
        before = await first.state()
        assert before is not None and before.step in {"screen", "sleep"}
        last_update = first.next_id()
        unusable = unwrap(await first.service.answer_text(USER, last_update, "not an answer"))
        assert isinstance(unusable, svc.Ask) and unusable.invalid_reason
    finally:
        await first.close()

    second = Harness(url, clock)  # a new engine and service: the bot restarted
    try:
        after = await second.state()
        assert after is not None
        assert (after.step, after.token, after.answers) == (
            before.step,
            before.token,
            before.answers,
        )
        assert await second.service.answer_text(USER, last_update, "7 hours") == svc.Duplicate()
        unchanged = await second.state()
        assert unchanged is not None and unchanged.step == before.step
        assert unchanged.answers == before.answers
        resumed = await second.service.begin_checkin(USER, second.next_id())
        assert isinstance(resumed, svc.Ask) and resumed.resumed
        assert resumed.draft.step == before.step and resumed.draft.token == before.token
        saved = await second.answer(FULL_CHECKIN)
        assert isinstance(saved, svc.CheckinSaved)
        [row] = await second.rows(Checkin, user_id=USER)
        assert (row.severity, row.locations) == (2, "arms_hands")
        assert (row.sleep_hours, row.caffeine_mg, row.water_litres) == (6.5, 190, 1.5)
    finally:
        await second.close()
