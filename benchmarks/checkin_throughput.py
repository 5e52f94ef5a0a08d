"""Check-in throughput through the sandbox, next to a bare python-telegram-bot echo bot.

The bots run in this process against the same loopback sandbox, one after the other, with
the same number of simulated people answering one message at a time. Reported: answers per
second and p50/p95 latency (injecting an update → the bot's first reply to that chat), and
the ratio of twitchcheck's rate to the echo bot's (target: at least 0.5 on SQLite).

twitchcheck runs twice: as built, and with the overall cap of its outgoing-message rate
limiter lifted. The bot paces every Bot API call through PTB's AIORateLimiter (about 30
messages per second overall, Telegram's broadcast limit), so the first number is bounded by
that cap; the second shows what the bot itself can process. After each run the stored
check-ins are compared with the script, so a changed question flow cannot produce numbers
for check-ins that never completed.

    python -m benchmarks.checkin_throughput [--people 40] [--database-url URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram import Update
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

import handlers.reminders as reminder_handlers
from bot.app import build_application, polling
from bot.cli import apply_migrations
from bot.config import Settings
from bot.db.models import Checkin
from bot.db.session import create_engine, create_session_factory
from bot.sandbox.server import SandboxServer

TOKEN = "123456789:BENCH-token-for-the-sandbox-0000000"
# Typed answers to a first check-in with twitching: severity, where, the red-flag screen
# (asked on every day with twitching), sleep, caffeine, water. `verify_checkins` proves after
# the run that this script really completed a check-in for everyone.
CHECKIN_ANSWERS = ("mild", "eyelid", "none", "6.5", "2 coffees", "1.5 l")
EXPECTED_ROW = {"severity": 1, "locations": "eyelid_face", "sleep_hours": 6.5}
EXPECTED_ROW |= {"caffeine_mg": 190, "water_litres": 1.5}
SETUP_ANSWERS = ("/start", "yes", "Berlin", "9:00")
REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument", "sendPhoto"})


@dataclass(frozen=True)
class Measurement:
    """One bot's run: how many answers, how fast, how long each waited."""

    name: str
    answers: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def rate(self) -> float:
        return self.answers / self.seconds


class ReplyWatcher:
    """One task that reads the sandbox's call log once and wakes the person a reply is for.

    With a `wait_for_call` per simulated person, every Bot API call would wake every person to
    rescan the log: load-generator work growing with the square of the people, spent in the
    same process and event loop as the bot under test.
    """

    def __init__(self, sandbox: SandboxServer) -> None:
        self._sandbox = sandbox
        self._seen = sandbox.last_seq
        self._waiting: dict[int, tuple[int, asyncio.Future[None]]] = {}

    def _awaited(self, call: Any) -> bool:
        if call.method not in REPLY_METHODS:
            return False
        waiting = self._waiting.get(call.params.get("chat_id"))
        return waiting is not None and call.seq > waiting[0]

    async def run(self) -> None:
        while True:
            call = await self._sandbox.wait_for_call(
                self._awaited, after_seq=self._seen, timeout=3600
            )
            self._seen = call.seq
            _, reply = self._waiting.pop(call.params["chat_id"])
            reply.set_result(None)

    async def send(self, user_id: int, text: str) -> float:
        """Send one message and wait for the bot's first reply in that chat; the latency in s."""
        reply: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[user_id] = (self._sandbox.last_seq, reply)
        started = time.perf_counter()
        self._sandbox.send_text(user_id, text)
        await asyncio.wait_for(reply, timeout=60)
        return time.perf_counter() - started


async def _drive(
    sandbox: SandboxServer, people: Sequence[int], script: Sequence[str]
) -> tuple[list[float], float]:
    """Every person sends the script, one message after the bot's reply to the previous one."""
    watcher = ReplyWatcher(sandbox)
    watching = asyncio.create_task(watcher.run())

    async def person(user_id: int) -> list[float]:
        return [await watcher.send(user_id, text) for text in script]

    try:
        started = time.perf_counter()
        per_person = await asyncio.gather(*(person(user_id) for user_id in people))
        elapsed = time.perf_counter() - started
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    return [latency for latencies in per_person for latency in latencies], elapsed


def _measure(name: str, latencies: list[float], seconds: float) -> Measurement:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return Measurement(
        name=name,
        answers=len(latencies),
        seconds=seconds,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=p95 * 1000,
    )


async def _with_polling(
    application: Any, body: Callable[[], Awaitable[Measurement]]
) -> Measurement:
    async with polling(application):
        return await body()


async def run_echo(sandbox: SandboxServer, people: Sequence[int]) -> Measurement:
    """The baseline: PTB's minimal echo bot on the same sandbox."""

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message and update.effective_message.text:
            await update.effective_message.reply_text(update.effective_message.text)

    application = Application.builder().token(TOKEN).base_url(sandbox.api_url).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def body() -> Measurement:
        latencies, seconds = await _drive(sandbox, people, CHECKIN_ANSWERS)
        return _measure("echo bot (PTB, no database)", latencies, seconds)

    return await _with_polling(application, body)


