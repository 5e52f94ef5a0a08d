"""The outbox: everything the bot sends on its own, written with the decision, sent under one
budget shared by every instance.

Writing (`enqueue`, `enqueue_many`) happens inside the caller's transaction — the reminder
claim, the summary claim, an announcement's confirmation — so the decision and the message
commit together or not at all. The dedupe key is unique: writing a key that exists is a no-op.

Sending is the `Dispatcher`'s job, one loop per instance. Each round, in one transaction, it

1. locks the single `send_budget` row (PostgreSQL: ``FOR UPDATE``; SQLite: its one writer),
   which holds the shared "paused until" (set by any 429, from any instance) and how far ahead
   the overall rate is already reserved (``next_free_at``);
2. reserves at most one horizon (a second) of sending slots at the overall rate, so all
   instances together stay under ~30 messages/s;
3. claims that many due rows, oldest first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): at most
   one per chat and none for a chat sent to within the last second, a group only while it had
   fewer than 20 in the last minute; rows past their grace window are dropped as stale;
4. marks them "sending" with their slot time and commits — before any Bot API call, which is
   what makes the at-most-once kinds at-most-once (see bot.domain.outbox).

Then it sends each at its slot and records the outcomes in one transaction: sent; 429 → the
shared pause and back to pending; 403 → failed, the chat's other open rows too, and the
`OutcomeListener`s hear of it (private users are deactivated that way); 400 with
migrate_to_chat_id → every open row of the chat moves to the new id and is retried;
5xx/network → retried with capped, jittered backoff up to the kind's attempts, the reason kept.

Times: what is *due* (not_before, stale_after) follows the injected clock, like every other
service; the budget (slots, pause, per-chat pacing) follows the real clock, because it is
about Telegram's real rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy import Select, Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import OutboxMessage, SendBudget
from bot.db.session import SessionFactory
from bot.domain.outbox import (
    KIND_POLICIES,
    OPEN_STATES,
    Attachment,
    Delivered,
    FloodWait,
    Keyboard,
    KindPolicy,
    Migrated,
    OutboxKind,
    OutboxState,
    OutgoingMessage,
    Rejected,
    SendOutcome,
    Transient,
    Unreachable,
    backoff,
    default_stale_after,
    keyboard_from_data,
    keyboard_to_data,
)
from bot.services.kernel import Clock, utc_now

log = logging.getLogger(__name__)

BUDGET_ROW_ID = 1
OUTBOX_TABLE: Table = OutboxMessage.__table__  # type: ignore[assignment]
ENQUEUE_CHUNK = 1000
MAX_REASON_LENGTH = 120


def _as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def real_now() -> datetime:
    """The wall clock the send budget runs on (tests may move the business clock freely)."""
    return datetime.now(UTC)


# --- writing ---------------------------------------------------------------------------------


def _row(message: OutgoingMessage) -> dict[str, Any]:
    not_before = _as_utc(message.not_before)
    stale_after = (
        _as_utc(message.stale_after)
        if message.stale_after is not None
        else default_stale_after(message.kind, not_before)
    )
    attachment = (
        None
        if message.attachment is None
        else {"type": message.attachment.type, "data": dict(message.attachment.data)}
    )
    return {
        "dedupe_key": message.dedupe_key,
        "kind": str(message.kind),
        "chat_id": message.chat_id,
        "user_id": None if message.is_group else message.chat_id,
        "thread_id": message.thread_id,
        "is_group": message.is_group,
        "text": message.text,
        "buttons": keyboard_to_data(message.buttons),
        "attachment": attachment,
        "state": str(OutboxState.PENDING),
        "not_before": not_before,
        "stale_after": stale_after,
        "attempts": 0,
    }


def _insert(session: AsyncSession) -> Any:
    """A Core INSERT on the table (no ORM unit of work: rows are plain dicts)."""
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(OUTBOX_TABLE)


async def enqueue(session: AsyncSession, message: OutgoingMessage) -> bool:
    """Write one message in the caller's transaction; False when its dedupe key exists."""
    statement = (
        _insert(session)
        .values(_row(message))
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OUTBOX_TABLE.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def enqueue_many(session: AsyncSession, messages: Iterable[OutgoingMessage]) -> int:
    """Write many messages (an announcement to every chat) in chunks of executemany INSERTs;
    returns how many were new (existing dedupe keys are skipped, as in `enqueue`)."""
    added = 0
    chunk: list[dict[str, Any]] = []
    seen: set[str] = set()

    async def flush() -> int:
        if not chunk:
            return 0
        # executemany through SQLAlchemy's "insertmanyvalues": one cached statement, sent in
        # large batches, RETURNING only the rows that were new.
        statement = (
            _insert(session)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OUTBOX_TABLE.c.id)
        )
        inserted = len((await session.execute(statement, list(chunk))).all())
        chunk.clear()
        return inserted

    for message in messages:
        if message.dedupe_key in seen:  # one statement cannot conflict with itself on PG
            continue
        seen.add(message.dedupe_key)
        chunk.append(_row(message))
        if len(chunk) >= ENQUEUE_CHUNK:
            added += await flush()
    return added + await flush()


