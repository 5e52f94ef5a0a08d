"""What the bot sends on its own initiative, as data: kinds, their delivery promise, the message.

Everything bot-initiated (reminders, weekly summaries, group prompts and summaries,
announcements) becomes an `OutgoingMessage` that a service writes to the outbox in the same
transaction as the decision to send it; one dispatcher sends it later under a shared budget.
This module is pure: it says *what* to send and *how carefully*, never how.

Delivery promises (`KIND_POLICIES`, one table so nobody has to hunt for them):

- **at-most-once**: the row is marked "sending" and committed before the Bot API call. A crash
  between that commit and the recorded outcome loses the message (it is never sent again);
  a timed-out call, which may have been delivered, is not retried either.
- **at-least-once**: a row left "sending" by a crashed instance goes back to "pending" once its
  claim has expired, and timeouts are retried, so a crash can deliver it twice.

Every kind here is at-most-once: a second reminder, summary or announcement is worse than a
missed one, and none of them is so important that a duplicate is worth it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal


class OutboxKind(StrEnum):
    """Why a message is sent; also the first part of its dedupe key by convention."""

    REMINDER = "reminder"
    SUMMARY = "summary"
    GROUP_PROMPT = "group_prompt"
    GROUP_SUMMARY = "group_summary"
    ANNOUNCEMENT = "announcement"


class OutboxState(StrEnum):
    """Where a row is in its life; only PENDING and SENDING are still open."""

    PENDING = "pending"  # waiting for its not_before time and a place in the budget
    SENDING = "sending"  # claimed by one dispatcher; the Bot API call is under way
    SENT = "sent"
    FAILED = "failed"  # given up: blocked, rejected, attempts used up, interrupted (reason)
    STALE = "stale"  # not sent within its grace window: dropped, never delivered late
    CANCELLED = "cancelled"  # withdrawn by its author (cancel by dedupe-key prefix)


OPEN_STATES = (OutboxState.PENDING, OutboxState.SENDING)

Semantics = Literal["at-most-once", "at-least-once"]


@dataclass(frozen=True)
class KindPolicy:
    """How one kind of message is delivered."""

    semantics: Semantics
    # How long after not_before a message may still go out; later it is dropped as stale.
    # The author may set an earlier or later stale_after per message; this is the default.
    grace: timedelta | None
    # Attempts (the first send included) before a transient failure becomes final.
    max_attempts: int = 5


KIND_POLICIES: Mapping[OutboxKind, KindPolicy] = {
    # A reminder hours late is noise; the scheduler's catch-up grace is two hours too.
    OutboxKind.REMINDER: KindPolicy("at-most-once", timedelta(hours=2)),
    # The week's numbers still read well the same evening.
    OutboxKind.SUMMARY: KindPolicy("at-most-once", timedelta(hours=6)),
    OutboxKind.GROUP_PROMPT: KindPolicy("at-most-once", timedelta(hours=2)),
    OutboxKind.GROUP_SUMMARY: KindPolicy("at-most-once", timedelta(hours=6)),
    # Announcements reach thousands of chats at 30/s: allow a day for the whole run.
    OutboxKind.ANNOUNCEMENT: KindPolicy("at-most-once", timedelta(days=1)),
}


def policy_for(kind: OutboxKind | str) -> KindPolicy:
    """The policy of a kind (a stored string is accepted); unknown kinds are an error."""
    return KIND_POLICIES[OutboxKind(kind)]


def default_stale_after(kind: OutboxKind | str, not_before: datetime) -> datetime | None:
    """not_before plus the kind's grace (None: never stale)."""
    grace = policy_for(kind).grace
    return None if grace is None else not_before + grace


# One button: (label, url) or (label, callback_data); which one is said by ButtonAction.
ButtonAction = Literal["url", "callback_data"]


