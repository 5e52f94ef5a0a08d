"""The outbox on SQLite and PostgreSQL, sending through the real Bot API sandbox.

Writing (dedupe, bulk, tally, cancel), the dispatcher's claim (two instances, stale rows,
a crash between claim and send) and what each Telegram answer leads to (429 pauses the other
instance too, 403 deactivates, migrate_to_chat_id rewrites, 5xx backs off and retries).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.db.models import OutboxMessage, User
from bot.db.session import SessionFactory, create_engine, create_session_factory
from bot.domain.outbox import (
    KIND_POLICIES,
    Button,
    KindPolicy,
    OutboxKind,
    OutboxState,
    OutgoingMessage,
)
from bot.sandbox.server import SandboxServer
from bot.services import outbox
from bot.services.outbox import CollectingListener, Dispatcher, SendLimits, SharedPause
from bot.services.reminders import ReminderService
from bot.transport import AiohttpRequest
from handlers.outbox import TelegramTransport
from tests.support.clock import FakeClock

TOKEN = "123456789:OUTBOX-token-for-the-sandbox-0000000"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
# Fast limits keep the tests quick; the pacing itself is the same code.
FAST = SendLimits(per_second=200, per_chat_interval=timedelta(0))
GROUP, SUPERGROUP = -4001, -1004001


def message(
    chat_id: int,
    key: str,
    *,
    kind: OutboxKind = OutboxKind.REMINDER,
    not_before: datetime = NOW,
    stale_after: datetime | None = None,
    is_group: bool = False,
) -> OutgoingMessage:
    return OutgoingMessage(
        chat_id=chat_id,
        kind=kind,
        dedupe_key=key,
        text=f"<b>hello</b> {key}",
        buttons=((Button.callback("Check in now", "rem|checkin"),),),
        not_before=not_before,
        stale_after=stale_after,
        is_group=is_group,
    )


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=NOW)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as server:
        yield server


@pytest.fixture
async def bot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN, base_url=sandbox.api_url, base_file_url=sandbox.file_url, request=AiohttpRequest()
    ) as telegram_bot:
        yield telegram_bot


def dispatcher(
    sessions: SessionFactory,
    bot: Bot,
    clock: FakeClock,
    *,
    listeners: Sequence[outbox.OutcomeListener] = (),
    limits: SendLimits = FAST,
    name: str = "one",
    **options: object,
) -> Dispatcher:
    return Dispatcher(
        sessions,
        TelegramTransport(bot),
        listeners=listeners,
        limits=limits,
        clock=clock,
        name=name,
        **options,  # type: ignore[arg-type]
    )


async def put(sessions: SessionFactory, *messages: OutgoingMessage) -> int:
    async with sessions.begin() as session:
        return await outbox.enqueue_many(session, messages)


async def rows(sessions: SessionFactory) -> dict[str, OutboxMessage]:
    async with sessions() as session:
        found = (await session.execute(select(OutboxMessage))).scalars()
        return {row.dedupe_key: row for row in found}


async def run_until_idle(*dispatchers: Dispatcher, rounds: int = 50) -> None:
    """Rounds until nothing is pending or sending (each round's sends finish first)."""
    for _ in range(rounds):
        for one in dispatchers:
            await one.round()
            await one.drain()
        first = dispatchers[0]
        async with first._sessions() as session:
            open_rows = await session.scalar(
                select(OutboxMessage.id).where(
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING])
                )
            )
        if open_rows is None:
            return
        for one in dispatchers:
            await one.pause.wait()
    raise AssertionError("the outbox did not empty")


def texts_to(sandbox: SandboxServer, chat_id: int) -> list[str]:
    return [m.plain_text or "" for m in sandbox.messages(chat_id)]


# --- writing --------------------------------------------------------------------------------