def _prefix(dedupe_prefix: str) -> Any:
    if not dedupe_prefix:
        raise ValueError("a dedupe-key prefix is required (an empty one would match everything)")
    return OutboxMessage.dedupe_key.startswith(dedupe_prefix, autoescape=True)


async def tally(session: AsyncSession, dedupe_prefix: str) -> dict[OutboxState, int]:
    """How many rows whose dedupe key starts with ``dedupe_prefix`` are in each state (every
    state present, zeros included): an announcement's progress."""
    statement = (
        select(OutboxMessage.state, func.count())
        .where(_prefix(dedupe_prefix))
        .group_by(OutboxMessage.state)
    )
    counts = dict.fromkeys(OutboxState, 0)
    for state, count in await session.execute(statement):
        counts[OutboxState(state)] = int(count)
    return counts


async def cancel(session: AsyncSession, dedupe_prefix: str) -> int:
    """Withdraw every pending row whose dedupe key starts with ``dedupe_prefix``; returns how
    many. Rows already being sent are not called back (they may be on the wire)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(_prefix(dedupe_prefix), OutboxMessage.state == OutboxState.PENDING)
        .values(_finished(OutboxState.CANCELLED, "cancelled", real_now()))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _finished(state: OutboxState, reason: str | None, at: datetime) -> dict[str, Any]:
    """A final state; the body is cleared, only what happened is kept until pruning."""
    return {
        "state": str(state),
        "reason": None if reason is None else reason[:MAX_REASON_LENGTH],
        "finished_at": at,
        "text": "",
        "buttons": None,
        "attachment": None,
    }


async def prune(sessions: SessionFactory, *, now: datetime, keep: timedelta) -> int:
    """Delete rows finished more than ``keep`` ago; returns how many."""
    async with sessions.begin() as session:
        result = await session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.finished_at.is_not(None), OutboxMessage.finished_at < now - keep
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)


# --- what the dispatcher hands to the transport and the listeners ---------------------------


@dataclass(frozen=True)
class ClaimedMessage:
    """A row this instance is sending now: everything the transport needs."""

    id: int
    chat_id: int
    kind: OutboxKind
    dedupe_key: str
    text: str
    buttons: Keyboard | None
    attachment: Attachment | None
    thread_id: int | None
    is_group: bool
    attempt: int  # 1 for the first try
    send_at: datetime  # the reserved slot, real time


class Transport(Protocol):
    """Sends one message through the Bot API and says how it went (never raises)."""

    async def send(self, message: ClaimedMessage) -> SendOutcome: ...


class OutcomeListener(Protocol):
    """Told about chats that changed, so the modules that own chats can react (private users
    are deactivated, groups marked gone or re-keyed) without the outbox importing them."""

    async def chat_unreachable(self, chat_id: int, *, is_group: bool) -> None: ...

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None: ...


# --- the shared pause -----------------------------------------------------------------------


class SharedPause:
    """This process's view of the shared "paused until" row, for the dispatcher and for direct
    replies: a 429 anywhere pauses everyone; the dispatcher refreshes the view every round, so
    a pause set by another instance reaches this one's replies within a round (≤ ~1 s)."""

    def __init__(self, *, clock: Clock = real_now, refresh_every: float = 0.1) -> None:
        self._until: datetime | None = None
        self._clock = clock
        self._sessions: SessionFactory | None = None
        self._refresh_every = refresh_every
        self._refreshed = -math.inf
        self._pending_writes: set[asyncio.Task[datetime]] = set()

    def bind(self, sessions: SessionFactory) -> None:
        """Attach the database once it is open (the bot builds the pause before that)."""
        self._sessions = sessions

    def until(self) -> datetime | None:
        until = self._until
        return until if until is not None and until > self._clock() else None

    def learn(self, until: datetime | None) -> None:
        """Take a pause seen in the database (or set locally); the later one wins."""
        if until is not None:
            until = _as_utc(until)
            if self._until is None or until > self._until:
                self._until = until

    async def impose(self, retry_after: float) -> datetime:
        """A 429 with ``retry_after`` seconds: pause here at once and in the shared row."""
        until = self._clock() + timedelta(seconds=max(0.0, retry_after))
        self.learn(until)
        if self._sessions is not None:
            await write_pause(self._sessions, until)
        return until

    def impose_soon(self, retry_after: float) -> None:
        """`impose` from a place that must not wait for the database (a reply's rate limiter):
        the local pause is immediate, the shared row is written in the background."""
        task = asyncio.ensure_future(self.impose(retry_after))
        self._pending_writes.add(task)
        task.add_done_callback(self._pending_writes.discard)

    async def refresh(self) -> None:
        """Re-read the shared row, at most every ``refresh_every`` seconds."""
        if self._sessions is None or time.monotonic() - self._refreshed < self._refresh_every:
            return
        self._refreshed = time.monotonic()
        async with self._sessions() as session:
            until = await session.scalar(
                select(SendBudget.paused_until).where(SendBudget.id == BUDGET_ROW_ID)
            )
        self.learn(until)

    async def wait(self) -> None:
        """Sleep while paused (a pause learnt meanwhile extends the wait)."""
        # Sleeping until a known instant (not polling for an event); re-checked once awake.
        while (until := self.until()) is not None:  # noqa: ASYNC110
            await asyncio.sleep(max(0.0, (until - self._clock()).total_seconds()))