@dataclass(frozen=True)
class Button:
    """An inline keyboard button as plain data: a URL to open or callback data to send back."""

    label: str
    action: ButtonAction
    value: str

    @classmethod
    def url(cls, label: str, url: str) -> Button:
        return cls(label, "url", url)

    @classmethod
    def callback(cls, label: str, data: str) -> Button:
        return cls(label, "callback_data", data)


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Attachment:
    """Something rendered at send time and sent with the text (e.g. the weekly chart).

    ``type`` names a renderer registered with the dispatcher's transport; ``data`` is plain
    JSON-able data for it. Rendering at send time keeps bulky images out of the database and
    out of the transaction that decided to send.
    """

    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class OutgoingMessage:
    """One message the bot sends on its own, ready to be written to the outbox.

    ``text`` is rendered HTML (parse mode HTML). ``dedupe_key`` is unique across the outbox:
    writing a message whose key exists already is a no-op, which is what makes a repeated
    decision (two instances, a retried transaction) send once. ``not_before`` and
    ``stale_after`` are UTC.
    """

    chat_id: int
    kind: OutboxKind
    dedupe_key: str
    text: str
    buttons: Keyboard | None
    not_before: datetime
    stale_after: datetime | None
    thread_id: int | None = None
    is_group: bool = False
    attachment: Attachment | None = None

    def __post_init__(self) -> None:
        if not self.dedupe_key or len(self.dedupe_key) > MAX_DEDUPE_KEY_LENGTH:
            raise ValueError(f"dedupe_key must be 1..{MAX_DEDUPE_KEY_LENGTH} characters")
        if self.not_before.tzinfo is None:
            raise ValueError("not_before must be timezone-aware (UTC)")
        if self.stale_after is not None and self.stale_after.tzinfo is None:
            raise ValueError("stale_after must be timezone-aware (UTC)")
        OutboxKind(self.kind)  # a plain string that is no kind fails here, not at send time


MAX_DEDUPE_KEY_LENGTH = 200


def keyboard_to_data(keyboard: Keyboard | None) -> list[list[dict[str, str]]] | None:
    """The keyboard as JSON-able rows of {"text", "url"|"callback_data"} (the Bot API shape)."""
    if keyboard is None:
        return None
    return [[{"text": b.label, b.action: b.value} for b in row] for row in keyboard]


def keyboard_from_data(data: Any) -> Keyboard | None:
    """Inverse of `keyboard_to_data`; rejects anything that is not that shape."""
    if data is None:
        return None
    rows: list[tuple[Button, ...]] = []
    for row in data:
        buttons: list[Button] = []
        for raw in row:
            label = raw["text"]
            if "url" in raw:
                buttons.append(Button.url(label, raw["url"]))
            else:
                buttons.append(Button.callback(label, raw["callback_data"]))
        rows.append(tuple(buttons))
    return tuple(rows)


# --- what a send attempt can end in --------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """Telegram accepted the message."""

    message_id: int | None = None


@dataclass(frozen=True)
class FloodWait:
    """429: everyone stops sending for ``retry_after`` seconds."""

    retry_after: float


@dataclass(frozen=True)
class Unreachable:
    """403: blocked, kicked, deactivated; the chat gets nothing more and it is never retried."""

    reason: str


@dataclass(frozen=True)
class Migrated:
    """400 with migrate_to_chat_id: the group became a supergroup with a new id."""

    new_chat_id: int


@dataclass(frozen=True)
class Transient:
    """5xx, network failure or timeout: try again later (unless it may have arrived)."""

    reason: str
    maybe_delivered: bool = False


@dataclass(frozen=True)
class Rejected:
    """Any other 4xx: the request itself is wrong; retrying would fail the same way."""

    reason: str


SendOutcome = Delivered | FloodWait | Unreachable | Migrated | Transient | Rejected

BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=5)


def backoff(attempts: int, *, jitter: float) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: exponential, capped, with
    ``jitter`` in [0, 1) spreading retries so instances do not retry in lockstep."""
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be in [0, 1)")
    exponent = max(0, attempts - 1)
    ceiling: timedelta = min(BACKOFF_CAP, BACKOFF_BASE * (2**exponent))
    return ceiling * (0.5 + jitter / 2)


def should_retry(kind: OutboxKind | str, outcome: Transient, attempts: int) -> bool:
    """Whether a transient failure after ``attempts`` attempts is tried again."""
    policy = policy_for(kind)
    if outcome.maybe_delivered and policy.semantics == "at-most-once":
        return False
    return attempts < policy.max_attempts
