"""Check-in throughput through the sandbox, next to a bare python-telegram-bot echo bot.

The sandbox and the simulated people run in a process of their own (benchmarks.load_process),
as Telegram would be; each bot runs in this process against it, one after the other, with the
same number of people answering one message at a time. Reported: answers per second and
p50/p95 latency (injecting an update → the bot's first reply to that chat), and the ratio of
twitchcheck's rate to the echo bot's (target: at least 0.5 on SQLite). After the run the
stored check-ins are compared with the script, so a changed question flow cannot produce
numbers for check-ins that never completed.

    python -m benchmarks.checkin_throughput [--people 40] [--database-url URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.app import build_application, polling
from bot.cli import apply_migrations
from bot.config import Settings
from bot.db.models import Checkin
from bot.db.session import create_engine, create_session_factory

TOKEN = "123456789:BENCH-token-for-the-sandbox-0000000"
# Typed answers to a first check-in with twitching: severity, where, the red-flag screen
# (asked on every day with twitching), sleep, caffeine, water. `verify_checkins` proves after
# the run that this script really completed a check-in for everyone.
CHECKIN_ANSWERS = ("mild", "eyelid", "none", "6.5", "2 coffees", "1.5 l")
EXPECTED_ROW = {"severity": 1, "locations": "eyelid_face", "sleep_hours": 6.5}
EXPECTED_ROW |= {"caffeine_mg": 190, "water_litres": 1.5}
SETUP_ANSWERS = ("/start", "yes", "Berlin", "9:00")


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


class RemoteSandbox:
    """The load process: spawn it, drive scripts through it, stop it."""

    def __init__(self) -> None:
        self.api_url = ""
        self._control = ""
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RemoteSandbox:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.load_process", stdout=asyncio.subprocess.PIPE
        )
        assert self._process.stdout is not None
        ready = json.loads(await asyncio.wait_for(self._process.stdout.readline(), 60))
        self.api_url, self._control = ready["api_url"], ready["control_url"]
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._http is not None:
            with contextlib.suppress(aiohttp.ClientError):
                await self._http.post(f"{self._control}/stop")
            await self._http.close()
        if self._process is not None:
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

    async def drive(
        self, people: Sequence[int], script: Sequence[str]
    ) -> tuple[list[float], float]:
        assert self._http is not None
        body = {"people": list(people), "script": list(script)}
        async with self._http.post(f"{self._control}/drive", json=body) as response:
            response.raise_for_status()
            result = await response.json()
        return list(result["latencies"]), float(result["seconds"])


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


async def run_echo(sandbox: RemoteSandbox, people: Sequence[int]) -> Measurement:
    """The baseline: PTB's minimal echo bot on the same sandbox."""

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message and update.effective_message.text:
            await update.effective_message.reply_text(update.effective_message.text)

    application = Application.builder().token(TOKEN).base_url(sandbox.api_url).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def body() -> Measurement:
        latencies, seconds = await sandbox.drive(people, CHECKIN_ANSWERS)
        return _measure("echo bot (PTB, no database)", latencies, seconds)

    return await _with_polling(application, body)


async def run_twitchcheck(
    sandbox: RemoteSandbox, people: Sequence[int], database_url: str, label: str
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
        await sandbox.drive(people, SETUP_ANSWERS)
        await sandbox.drive(people, ("/checkin",))
        latencies, seconds = await sandbox.drive(people, CHECKIN_ANSWERS)
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


def _people(count: int) -> list[int]:
    """Fresh user ids for one run, so a reused PostgreSQL database holds no earlier state."""
    first = 10_000_000 + secrets.randbelow(10**6) * 1_000
    return list(range(first, first + count))


async def main_async(people_count: int, database_url: str | None, output: Path | None) -> int:
    with tempfile.TemporaryDirectory(prefix="twitchcheck-bench-") as folder:
        url = database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        label = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        async with RemoteSandbox() as sandbox:
            echo = await run_echo(sandbox, _people(people_count))
            people = _people(people_count)
            ours = await run_twitchcheck(sandbox, people, url, label)
            await verify_checkins(url, people)
    ratio = ours.rate / echo.rate
    print(f"{people_count} people answering concurrently, one message at a time each\n")
    print(f"{'bot':40} {'answers':>8} {'answers/s':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for run in (echo, ours):
        numbers = f"{run.answers:>8} {run.rate:>10.1f} {run.p50_ms:>8.1f} {run.p95_ms:>8.1f}"
        print(f"{run.name:40} {numbers}")
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    print(f"\nratio twitchcheck/echo: {ratio:.2f} ({verdict} the target of at least 0.50)")
    if output:
        results = {
            "people": people_count,
            "echo": asdict(echo) | {"rate": echo.rate},
            "twitchcheck": asdict(ours) | {"rate": ours.rate},
            "ratio": ratio,
        }
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
