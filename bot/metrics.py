"""Prometheus metrics of one bot process (`GET /metrics`), counts only.

No label can identify anyone: update types, outcomes, tiers and Bot API outcomes are small
fixed sets; never a chat id, user id, name or text. Each process has its own registry (not
prometheus-client's global one), so tests and the benchmark can run several bots in one
process. Depths (inbox, outbox, reminders due) are read from the database when scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from telegram import Update
from telegram.error import Forbidden, RetryAfter

from bot.domain.outbox import Delivered, FloodWait, OutboxKind, SendOutcome, Unreachable
from bot.intake import ALLOWED_UPDATES

log = logging.getLogger(__name__)

UPDATE_TYPES = frozenset(ALLOWED_UPDATES)
SEND_OUTCOMES = ("ok", "429", "403", "error")
# From a cached short answer (~2 ms) to a rendered PDF (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

DepthProbe = Callable[[], Awaitable[int]]


def update_type(update: object) -> str:
    """The update's top-level type (one of ALLOWED_UPDATES), "other" for anything else."""
    if isinstance(update, Update):
        for kind in ALLOWED_UPDATES:
            if getattr(update, kind, None) is not None:
                return kind
    return "other"


def send_outcome(error: BaseException | None) -> str:
    """ok / 429 / 403 / error for one Bot API attempt."""
    if error is None:
        return "ok"
    if isinstance(error, RetryAfter):
        return "429"
    if isinstance(error, Forbidden):
        return "403"
    return "error"


class Metrics:
    """The counters, histogram and gauges of one process, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "twitchcheck_updates",
            "Updates processed, by type and outcome (ok, error, unreadable).",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "twitchcheck_handler_seconds",
            "Time from the start of an update's handlers to their end.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sends = Counter(
            "twitchcheck_sends",
            "Bot API send and edit attempts, by outcome (ok, 429, 403, error).",
            ["outcome"],
            registry=self.registry,
        )
        self.reminders_due = Counter(
            "twitchcheck_reminders_due",
            "Reminders the scheduler found due and queued in the outbox.",
            registry=self.registry,
        )
        self.reminders_sent = Counter(
            "twitchcheck_reminders_sent",
            "Reminders the Bot API accepted.",
            registry=self.registry,
        )
        self.escalations = Counter(
            "twitchcheck_escalations",
            "Escalation messages sent, by tier (consult, emergency).",
            ["tier"],
            registry=self.registry,
        )
        self.depth = Gauge(
            "twitchcheck_queue_depth",
            "Rows waiting, by queue (inbox: stored updates not processed yet; outbox: "
            "messages not sent yet; reminders: people whose reminder is due), when scraped.",
            ["queue"],
            registry=self.registry,
        )
        self._probes: dict[str, DepthProbe] = {}
        for outcome in SEND_OUTCOMES:
            self.sends.labels(outcome=outcome)

    def count_update(self, update: object, outcome: str, seconds: float | None = None) -> None:
        self.updates.labels(type=update_type(update), outcome=outcome).inc()
        if seconds is not None:
            self.handler_seconds.observe(seconds)

    def count_outbox_send(self, kind: OutboxKind, outcome: SendOutcome) -> None:
        """One outbox attempt by its outcome; a delivered reminder counts as sent."""
        match outcome:
            case Delivered():
                self.sends.labels(outcome="ok").inc()
                if kind == "reminder":
                    self.reminders_sent.inc()
            case FloodWait():
                self.sends.labels(outcome="429").inc()
            case Unreachable():
                self.sends.labels(outcome="403").inc()
            case _:
                self.sends.labels(outcome="error").inc()

    def count_unreadable(self) -> None:
        self.updates.labels(type="other", outcome="unreadable").inc()

    def count_send(self, error: BaseException | None) -> None:
        self.sends.labels(outcome=send_outcome(error)).inc()

    def count_escalation(self, tier: str) -> None:
        self.escalations.labels(tier=tier).inc()

    def add_depth_probe(self, queue: str, probe: DepthProbe) -> None:
        """A query run at every scrape; `queue` becomes the label value."""
        self._probes[queue] = probe
        self.depth.labels(queue=queue)

    def remove_depth_probes(self) -> None:
        """The database is closing: keep the last values, query nothing more."""
        self._probes.clear()

    async def exposition(self) -> bytes:
        """The Prometheus text format, with depths read just now (a failing probe keeps
        its last value and is logged by name)."""
        for queue, probe in list(self._probes.items()):
            try:
                self.depth.labels(queue=queue).set(await probe())
            except Exception as error:  # a scrape must still answer while the database is away
                log.warning("metrics: %s depth not read (%s)", queue, type(error).__name__)
        return generate_latest(self.registry)
