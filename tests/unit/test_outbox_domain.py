"""The outbox's pure parts: kinds and their promises, the message, backoff, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.domain.outbox import (
    BACKOFF_CAP,
    KIND_POLICIES,
    Button,
    FloodWait,
    Migrated,
    OutboxKind,
    OutgoingMessage,
    Rejected,
    Transient,
    Unreachable,
    backoff,
    default_stale_after,
    keyboard_from_data,
    keyboard_to_data,
    should_retry,
)
from bot.transport import POOL_TIMEOUT_MESSAGE
from handlers.outbox import markup, outcome_of

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_every_kind_declares_its_promise_and_grace() -> None:
    assert set(KIND_POLICIES) == set(OutboxKind)
    assert {policy.semantics for policy in KIND_POLICIES.values()} == {"at-most-once"}
    assert default_stale_after(OutboxKind.REMINDER, NOW) == NOW + timedelta(hours=2)
    assert default_stale_after("announcement", NOW) == NOW + timedelta(days=1)
    with pytest.raises(ValueError):
        default_stale_after("newsletter", NOW)


def test_a_message_refuses_naive_times_unknown_kinds_and_bad_keys() -> None:
    def build(**changes: object) -> OutgoingMessage:
        fields: dict[str, object] = {
            "chat_id": 1,
            "kind": OutboxKind.REMINDER,
            "dedupe_key": "reminder:1:2026-11-23",
            "text": "hi",
            "buttons": None,
            "not_before": NOW,
            "stale_after": None,
        }
        fields.update(changes)
        return OutgoingMessage(**fields)  # type: ignore[arg-type]

    assert build().thread_id is None and build().is_group is False
    for bad in (
        {"not_before": NOW.replace(tzinfo=None)},
        {"stale_after": NOW.replace(tzinfo=None)},
        {"kind": "newsletter"},
        {"dedupe_key": ""},
        {"dedupe_key": "x" * 201},
    ):
        with pytest.raises(ValueError):
            build(**bad)


def test_a_keyboard_survives_the_trip_through_json_data() -> None:
    keyboard = (
        (Button.callback("Check in now", "rem|checkin"), Button.url("Read", "https://e.org")),
        (Button.callback("Skip today", "rem|skip|2026-11-23"),),
    )
    data = keyboard_to_data(keyboard)
    assert data == [
        [
            {"text": "Check in now", "callback_data": "rem|checkin"},
            {"text": "Read", "url": "https://e.org"},
        ],
        [{"text": "Skip today", "callback_data": "rem|skip|2026-11-23"}],
    ]
    assert keyboard_from_data(data) == keyboard
    assert keyboard_from_data(None) is None and keyboard_to_data(None) is None
    ptb = markup(keyboard)
    assert ptb is not None
    assert ptb.inline_keyboard[0][1].url == "https://e.org"
    assert ptb.inline_keyboard[1][0].callback_data == "rem|skip|2026-11-23"


def test_backoff_grows_is_capped_and_jittered() -> None:
    assert backoff(1, jitter=0.0) == timedelta(seconds=1)
    assert backoff(1, jitter=0.999) < timedelta(seconds=2)
    assert backoff(3, jitter=0.0) == timedelta(seconds=4)
    assert backoff(30, jitter=0.999) <= BACKOFF_CAP
    assert backoff(30, jitter=0.0) == BACKOFF_CAP / 2
    with pytest.raises(ValueError):
        backoff(1, jitter=1.0)


def test_retry_stops_at_max_attempts_and_for_maybe_delivered_at_most_once() -> None:
    assert should_retry(OutboxKind.REMINDER, Transient("502"), 1)
    assert not should_retry(OutboxKind.REMINDER, Transient("502"), 5)
    assert not should_retry(OutboxKind.REMINDER, Transient("timed out", maybe_delivered=True), 1)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (RetryAfter(7), FloodWait(7.0)),
        (ChatMigrated(-1009), Migrated(-1009)),
        (
            Forbidden("Forbidden: bot was blocked by the user"),
            Unreachable("Forbidden: bot was blocked by the user"),
        ),
        (BadRequest("Bad Request: chat not found"), Rejected("Chat not found")),
        (TimedOut("Timed out"), Transient("timed out", maybe_delivered=True)),
        (TimedOut(POOL_TIMEOUT_MESSAGE), Transient("timed out", maybe_delivered=False)),
        (NetworkError("Bad Gateway"), Transient("NetworkError: Bad Gateway")),
    ],
)
def test_telegram_errors_become_outcomes(error: Exception, outcome: object) -> None:
    assert outcome_of(error) == outcome  # type: ignore[arg-type]