async def run_twitchcheck(
    sandbox: SandboxServer, people: Sequence[int], database_url: str, label: str
) -> Measurement:
    """twitchcheck: each person is set up first (not timed), then checks in (timed)."""
    await apply_migrations(database_url)
    settings = Settings(
        telegram_api_url=sandbox.api_url,
        database_url=database_url,
        default_timezone="Europe/Berlin",
        log_level="WARNING",
        _env_file=None,
    )
    application = build_application(settings, token=TOKEN)

    async def body() -> Measurement:
        await _drive(sandbox, people, SETUP_ANSWERS)
        await _drive(sandbox, people, ("/checkin",))
        latencies, seconds = await _drive(sandbox, people, CHECKIN_ANSWERS)
        return _measure(f"twitchcheck check-in ({label})", latencies, seconds)

    return await _with_polling(application, body)


class IncompleteRun(RuntimeError):
    """The script did not store the expected check-in for everyone: the numbers would lie."""


async def verify_checkins(database_url: str, people: Sequence[int]) -> None:
    """Every simulated person has exactly one stored check-in with the scripted answers."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            statement = select(Checkin).where(Checkin.user_id.in_(people))
            rows = list((await session.execute(statement)).scalars())
    finally:
        await engine.dispose()
    stored = {
        row.user_id
        for row in rows
        if all(getattr(row, name) == value for name, value in EXPECTED_ROW.items())
    }
    missing = sorted(set(people) - stored)
    if missing or len(rows) != len(people):
        raise IncompleteRun(
            f"{len(rows)} check-ins stored for {len(people)} people; "
            f"{len(missing)} without the scripted answers (e.g. user {missing[:3]}): "
            "the question flow changed, update CHECKIN_ANSWERS"
        )


@contextlib.contextmanager
def rate_cap_lifted() -> Iterator[bool]:
    """While active, build_application gets an AIORateLimiter without the overall and group
    caps (429 retries kept); yields False when the bot no longer builds its limiter there."""
    if not hasattr(reminder_handlers, "delivery_rate_limiter"):
        yield False
        return
    original = reminder_handlers.delivery_rate_limiter

    def uncapped() -> Any:
        return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)

    reminder_handlers.delivery_rate_limiter = uncapped
    try:
        yield True
    finally:
        reminder_handlers.delivery_rate_limiter = original


def _people(count: int) -> list[int]:
    """Fresh user ids for one run, so a reused PostgreSQL database holds no earlier state."""
    first = 10_000_000 + secrets.randbelow(10**6) * 1_000
    return list(range(first, first + count))


async def main_async(people_count: int, database_url: str | None, output: Path | None) -> int:
    with tempfile.TemporaryDirectory(prefix="twitchcheck-bench-") as folder:
        urls = [
            database_url or f"sqlite+aiosqlite:///{Path(folder) / name}"
            for name in ("as-built.sqlite3", "uncapped.sqlite3")
        ]
        label = "PostgreSQL" if urls[0].startswith("postgresql") else "SQLite"
        async with SandboxServer() as sandbox:
            echo = await run_echo(sandbox, _people(people_count))
            sandbox.reset_records()
            people = _people(people_count)
            ours = await run_twitchcheck(sandbox, people, urls[0], label)
            await verify_checkins(urls[0], people)
            sandbox.reset_records()
            uncapped: Measurement | None = None
            with rate_cap_lifted() as lifted:
                if lifted:
                    people = _people(people_count)
                    uncapped = await run_twitchcheck(
                        sandbox, people, urls[1], f"{label}, rate cap lifted"
                    )
                    await verify_checkins(urls[1], people)
    runs = [echo, ours, *([uncapped] if uncapped else [])]
    print(f"{people_count} people answering concurrently, one message at a time each\n")
    print(f"{'bot':48} {'answers':>8} {'answers/s':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for run in runs:
        numbers = f"{run.answers:>8} {run.rate:>10.1f} {run.p50_ms:>8.1f} {run.p95_ms:>8.1f}"
        print(f"{run.name:48} {numbers}")
    ratio = ours.rate / echo.rate
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    print(f"\nratio twitchcheck/echo: {ratio:.2f} ({verdict} the target of at least 0.50)")
    results: dict[str, Any] = {
        "people": people_count,
        "echo": asdict(echo) | {"rate": echo.rate},
        "twitchcheck": asdict(ours) | {"rate": ours.rate},
        "ratio": ratio,
    }
    if uncapped:
        uncapped_ratio = uncapped.rate / echo.rate
        print(f"ratio with the rate cap lifted: {uncapped_ratio:.2f}")
        results["twitchcheck_uncapped"] = asdict(uncapped) | {"rate": uncapped.rate}
        results["ratio_uncapped"] = uncapped_ratio
    if output:
        await asyncio.to_thread(output.write_text, json.dumps(results, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args.people, args.database_url, args.json))


if __name__ == "__main__":
    raise SystemExit(main())
