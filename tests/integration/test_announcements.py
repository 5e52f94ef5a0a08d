"""Announcements on SQLite and PostgreSQL, sent by the real outbox dispatcher through the Bot
API sandbox: everyone active reached once, blocked people skipped and marked inactive, a
kill in the middle of a batch of an announcement to 2,000 people resumed by another instance
without a second message to anyone, a cancel midway, and every step in the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.db.models import AdminAudit, Announcement, OutboxMessage, User
from bot.db.session import SessionFactory, create_session_factory
from bot.domain.announcements import Audience, Progress, report_key
from bot.domain.outbox import OutboxState, SendOutcome
from bot.sandbox.server import SandboxServer
from bot.services import announcements as svc
from bot.services.announcements import AnnouncementService
from bot.services.kernel import Duplicate
from bot.services.outbox import ClaimedMessage, Dispatcher, SendLimits
from bot.services.reminders import ReminderService
from bot.transport import AiohttpRequest
from handlers.outbox import TelegramTransport
from tests.support.clock import FakeClock

TOKEN = "123456789:ANNOUNCE-token-for-the-sandbox-00000"
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ADMIN = 900_001
PEOPLE = 2000  # the kill test's audience
FEW = 400  # enough for several rounds elsewhere, without 2,000 sends per test
FIRST = 10_000
TEXT = "<b>New</b>: the /learn topics were <i>rewritten</i> &amp; checked."
# Fast limits keep the run short; the pacing code is the same as at 30/s.
FAST = SendLimits(per_second=200, per_chat_interval=timedelta(0))


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


@pytest.fixture
def service(sessions: SessionFactory, clock: FakeClock) -> AnnouncementService:
    return AnnouncementService(sessions, admin_ids=frozenset({ADMIN}), clock=clock)


def people(count: int = PEOPLE) -> range:
    return range(FIRST, FIRST + count)


async def seed(sessions: SessionFactory, count: int = PEOPLE) -> None:
    """``count`` people who agreed and are active, plus some the audience must leave out: one
    who blocked the bot earlier (inactive) and one who never agreed."""
    rows = [
        {"id": chat, "consented_at": NOW, "timezone": "UTC", "active": True}
        for chat in people(count)
    ]
    rows.append({"id": 1, "consented_at": NOW, "timezone": "UTC", "active": False})
    rows.append({"id": 2, "consented_at": None, "timezone": None, "active": True})
    async with sessions.begin() as session:
        await session.execute(insert(User), rows)


async def confirmed(service: AnnouncementService, count: int = PEOPLE, update: int = 100) -> int:
    """/announce → text → audience → confirm, through the service as the handlers call it."""
    started = await service.begin(ADMIN, update)
    assert isinstance(started, svc.AwaitingText)
    ready = await service.set_text(ADMIN, update + 1, started.id, TEXT)
    assert isinstance(ready, svc.Ready) and ready.counts == {Audience.EVERYONE: count}
    counted = await service.choose_audience(ADMIN, update + 2, started.id, Audience.EVERYONE)
    assert counted == svc.Counted(started.id, Audience.EVERYONE, count)
    done = await service.confirm(ADMIN, update + 3, started.id)
    assert done == svc.Confirmed(started.id, count)
    return started.id


def dispatcher(
    sessions: SessionFactory,
    transport: TelegramTransport | KillSwitch,
    clock: FakeClock,
    name: str,
    **options: object,
) -> Dispatcher:
    return Dispatcher(
        sessions,
        transport,
        listeners=[ReminderService(sessions, clock=clock)],
        limits=FAST,
        clock=clock,
        name=name,
        **options,  # type: ignore[arg-type]
    )


async def run_until_idle(one: Dispatcher, clock: FakeClock, rounds: int = 300) -> None:
    """Rounds until nothing is open. Each round the business clock moves on 30 s, so a
    message retried after a transient failure (a pool timeout on a loaded machine) comes due
    again instead of waiting for a clock that never moves."""
    for _ in range(rounds):
        clock.advance(seconds=30)
        wake_at = await one.round()
        await one.drain()
        if wake_at is not None:  # the budget is reserved until then: a known instant
            await asyncio.sleep(max(0.0, (wake_at - datetime.now(UTC)).total_seconds()))
        async with one._sessions() as session:
            still_open = await session.scalar(
                select(OutboxMessage.id).where(
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING])
                )
            )
        if still_open is None:
            return
    async with one._sessions() as session:
        left = (
            await session.execute(
                select(
                    OutboxMessage.state,
                    OutboxMessage.claimed_by,
                    OutboxMessage.claimed_at,
                    OutboxMessage.not_before,
                    OutboxMessage.reason,
                )
                .where(OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]))
                .limit(5)
            )
        ).all()
    raise AssertionError(f"the outbox did not empty: {one.stats} {left} {datetime.now(UTC)}")


def deliveries(sandbox: SandboxServer, count: int = PEOPLE) -> dict[int, int]:
    """Messages each chat actually holds in the sandbox."""
    return {chat: len(sandbox.messages(chat)) for chat in people(count)}


async def audit_outcomes(sessions: SessionFactory) -> list[tuple[str, str]]:
    async with sessions() as session:
        found = await session.execute(
            select(AdminAudit.action, AdminAudit.outcome).order_by(AdminAudit.id)
        )
        return [(action, outcome) for action, outcome in found]


async def test_everyone_active_gets_it_once_and_blocked_people_are_skipped_and_deactivated(
    sessions: SessionFactory,
    sandbox: SandboxServer,
    bot: Bot,
    clock: FakeClock,
    service: AnnouncementService,
) -> None:
    await seed(sessions, FEW)
    blocked = {FIRST + 5, FIRST + 200, FIRST + FEW - 1}
    for chat in blocked:
        sandbox.block(chat)
    number = await confirmed(service, FEW)
    # A redelivered confirmation acts once; a new press finds nothing to confirm.
    assert await service.confirm(ADMIN, 103, number) == Duplicate()
    assert await service.confirm(ADMIN, 200, number) == svc.NotPossible("not_ready", number)

    one = dispatcher(sessions, TelegramTransport(bot), clock, "one")
    [running] = await service.progress_round()
    assert running.progress == Progress(FEW, 0, 0, 0, 0, FEW) and not running.finished_now
    await run_until_idle(one, clock)

    got = deliveries(sandbox, FEW)
    assert {chat for chat, count in got.items() if count == 0} == blocked
    assert set(got.values()) == {0, 1}
    assert (
        sandbox.messages(FIRST)[0].plain_text == "New: the /learn topics were rewritten & checked."
    )
    async with sessions() as session:
        inactive = set(await session.scalars(select(User.id).where(User.active.is_(False))))
    assert inactive == blocked | {1}

    [closing] = await service.progress_round()
    assert closing.finished_now
    assert closing.progress == Progress(FEW, FEW - 3, 3, 0, 0, 0)
    assert await service.progress_round() == []  # closed once
    await run_until_idle(one, clock)
    [report] = sandbox.messages(ADMIN)
    assert (report.plain_text or "").startswith(
        f"Announcement #{number} finished: 397 / 400 sent, 3 blocked."
    )
    async with sessions() as session:
        row = await session.get(Announcement, number)
        assert row is not None
        assert (row.state, row.recipients, row.sent, row.blocked, row.failed) == (
            "done",
            FEW,
            FEW - 3,
            3,
            0,
        )
        keys = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == report_key(number))
        )
        assert keys is not None
    assert await service.summary(number) == ("done", Progress(FEW, FEW - 3, 3, 0, 0, 0))
    assert await audit_outcomes(sessions) == [
        ("announce", "started"),
        ("announce", "previewed"),
        ("announce", "counted"),
        ("announce", "confirmed"),
        ("announce", "stale_button"),
        ("announce", "finished"),
    ]


class KillSwitch:
    """The transport of an instance that dies: after ``after`` deliveries its sending loop
    and every batch in flight are cancelled at once — some messages of the batch were sent,
    their outcomes never recorded; the rest of the batch claimed, never sent."""

    def __init__(self, inner: TelegramTransport, after: int) -> None:
        self._inner = inner
        self._after = after
        self.delivered = 0
        self.dispatcher: Dispatcher | None = None
        self.dead = asyncio.Event()

    async def send(self, message: ClaimedMessage) -> SendOutcome:
        if self.dead.is_set():
            raise asyncio.CancelledError
        outcome = await self._inner.send(message)
        self.delivered += 1
        if self.delivered == self._after:
            self.kill()
            await asyncio.sleep(0)  # the cancellation lands here, like SIGKILL mid-batch
        return outcome

    def kill(self) -> None:
        self.dead.set()
        one = self.dispatcher
        assert one is not None
        if one._task is not None:
            one._task.cancel()
        for task in list(one._in_flight):
            task.cancel()


async def test_a_kill_mid_batch_resumes_on_another_instance_and_nobody_gets_it_twice(
    sessions: SessionFactory,
    sandbox: SandboxServer,
    bot: Bot,
    clock: FakeClock,
    service: AnnouncementService,
    measurement: Callable[[str], None],
    engine: AsyncEngine,
) -> None:
    await seed(sessions)
    number = await confirmed(service)
    switch = KillSwitch(TelegramTransport(bot), after=700)
    doomed = dispatcher(sessions, switch, clock, "doomed")
    switch.dispatcher = doomed
    doomed.start()
    await switch.dead.wait()
    leftovers = [task for task in (doomed._task, *doomed._in_flight) if task is not None]
    await asyncio.gather(*leftovers, return_exceptions=True)

    async with sessions() as session:
        claimed_unrecorded = set(
            await session.scalars(
                select(OutboxMessage.chat_id).where(OutboxMessage.state == OutboxState.SENDING)
            )
        )
    assert claimed_unrecorded, "the kill must land between claim and recorded outcome"
    delivered_before = {chat for chat, count in deliveries(sandbox).items() if count}
    assert len(delivered_before) >= 700

    # Another instance takes over once the dead one's claim lease has run out (its slots
    # were reserved up to a horizon ahead, so "run out" is a little in the future here).
    survivor = dispatcher(
        sessions, TelegramTransport(bot), clock, "survivor", claim_lease=-2 * FAST.horizon
    )
    await run_until_idle(survivor, clock)

    got = deliveries(sandbox)
    assert max(got.values()) == 1, "nobody gets the announcement twice"
    never = {chat for chat, count in got.items() if count == 0}
    # At most once: only rows the dead instance had claimed and not recorded can be missing
    # (those it had already sent arrived once; the rest never will), everyone else got it.
    assert never <= claimed_unrecorded
    assert survivor.stats.interrupted == len(claimed_unrecorded)
    async with sessions() as session:
        interrupted = set(
            await session.scalars(
                select(OutboxMessage.chat_id).where(
                    OutboxMessage.reason == "interrupted: may have been delivered"
                )
            )
        )
    assert interrupted == claimed_unrecorded
    arrived = len(interrupted - never)
    measurement(
        f"announcement kill ({engine.dialect.name}): {len(interrupted)} of {PEOPLE} rows were "
        f"claimed but unrecorded when the instance died ({arrived} of them had arrived, "
        f"{len(never)} never will); nobody got it twice"
    )
    [closing] = await service.progress_round()
    assert closing.progress == Progress(
        PEOPLE, PEOPLE - len(interrupted), 0, len(interrupted), 0, 0
    )
    assert closing.finished_now
    await run_until_idle(survivor, clock)
    [report] = sandbox.messages(ADMIN)
    assert (report.plain_text or "").startswith(f"Announcement #{number} finished:")
    assert f"{len(interrupted):,} could not be delivered or may not have arrived" in (
        report.plain_text or ""
    )


async def test_a_cancel_midway_withdraws_every_pending_row(
    sessions: SessionFactory,
    sandbox: SandboxServer,
    bot: Bot,
    clock: FakeClock,
    service: AnnouncementService,
) -> None:
    await seed(sessions, FEW)
    number = await confirmed(service, FEW)
    one = dispatcher(sessions, TelegramTransport(bot), clock, "one")
    await one.round()  # one round: at most a horizon's worth (200) is claimed and sent
    await one.drain()
    sent_first = sum(deliveries(sandbox, FEW).values())
    assert 0 < sent_first < FEW

    cancelled = await service.cancel(ADMIN, 300)
    assert isinstance(cancelled, svc.Cancelled) and cancelled.id == number
    assert cancelled.withdrawn == FEW - sent_first
    assert cancelled.progress is not None and cancelled.progress.sent == sent_first
    await run_until_idle(one, clock)
    assert sum(deliveries(sandbox, FEW).values()) == sent_first  # nothing more went out

    [closing] = await service.progress_round()
    assert closing.finished_now and closing.state == "cancelled"
    assert closing.progress == Progress(FEW, sent_first, 0, 0, FEW - sent_first, 0)
    await run_until_idle(one, clock)
    [report] = sandbox.messages(ADMIN)
    assert (report.plain_text or "").startswith(f"Announcement #{number} cancelled:")
    assert await service.cancel(ADMIN, 301) == svc.NotPossible("nothing_open", None)
    assert ("cancel", "done") in await audit_outcomes(sessions)


async def test_drafts_nobody_and_non_admins(
    sessions: SessionFactory, service: AnnouncementService
) -> None:
    started = await service.begin(ADMIN, 1)
    assert isinstance(started, svc.AwaitingText)
    assert await service.awaiting_text(ADMIN) == started.id
    # A new /announce replaces the unfinished draft.
    again = await service.begin(ADMIN, 2)
    assert isinstance(again, svc.AwaitingText) and again.id != started.id
    assert await service.set_text(ADMIN, 3, started.id, TEXT) == svc.NotPossible(
        "no_draft", started.id
    )
    ready = await service.set_text(ADMIN, 4, again.id, TEXT)
    assert ready == svc.Ready(again.id, {Audience.EVERYONE: 0})
    await service.choose_audience(ADMIN, 5, again.id, Audience.EVERYONE)
    assert await service.confirm(ADMIN, 6, again.id) == svc.NotPossible("no_recipients", again.id)
    with pytest.raises(ValueError):
        await service.set_text(ADMIN, 7, again.id, "🚨 not an escalation")
    with pytest.raises(PermissionError):
        await service.begin(4242, 8)
    assert await service.awaiting_text(4242) is None
    async with sessions() as session:
        assert await session.scalar(select(OutboxMessage.id)) is None