async def test_a_dedupe_key_makes_a_second_write_a_no_op(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        assert await outbox.enqueue(session, message(1, "reminder:1:2026-11-23")) is True
        assert await outbox.enqueue(session, message(1, "reminder:1:2026-11-23")) is False
    batch = [message(chat, f"announcement:7:{chat}") for chat in range(1, 2501)]
    assert await put(sessions, *batch) == 2500
    assert await put(sessions, *batch, message(9999, "announcement:7:9999")) == 1
    async with sessions.begin() as session:
        progress = await outbox.tally(session, "announcement:7:")
        assert progress[OutboxState.PENDING] == 2501
        assert progress[OutboxState.SENT] == 0
        # A prefix is literal: "_" and "%" are not wildcards.
        assert sum((await outbox.tally(session, "announcement_7")).values()) == 0
        assert await outbox.cancel(session, "announcement:7:") == 2501
        assert (await outbox.tally(session, "announcement:7:"))[OutboxState.CANCELLED] == 2501
        with pytest.raises(ValueError):
            await outbox.cancel(session, "")
    [reminder] = [row for key, row in (await rows(sessions)).items() if key.startswith("rem")]
    assert (reminder.state, reminder.user_id, reminder.is_group) == ("pending", 1, False)


async def test_a_write_is_part_of_the_callers_transaction(sessions: SessionFactory) -> None:
    class Decided(Exception):
        pass

    with pytest.raises(Decided):
        async with sessions.begin() as session:
            await outbox.enqueue(session, message(1, "reminder:1:2026-11-23"))
            raise Decided
    assert await rows(sessions) == {}


# --- sending --------------------------------------------------------------------------------


async def test_due_messages_are_sent_once_and_finished_rows_keep_no_body(
    sessions: SessionFactory, sandbox: SandboxServer, bot: Bot, clock: FakeClock
) -> None:
    later = NOW + timedelta(hours=1)
    await put(sessions, message(11, "a"), message(12, "b"), message(13, "c", not_before=later))
    one = dispatcher(sessions, bot, clock)
    await run_until_idle_or_only_future(one)
    assert texts_to(sandbox, 11) == ["hello a"] and texts_to(sandbox, 12) == ["hello b"]
    assert sandbox.messages(13) == []
    [sent] = sandbox.messages(11)
    assert sent.buttons() == [[("Check in now", "rem|checkin")]]
    stored = await rows(sessions)
    assert stored["a"].state == "sent" and stored["a"].text == "" and stored["a"].buttons is None
    assert stored["c"].state == "pending" and stored["c"].text == "<b>hello</b> c"

    clock.now = later
    await run_until_idle(one)
    assert texts_to(sandbox, 13) == ["hello c"]
    assert one.stats.sent == 3
    # Pruning removes finished rows after the retention, never open ones.
    assert (
        await outbox.prune(
            sessions, now=datetime.now(UTC) + timedelta(days=3), keep=timedelta(days=2)
        )
        == 3
    )
    assert await rows(sessions) == {}


async def run_until_idle_or_only_future(one: Dispatcher) -> None:
    for _ in range(5):
        await one.round()
        await one.drain()


async def test_stale_rows_are_dropped_not_delivered_late(
    sessions: SessionFactory, sandbox: SandboxServer, bot: Bot, clock: FakeClock
) -> None:
    three_hours_ago = NOW - timedelta(hours=3)
    await put(
        sessions,
        message(21, "late", not_before=three_hours_ago),  # the reminder grace is 2 hours
        message(22, "fresh", not_before=NOW - timedelta(hours=1)),
        message(23, "explicit", stale_after=NOW - timedelta(seconds=1)),
    )
    one = dispatcher(sessions, bot, clock)
    await run_until_idle(one)
    stored = await rows(sessions)
    assert {key: row.state for key, row in stored.items()} == {
        "late": "stale",
        "fresh": "sent",
        "explicit": "stale",
    }
    assert sandbox.messages(21) == [] and sandbox.messages(23) == []
    assert one.stats.stale == 2


async def test_a_403_deactivates_the_person_and_closes_their_other_rows(
    sessions: SessionFactory, sandbox: SandboxServer, bot: Bot, clock: FakeClock
) -> None:
    async with sessions.begin() as session:
        session.add(
            User(
                id=31,
                consented_at=NOW - timedelta(days=3),
                timezone="UTC",
                reminder_time=time(9, 0),
                next_reminder_at=NOW + timedelta(days=1),
            )
        )
    await put(
        sessions,
        message(31, "reminder:31"),
        message(31, "summary:31", kind=OutboxKind.SUMMARY, not_before=NOW + timedelta(minutes=5)),
    )
    sandbox.block(31)
    heard = CollectingListener()
    reminders = ReminderService(sessions, clock=clock)
    one = dispatcher(sessions, bot, clock, listeners=[reminders, heard])
    await run_until_idle_or_only_future(one)
    stored = await rows(sessions)
    assert stored["reminder:31"].state == "failed"
    assert (stored["reminder:31"].reason or "").startswith("unreachable: Forbidden")
    assert (stored["summary:31"].state, stored["summary:31"].reason) == (
        "failed",
        "chat unreachable",
    )
    assert heard.unreachable == [(31, False)]
    async with sessions() as session:
        person = await session.get(User, 31)
    assert person is not None and (person.active, person.next_reminder_at) == (False, None)
    sendings = [call for call in sandbox.calls_of("sendMessage") if call.params["chat_id"] == 31]
    assert len(sendings) == 1  # never retried


async def test_migrate_to_chat_id_rewrites_the_groups_rows_and_retries(
    sessions: SessionFactory, sandbox: SandboxServer, bot: Bot, clock: FakeClock
) -> None:
    await put(
        sessions,
        message(GROUP, "group_prompt:1", kind=OutboxKind.GROUP_PROMPT, is_group=True),
        message(GROUP, "group_prompt:2", kind=OutboxKind.GROUP_PROMPT, is_group=True),
    )
    sandbox.fail_next(
        "sendMessage",
        error_code=400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=SUPERGROUP,
    )
    heard = CollectingListener()
    one = dispatcher(sessions, bot, clock, listeners=[heard])
    await run_until_idle(one)
    assert heard.migrated == [(GROUP, SUPERGROUP)]
    assert sorted(texts_to(sandbox, SUPERGROUP)) == ["hello group_prompt:1", "hello group_prompt:2"]
    assert sandbox.messages(GROUP) == []
    stored = await rows(sessions)
    assert {row.chat_id for row in stored.values()} == {SUPERGROUP}
    assert {row.state for row in stored.values()} == {"sent"}


async def test_a_5xx_is_retried_after_a_backoff_and_its_reason_kept(
    sessions: SessionFactory, sandbox: SandboxServer, bot: Bot, clock: FakeClock
) -> None:
    await put(sessions, message(41, "flaky"))
    sandbox.fail_next("sendMessage", error_code=502, description="Bad Gateway", times=2)
    one = dispatcher(sessions, bot, clock)
    await run_until_idle_or_only_future(one)
    [row] = (await rows(sessions)).values()
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.reason is not None and "attempt 1" in row.reason
    first_retry = row.not_before
    assert (
        NOW + timedelta(seconds=1) <= first_retry.replace(tzinfo=UTC) <= NOW + timedelta(seconds=2)
    )
    clock.now = NOW + timedelta(seconds=2)
    await run_until_idle_or_only_future(one)
    [row] = (await rows(sessions)).values()
    assert (row.state, row.attempts) == ("pending", 2)
    clock.now = NOW + timedelta(seconds=10)
    await run_until_idle(one)
    assert texts_to(sandbox, 41) == ["hello flaky"]
    assert one.stats.retried == 2


async def test_attempts_run_out_with_the_reason_stored(
    sessions: SessionFactory, sandbox: SandboxServer, bot: Bot, clock: FakeClock
) -> None:
    await put(sessions, message(42, "broken"))
    sandbox.fail_next("sendMessage", error_code=500, description="Internal Server Error", times=9)
    one = dispatcher(sessions, bot, clock)
    for minute in range(1, 12):
        clock.now = NOW + timedelta(minutes=minute * 6)
        await run_until_idle_or_only_future(one)
    [row] = (await rows(sessions)).values()
    assert (row.state, row.attempts) == ("failed", KIND_POLICIES[OutboxKind.REMINDER].max_attempts)
    assert row.reason is not None and "attempt 5" in row.reason
    # stale_after does not cut the retries short here: the rows were due within the grace.
    assert sandbox.messages(42) == []


# --- two instances ---------------------------------------------------------------------------


@pytest.fixture
async def second_sessions(
    engine: AsyncEngine, sessions: SessionFactory, empty_database_url: str
) -> AsyncIterator[SessionFactory]:
    """PostgreSQL: the same database through a second engine, as a second bot process reaches
    it. SQLite has one writer per file, so a second instance in this process shares it (the
    inline driver would block this loop waiting on the other engine's file lock)."""
    if engine.dialect.name == "sqlite":
        yield sessions
        return
    other = create_engine(empty_database_url)
    try:
        yield create_session_factory(other)
    finally:
        await other.dispose()


async def test_two_instances_send_every_row_exactly_once(
    sessions: SessionFactory,
    second_sessions: SessionFactory,
    sandbox: SandboxServer,
    bot: Bot,
    clock: FakeClock,
) -> None:
    chats = list(range(1000, 1120))
    await put(sessions, *(message(chat, f"reminder:{chat}") for chat in chats))
    limits = SendLimits(per_second=60, per_chat_interval=timedelta(0))
    first = dispatcher(sessions, bot, clock, limits=limits, name="first")
    second = dispatcher(second_sessions, bot, clock, limits=limits, name="second")
    first.start()
    second.start()
    try:
        await sandbox.wait_for_call(
            lambda _call: len(sandbox.calls_of("sendMessage")) >= len(chats), timeout=30
        )
    finally:
        await first.stop()
        await second.stop()
    per_chat = Counter(call.params["chat_id"] for call in sandbox.calls_of("sendMessage"))
    assert per_chat == Counter(dict.fromkeys(chats, 1))
    assert first.stats.sent + second.stats.sent == len(chats)
    # Both looked for work all along; which one wins each second of budget is up to chance.
    assert first.stats.rounds and second.stats.rounds
    stored = await rows(sessions)
    assert {row.state for row in stored.values()} == {"sent"}
    assert {row.claimed_by for row in stored.values()} <= {"first", "second"}


async def test_a_429_pauses_the_other_instance_and_its_replies(
    sessions: SessionFactory,
    second_sessions: SessionFactory,
    sandbox: SandboxServer,
    bot: Bot,
    clock: FakeClock,
) -> None:
    await put(sessions, message(51, "first"), message(52, "second"))
    sandbox.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    limits = SendLimits(per_second=200, per_chat_interval=timedelta(0))
    one = dispatcher(sessions, bot, clock, limits=SendLimits(per_second=1), name="one")
    other = dispatcher(second_sessions, bot, clock, limits=limits, name="other")
    await one.round()  # claims one message (1/s), which gets the 429
    await one.drain()
    assert one.stats.flood_waits == 1
    calls_before = len(sandbox.calls_of("sendMessage"))
    await other.round()
    await other.drain()
    assert other.stats.claimed == 0  # the other instance saw the shared pause
    assert len(sandbox.calls_of("sendMessage")) == calls_before
    assert other.pause.until() is not None
    # A third process's replies (its rate limiter's view) learn it from the shared row.
    replies = SharedPause(refresh_every=0)
    replies.bind(second_sessions)
    await replies.refresh()
    assert replies.until() is not None

    await other.pause.wait()
    await run_until_idle(other)
    assert texts_to(sandbox, 51) == ["hello first"] and texts_to(sandbox, 52) == ["hello second"]
    assert sum(call.params["chat_id"] == 51 for call in sandbox.calls_of("sendMessage")) == 2


# --- crashes ---------------------------------------------------------------------------------


async def test_a_crash_between_claim_and_send_never_sends_twice(
    sessions: SessionFactory, sandbox: SandboxServer, bot: Bot, clock: FakeClock
) -> None:
    await put(sessions, message(61, "reminder:61"), message(62, "reminder:62"))
    crashed = dispatcher(sessions, bot, clock, name="crashed")
    claim = await crashed.claim()  # committed as "sending"; the process dies before sending
    assert len(claim.messages) == 2
    survivor = dispatcher(sessions, bot, clock, name="survivor", claim_lease=timedelta(0))
    await run_until_idle(survivor)
    assert sandbox.calls_of("sendMessage") == []
    stored = await rows(sessions)
    assert {row.state for row in stored.values()} == {"failed"}
    assert {row.reason for row in stored.values()} == {"interrupted: may have been delivered"}
    assert survivor.stats.interrupted == 2


async def test_an_at_least_once_kind_is_sent_again_after_a_crash(
    sessions: SessionFactory, sandbox: SandboxServer, bot: Bot, clock: FakeClock
) -> None:
    policies = {
        **KIND_POLICIES,
        OutboxKind.ANNOUNCEMENT: KindPolicy("at-least-once", timedelta(days=1)),
    }
    await put(sessions, message(71, "announcement:1:71", kind=OutboxKind.ANNOUNCEMENT))
    crashed = dispatcher(sessions, bot, clock, name="crashed", policies=policies)
    await crashed.claim()
    survivor = dispatcher(
        sessions, bot, clock, name="survivor", claim_lease=timedelta(0), policies=policies
    )
    await run_until_idle(survivor)
    assert texts_to(sandbox, 71) == ["hello announcement:1:71"]
    assert survivor.stats.requeued == 1