async def write_pause(sessions: SessionFactory, until: datetime) -> None:
    """paused_until := max(paused_until, until), and no capacity is reserved before it."""
    async with sessions.begin() as session:
        budget = await _lock_budget(session)
        current = _as_utc(budget.paused_until) if budget.paused_until else None
        if current is None or until > current:
            budget.paused_until = until
        free = _as_utc(budget.next_free_at) if budget.next_free_at else None
        if free is None or free < until:
            budget.next_free_at = until


async def _lock_budget(session: AsyncSession) -> SendBudget:
    """The budget row, locked for this transaction (created if a fresh table lacks it)."""
    statement: Select[SendBudget] = select(SendBudget).where(SendBudget.id == BUDGET_ROW_ID)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    budget = (await session.execute(statement)).scalar_one_or_none()
    if budget is None:
        await session.execute(
            _budget_insert(session).values(id=BUDGET_ROW_ID).on_conflict_do_nothing()
        )
        budget = (await session.execute(statement)).scalar_one()
    return budget


def _budget_insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(SendBudget)


# --- the dispatcher -------------------------------------------------------------------------


@dataclass(frozen=True)
class SendLimits:
    """Telegram's limits for bot-initiated sends, with headroom for direct replies."""

    per_second: float = 29.0  # overall, all instances together (Telegram: ~30)
    per_group_per_minute: int = 20
    per_chat_interval: timedelta = timedelta(seconds=1)
    horizon: timedelta = timedelta(seconds=1)  # how far ahead one round reserves slots

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.per_group_per_minute <= 0:
            raise ValueError("rates must be positive")
        if self.horizon <= timedelta(0):
            raise ValueError("the horizon must be positive")

    @property
    def per_round(self) -> int:
        return max(1, math.floor(self.per_second * self.horizon.total_seconds()))


