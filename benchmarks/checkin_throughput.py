"""Check-in throughput through the sandbox, next to a bare python-telegram-bot echo bot.

Both bots run in this process against the same loopback sandbox, one after the other, with
the same number of simulated people answering one message at a time. Reported: answers per
second and p50/p95 latency (injecting an update → the bot's first reply to that chat), and
the ratio of twitchcheck's rate to the echo bot's (target: at least 0.5 on SQLite).

    python -m benchmarks.checkin_throughput [--people 40] [--database sqlite|postgres-url]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.app import build_application, polling
from bot.cli import apply_migrations
from bot.config import Settings
from bot.sandbox.server import SandboxServer

TOKEN = "123456789:BENCH-token-for-the-sandbox-0000000"
CHECKIN_ANSWERS = ("mild", "eyelid", "6.5", "2 coffees", "1.5 l")
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


async def _reply_to(sandbox: SandboxServer, user_id: int, text: str) -> float:
    """Send one message and wait for the bot's first reply in that chat; the latency in s."""
    mark = sandbox.last_seq
    started = time.perf_counter()
    sandbox.send_text(user_id, text)
    await sandbox.wait_for_call(
        lambda call: call.method in REPLY_METHODS and call.params.get("chat_id") == user_id,
        after_seq=mark,
        timeout=60,
    )
    return time.perf_counter() - started


async def _drive(
    sandbox: SandboxServer, people: Sequence[int], script: Sequence[str]
) -> tuple[list[float], float]:
    """Every person sends the script, one message after the bot's reply to the previous one."""

    async def person(user_id: int) -> list[float]:
        return [await _reply_to(sandbox, user_id, text) for text in script]

    started = time.perf_counter()
    per_person = await asyncio.gather(*(person(user_id) for user_id in people))
    elapsed = time.perf_counter() - started
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


async def main_async(people_count: int, database_url: str | None, output: Path | None) -> int:
    people = list(range(10_000, 10_000 + people_count))
    with tempfile.TemporaryDirectory(prefix="twitchcheck-bench-") as folder:
        url = database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        label = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        async with SandboxServer() as sandbox:
            echo = await run_echo(sandbox, people)
            sandbox.reset_records()
            ours = await run_twitchcheck(sandbox, people, url, label)
    ratio = ours.rate / echo.rate
    print(f"{people_count} people answering concurrently, one message at a time each\n")
    print(f"{'bot':40} {'answers':>8} {'answers/s':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for run in (echo, ours):
        numbers = f"{run.answers:>8} {run.rate:>10.1f} {run.p50_ms:>8.1f} {run.p95_ms:>8.1f}"
        print(f"{run.name:40} {numbers}")
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    print(f"\nratio twitchcheck/echo: {ratio:.2f} ({verdict} the target of at least 0.50)")
    if output:
        results = {"echo": asdict(echo), "twitchcheck": asdict(ours), "ratio": ratio}
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