@dataclass
class DispatchStats:
    """Running totals of one dispatcher, for logs, tests and the benchmark."""

    claimed: int = 0
    sent: int = 0
    flood_waits: int = 0
    unreachable: int = 0
    migrated: int = 0
    retried: int = 0
    failed: int = 0
    stale: int = 0
    deferred: int = 0  # claimed but not attempted: a pause began before its slot
    interrupted: int = 0  # left "sending" by a crashed instance, given up on (at-most-once)
    requeued: int = 0  # left "sending" by a crashed instance, sent again (at-least-once)
    rounds: int = 0


@dataclass(frozen=True)
class _Claim:
    messages: list[ClaimedMessage]
    wake_at: datetime | None  # real time at which another round makes sense (None: poll)


@dataclass
class _Done:
    message: ClaimedMessage
    outcome: SendOutcome | None  # None: deferred by a pause, not attempted


def instance_name() -> str:
    """Host, process and a random part: which instance claimed a row (for operators)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{random.randrange(16**4):04x}"


class Dispatcher:
    """One sending loop per instance; any number of instances may run one."""

    def __init__(
        self,
        sessions: SessionFactory,
        transport: Transport,
        *,
        listeners: Sequence[OutcomeListener] = (),
        pause: SharedPause | None = None,
        limits: SendLimits | None = None,
        clock: Clock = utc_now,
        wall_clock: Clock = real_now,
        policies: Mapping[OutboxKind, KindPolicy] = KIND_POLICIES,
        poll_seconds: float = 1.0,
        claim_lease: timedelta = timedelta(minutes=2),
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._transport = transport
        self._listeners = tuple(listeners)
        self._wall = wall_clock
        self.pause = pause or SharedPause(clock=wall_clock)
        self.pause.bind(sessions)
        self.limits = limits or SendLimits()
        self._clock = clock
        self._policies = policies
        self._poll = poll_seconds
        self._lease = claim_lease
        self.name = name or instance_name()
        self._rng = rng or random.Random()
        self.stats = DispatchStats()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._next_recovery = -math.inf
        # Slots keep the average under the budget; this keeps a stalled loop (a busy machine)
        # from firing a second's worth of overdue slots at once when it wakes: Telegram
        # counts bursts, so overdue sends are spread at the rate again (bursts of 3 at most).
        burst = 3
        self._pace = AsyncLimiter(burst, burst / self.limits.per_second)
        self.recovery_every = 30.0  # seconds between sweeps for rows of crashed instances

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop as a task of the running event loop."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"outbox-{self.name}")

    async def stop(self) -> None:
        """Stop claiming, let the messages already claimed finish and be recorded."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            await task
        await self.drain()

    async def drain(self) -> None:
        """Wait until every claimed message is sent and its outcome recorded."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    def wake(self) -> None:
        """Something was just enqueued here: look now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                wake_at = await self.round()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("outbox round failed")
                wake_at = None
            await self._sleep_until(wake_at)

    async def _sleep_until(self, wake_at: datetime | None) -> None:
        delay = self._poll
        if wake_at is not None:
            # A few random milliseconds: instances waiting for the same instant take turns
            # at random instead of the same one always winning the budget row.
            until = (wake_at - self._wall()).total_seconds() + self._rng.uniform(0, 0.02)
            delay = min(delay, max(0.0, until))
        if delay <= 0 or self._stopping:
            await asyncio.sleep(0)
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    # --- one round --------------------------------------------------------------------------

    async def round(self) -> datetime | None:
        """Claim what the budget allows now and start sending it; returns when to look again
        (None: at the next poll). The sends finish in the background (see `drain`)."""
        self.stats.rounds += 1
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + self.recovery_every
            await self.recover()
        claim = await self.claim()
        if claim.messages:
            task = asyncio.create_task(self._send_batch(claim.messages))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return claim.wake_at

    async def claim(self) -> _Claim:
        """One transaction: budget row, slots, due rows → "sending"; see the module docstring."""
        limits = self.limits
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            budget = await _lock_budget(session)
            wall = self._wall()
            paused = _as_utc(budget.paused_until) if budget.paused_until else None
            self.pause.learn(paused)
            if paused is not None and paused > wall:
                return _Claim([], paused)
            free = _as_utc(budget.next_free_at) if budget.next_free_at else wall
            start = max(wall, free)
            # Claim again only once less than half a horizon is reserved, so each claim takes
            # at least half a horizon's worth (a claim per slot would cost more than it sends).
            lead = limits.horizon / 2
            if start > wall + lead:
                return _Claim([], start - lead)
            room = (wall + limits.horizon - start).total_seconds() * limits.per_second
            capacity = min(limits.per_round, max(1, math.floor(room)))
            now = _as_utc(self._clock())
            candidates = await self._candidates(session, now, capacity * 4, dialect)
            if not candidates:
                return _Claim([], None)
            chosen, stale = await self._choose(session, candidates, now, wall, capacity)
            if stale:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(stale))
                    .values(_finished(OutboxState.STALE, "stale", wall))
                    .execution_options(synchronize_session=False)
                )
                self.stats.stale += len(stale)
            step = timedelta(seconds=1 / limits.per_second)
            claimed: list[ClaimedMessage] = []
            changes: list[dict[str, Any]] = []
            for index, row in enumerate(chosen):
                slot = start + step * index
                attempt = int(row.attempts) + 1
                changes.append(
                    {
                        "id": row.id,
                        "state": str(OutboxState.SENDING),
                        "claimed_by": self.name,
                        "claimed_at": slot,
                        "attempts": attempt,
                    }
                )
                claimed.append(_claimed(row, attempt, slot))
            if changes:
                await session.execute(update(OutboxMessage), changes)
                budget.next_free_at = start + step * len(changes)
            self.stats.claimed += len(claimed)
            full = len(candidates) > len(chosen) + len(stale) or len(chosen) == capacity
            wake_at = (start + step * len(changes) - lead) if full else None
            if full and not changes:
                # Everything due waits for per-chat or per-group room: look again in a moment.
                wake_at = wall + limits.per_chat_interval
        return _Claim(claimed, wake_at)

    async def _candidates(
        self, session: AsyncSession, now: datetime, limit: int, dialect: str
    ) -> list[Any]:
        statement = (
            select(OutboxMessage)
            .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        )
        if dialect == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        return list((await session.execute(statement)).scalars())

    async def _choose(
        self,
        session: AsyncSession,
        candidates: list[OutboxMessage],
        now: datetime,
        wall: datetime,
        capacity: int,
    ) -> tuple[list[OutboxMessage], list[int]]:
        """Drop the stale; keep one per chat, respecting per-chat and per-group pacing."""
        limits = self.limits
        stale: list[int] = []
        live: list[OutboxMessage] = []
        for row in candidates:
            if row.stale_after is not None and _as_utc(row.stale_after) < now:
                stale.append(row.id)
            else:
                live.append(row)
        chats = {row.chat_id for row in live}
        if not chats:
            return [], stale
        minute_ago = wall - timedelta(minutes=1)
        recent = await session.execute(
            select(
                OutboxMessage.chat_id,
                func.max(OutboxMessage.claimed_at),
                func.count(),
            )
            .where(OutboxMessage.chat_id.in_(chats), OutboxMessage.claimed_at >= minute_ago)
            .group_by(OutboxMessage.chat_id)
        )
        last_claim: dict[int, datetime] = {}
        per_minute: dict[int, int] = {}
        for chat_id, latest, count in recent:
            if latest is not None:
                last_claim[int(chat_id)] = _as_utc(latest)
            per_minute[int(chat_id)] = int(count)
        chosen: list[OutboxMessage] = []
        taken: set[int] = set()
        for row in live:
            if len(chosen) >= capacity:
                break
            chat = row.chat_id
            if chat in taken:
                continue
            latest = last_claim.get(chat)
            if latest is not None and wall - latest < limits.per_chat_interval:
                continue
            if row.is_group and per_minute.get(chat, 0) >= limits.per_group_per_minute:
                continue
            taken.add(chat)
            chosen.append(row)
        return chosen, stale

    # --- sending and recording --------------------------------------------------------------

    async def _send_batch(self, messages: list[ClaimedMessage]) -> None:
        done = await asyncio.gather(*(self._send_one(message) for message in messages))
        try:
            await self._record(done)
        except Exception:
            # Left "sending": the recovery sweep settles them by their kind's semantics.
            log.exception("outbox outcomes could not be recorded")

    async def _send_one(self, message: ClaimedMessage) -> _Done:
        delay = (message.send_at - self._wall()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        await self._pace.acquire()
        await self.pause.refresh()
        if self.pause.until() is not None:
            return _Done(message, None)
        try:
            outcome = await self._transport.send(message)
        except Exception as error:  # a transport must not raise; if it does, it is transient
            log.exception("outbox transport raised")
            outcome = Transient(type(error).__name__)
        if isinstance(outcome, FloodWait):
            await self.pause.impose(outcome.retry_after)
        return _Done(message, outcome)

    async def _record(self, done: list[_Done]) -> None:
        wall = self._wall()
        now = _as_utc(self._clock())
        unreachable: list[ClaimedMessage] = []
        migrations: list[tuple[int, int]] = []
        async with self._sessions.begin() as session:
            for item in done:
                await self._record_one(session, item, now, wall, unreachable, migrations)
            for message in unreachable:
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.chat_id == message.chat_id,
                        OutboxMessage.state == OutboxState.PENDING,
                    )
                    .values(_finished(OutboxState.FAILED, "chat unreachable", wall))
                    .execution_options(synchronize_session=False)
                )
            for old, new in migrations:
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.chat_id == old,
                        OutboxMessage.state.in_([str(state) for state in OPEN_STATES]),
                    )
                    .values(chat_id=new)
                    .execution_options(synchronize_session=False)
                )
        for listener in self._listeners:
            for message in unreachable:
                await _quietly(
                    listener.chat_unreachable(message.chat_id, is_group=message.is_group)
                )
            for old, new in migrations:
                await _quietly(listener.chat_migrated(old, new))

    async def _record_one(
        self,
        session: AsyncSession,
        item: _Done,
        now: datetime,
        wall: datetime,
        unreachable: list[ClaimedMessage],
        migrations: list[tuple[int, int]],
    ) -> None:
        message, outcome = item.message, item.outcome
        where = update(OutboxMessage).where(
            OutboxMessage.id == message.id, OutboxMessage.state == OutboxState.SENDING
        )
        retry_now = {"state": str(OutboxState.PENDING), "attempts": message.attempt - 1}
        values: dict[str, Any]
        if outcome is None:
            self.stats.deferred += 1
            values = retry_now
        elif isinstance(outcome, Delivered):
            self.stats.sent += 1
            values = _finished(OutboxState.SENT, None, wall)
        elif isinstance(outcome, FloodWait):
            self.stats.flood_waits += 1
            values = retry_now
        elif isinstance(outcome, Unreachable):
            self.stats.unreachable += 1
            values = _finished(OutboxState.FAILED, f"unreachable: {outcome.reason}", wall)
            unreachable.append(message)
        elif isinstance(outcome, Migrated):
            self.stats.migrated += 1
            values = {"state": str(OutboxState.PENDING), "chat_id": outcome.new_chat_id}
            migrations.append((message.chat_id, outcome.new_chat_id))
        elif isinstance(outcome, Transient):
            policy = self._policies[message.kind]
            gives_up = (
                outcome.maybe_delivered and policy.semantics == "at-most-once"
            ) or message.attempt >= policy.max_attempts
            if gives_up:
                self.stats.failed += 1
                values = _finished(
                    OutboxState.FAILED, f"{outcome.reason} (attempt {message.attempt})", wall
                )
            else:
                self.stats.retried += 1
                wait = backoff(message.attempt, jitter=self._rng.random())
                values = {
                    "state": str(OutboxState.PENDING),
                    "not_before": now + wait,
                    "reason": f"{outcome.reason} (attempt {message.attempt})"[:MAX_REASON_LENGTH],
                }
        else:
            assert isinstance(outcome, Rejected)
            self.stats.failed += 1
            values = _finished(OutboxState.FAILED, f"rejected: {outcome.reason}", wall)
        await session.execute(where.values(values).execution_options(synchronize_session=False))

    # --- crash recovery ---------------------------------------------------------------------

    async def recover(self) -> None:
        """Rows left "sending" longer than the claim lease belong to a crashed instance:
        at-most-once kinds are given up ("interrupted", it may have been delivered),
        at-least-once kinds go back to pending."""
        cutoff = self._wall() - self._lease
        at_least_once = [
            str(kind)
            for kind, policy in self._policies.items()
            if policy.semantics == "at-least-once"
        ]
        wall = self._wall()
        async with self._sessions.begin() as session:
            stuck = (
                OutboxMessage.state == OutboxState.SENDING,
                OutboxMessage.claimed_at < cutoff,
            )
            requeued = await session.execute(
                update(OutboxMessage)
                .where(*stuck, OutboxMessage.kind.in_(at_least_once))
                .values(state=str(OutboxState.PENDING))
                .execution_options(synchronize_session=False)
            )
            interrupted = await session.execute(
                update(OutboxMessage)
                .where(*stuck, OutboxMessage.kind.not_in(at_least_once))
                .values(_finished(OutboxState.FAILED, "interrupted: may have been delivered", wall))
                .execution_options(synchronize_session=False)
            )
        self.stats.requeued += int(getattr(requeued, "rowcount", 0) or 0)
        self.stats.interrupted += int(getattr(interrupted, "rowcount", 0) or 0)


async def _quietly(call: Awaitable[None]) -> None:
    """Run a listener; one listener's failure must not hide the event from the rest."""
    try:
        await call
    except Exception:
        log.exception("outbox listener failed")


def _claimed(row: OutboxMessage, attempt: int, slot: datetime) -> ClaimedMessage:
    attachment = None
    if row.attachment is not None:
        attachment = Attachment(type=str(row.attachment["type"]), data=row.attachment["data"])
    return ClaimedMessage(
        id=row.id,
        chat_id=row.chat_id,
        kind=OutboxKind(row.kind),
        dedupe_key=row.dedupe_key,
        text=row.text,
        buttons=keyboard_from_data(row.buttons),
        attachment=attachment,
        thread_id=row.thread_id,
        is_group=row.is_group,
        attempt=attempt,
        send_at=slot,
    )


@dataclass
class CollectingListener:
    """An OutcomeListener that remembers what it heard (tests, the benchmark)."""

    unreachable: list[tuple[int, bool]] = field(default_factory=list)
    migrated: list[tuple[int, int]] = field(default_factory=list)

    async def chat_unreachable(self, chat_id: int, *, is_group: bool) -> None:
        self.unreachable.append((chat_id, is_group))

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        self.migrated.append((old_chat_id, new_chat_id))


__all__ = [
    "ClaimedMessage",
    "CollectingListener",
    "Dispatcher",
    "OutcomeListener",
    "SendLimits",
    "SharedPause",
    "Transport",
    "cancel",
    "enqueue",
    "enqueue_many",
    "prune",
    "tally",
]
