"""Check-in throughput through the sandbox, next to bare python-telegram-bot echo bots.

The sandbox and the simulated people run in a process of their own (benchmarks.load_process),
as Telegram would be; each bot runs in this process against it, one after the other, with the
same number of people answering one message at a time: PTB's stock echo bot (httpx
transport), the same echo bot on twitchcheck's aiohttp transport, then twitchcheck. Reported
per bot: answers per second, p50/p95 latency (injecting an update → the bot's first reply to
that chat) and CPU ms per answer (this process's CPU time over the timed part / answers); and
twitchcheck's rate as a ratio of each echo bot's. Every row is the median of `--runs` runs.
After each run the stored check-ins are compared with the script, so a changed question flow
cannot produce numbers for check-ins that never completed.

    python -m benchmarks.checkin_throughput [--people 300 ...] [--runs 3]
        [--database-url URL] [--seed-users N --seed-checkins M] [--json FILE]
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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, select, text
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.app import build_application, polling
from bot.cli import apply_migrations
from bot.config import Settings
from bot.db.models import Checkin, User
from bot.db.session import create_engine, create_session_factory
from bot.transport import AiohttpRequest

TOKEN = "123456789:BENCH-token-for-the-sandbox-0000000"
# Typed answers to a first check-in with twitching: severity, where, the red-flag screen
# (asked on every day with twitching), sleep, caffeine, water. `verify_checkins` proves after
# the run that this script really completed a check-in for everyone.
CHECKIN_ANSWERS = ("mild", "eyelid", "none", "6.5", "2 coffees", "1.5 l")
EXPECTED_ROW = {"severity": 1, "locations": "eyelid_face", "sleep_hours": 6.5}
EXPECTED_ROW |= {"caffeine_mg": 190, "water_litres": 1.5}
SETUP_ANSWERS = ("/start", "yes", "Berlin", "9:00")
SEED_CHUNK = 20_000
# Targets of issue 11 (answers/s as a share of the stock echo bot's, 300 people).
TARGET_SQLITE = 0.6
TARGET_POSTGRESQL = 0.5


@dataclass(frozen=True)
class Measurement:
    """One bot's run: how many answers, how fast, how long each waited."""

    name: str
    answers: int
    seconds: float
    p50_ms: float
    p95_ms: float
    cpu_ms_per_answer: float

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


async def _timed_drive(
    sandbox: RemoteSandbox, name: str, people: Sequence[int], script: Sequence[str]
) -> Measurement:
    """Drive the script and measure it, with this process's CPU time over the drive."""
    cpu_before = time.process_time()
    latencies, seconds = await sandbox.drive(people, script)
    cpu = time.process_time() - cpu_before
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return Measurement(
        name=name,
        answers=len(latencies),
        seconds=seconds,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=p95 * 1000,
        cpu_ms_per_answer=cpu * 1000 / len(latencies),
    )


async def _with_polling(
    application: Any, body: Callable[[], Awaitable[Measurement]]
) -> Measurement:
    async with polling(application):
        return await body()


ECHO_STOCK = "echo bot, PTB stock (httpx)"
ECHO_AIOHTTP = "echo bot, aiohttp transport"


async def run_echo(sandbox: RemoteSandbox, people: Sequence[int], *, aiohttp: bool) -> Measurement:
    """A baseline: PTB's minimal echo bot on the same sandbox, stock or on our transport."""

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message and update.effective_message.text:
            await update.effective_message.reply_text(update.effective_message.text)

    builder = Application.builder().token(TOKEN).base_url(sandbox.api_url)
    if aiohttp:
        builder = builder.request(AiohttpRequest()).get_updates_request(
            AiohttpRequest(connection_pool_size=1)
        )
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def body() -> Measurement:
        name = ECHO_AIOHTTP if aiohttp else ECHO_STOCK
        return await _timed_drive(sandbox, name, people, CHECKIN_ANSWERS)

    return await _with_polling(application, body)


async def run_twitchcheck(
    sandbox: RemoteSandbox, people: Sequence[int], database_url: str, label: str
) -> Measurement:
    """twitchcheck: each person is set up first (not timed), then checks in (timed)."""
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
        return await _timed_drive(sandbox, f"twitchcheck ({label})", people, CHECKIN_ANSWERS)

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
    """Fresh user ids for one run, so a reused database holds no earlier state."""
    first = 10_000_000 + secrets.randbelow(10**6) * 1_000
    return list(range(first, first + count))


async def seed(database_url: str, users: int, checkins: int) -> None:
    """Bulk-insert consented people (no reminders, so nothing is sent to them) and past
    check-ins spread over them, to measure the bot on a database that is not empty."""
    if not users:
        return
    engine = create_engine(database_url)
    started = time.perf_counter()
    now = datetime.now(UTC)
    first_day = date.today() - timedelta(days=1 + checkins // users)
    try:
        for start in range(0, users, SEED_CHUNK):
            people = [
                {"id": index, "consented_at": now, "timezone": "Europe/Berlin"}
                for index in range(start + 1, min(start + SEED_CHUNK, users) + 1)
            ]
            async with engine.begin() as connection:
                await connection.execute(insert(User), people)
        for start in range(0, checkins, SEED_CHUNK):
            rows = [
                {
                    "user_id": 1 + number % users,
                    "local_date": first_day + timedelta(days=number // users),
                    "severity": number % 4,
                    "locations": "eyelid_face" if number % 4 else "",
                    "sleep_hours": 7.0,
                    "caffeine_mg": 95,
                    "caffeine_servings": 1.0,
                    "water_litres": 1.5,
                }
                for number in range(start, min(start + SEED_CHUNK, checkins))
            ]
            async with engine.begin() as connection:
                await connection.execute(insert(Checkin), rows)
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    seconds = time.perf_counter() - started
    print(f"seeded {users} people and {checkins} check-ins in {seconds:.0f} s", file=sys.stderr)


@dataclass(frozen=True)
class Row:
    """One number of people: the median of each measure over the runs."""

    people: int
    runs: list[dict[str, Measurement]]

    def median(self, bot: str, field: str) -> float:
        values = [
            getattr(run[bot], field) if field != "rate" else run[bot].rate for run in self.runs
        ]
        return statistics.median(values)

    def ratios(self, baseline: str) -> list[float]:
        return [run["twitchcheck"].rate / run[baseline].rate for run in self.runs]


async def measure(
    sandbox: RemoteSandbox, people_count: int, runs: int, url: str, label: str
) -> Row:
    """`runs` rounds of the three bots, each round with fresh people."""
    results = []
    for _ in range(runs):
        round_: dict[str, Measurement] = {
            ECHO_STOCK: await run_echo(sandbox, _people(people_count), aiohttp=False),
            ECHO_AIOHTTP: await run_echo(sandbox, _people(people_count), aiohttp=True),
        }
        people = _people(people_count)
        round_["twitchcheck"] = await run_twitchcheck(sandbox, people, url, label)
        await verify_checkins(url, people)
        results.append(round_)
    return Row(people=people_count, runs=results)


def print_table(rows: Sequence[Row], label: str) -> None:
    """The README's table: medians, with every run's ratio to the stock echo bot."""
    print(f"\n{label}, median of {len(rows[0].runs)} runs; answers/s · p50/p95 ms · CPU ms/answer")
    print(
        "| people | echo stock | echo aiohttp | twitchcheck | p50 / p95 ms | CPU ms/answer "
        "(echo stock / aiohttp / twitchcheck) | ratio vs stock (runs) | ratio vs aiohttp echo |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|---:|")
    for row in rows:
        cpu = " / ".join(
            f"{row.median(bot, 'cpu_ms_per_answer'):.2f}"
            for bot in (ECHO_STOCK, ECHO_AIOHTTP, "twitchcheck")
        )
        stock = row.ratios(ECHO_STOCK)
        runs = ", ".join(f"{ratio:.2f}" for ratio in stock)
        print(
            f"| {row.people} | {row.median(ECHO_STOCK, 'rate'):.0f} "
            f"| {row.median(ECHO_AIOHTTP, 'rate'):.0f} | {row.median('twitchcheck', 'rate'):.0f} "
            f"| {row.median('twitchcheck', 'p50_ms'):.0f} "
            f"/ {row.median('twitchcheck', 'p95_ms'):.0f} "
            f"| {cpu} | **{statistics.median(stock):.2f}** ({runs}) "
            f"| {statistics.median(row.ratios(ECHO_AIOHTTP)):.2f} |"
        )


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="twitchcheck-bench-") as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        label = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        await apply_migrations(url)
        await seed(url, args.seed_users, args.seed_checkins)
        rows = []
        async with RemoteSandbox() as sandbox:
            for people_count in args.people:
                rows.append(await measure(sandbox, people_count, args.runs, url, label))
    seeded = f", {args.seed_users} people and {args.seed_checkins} check-ins seeded"
    print_table(rows, label + (seeded if args.seed_users else ""))
    target = TARGET_POSTGRESQL if label == "PostgreSQL" else TARGET_SQLITE
    for row in rows:
        ratio = statistics.median(row.ratios(ECHO_STOCK))
        verdict = "meets" if ratio >= target else "MISSES"
        print(f"{row.people} people: ratio {ratio:.2f} {verdict} the {label} target of {target}")
    if args.json:
        results = [
            {
                "people": row.people,
                "runs": [{k: asdict(v) for k, v in run.items()} for run in row.runs],
            }
            for row in rows
        ]
        await asyncio.to_thread(args.json.write_text, json.dumps(results, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, nargs="+", default=[300])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--seed-users", type=int, default=0, help="people already stored")
    parser.add_argument("--seed-checkins", type=int, default=0, help="their past check-ins")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.seed_checkins and not args.seed_users:
        parser.error("--seed-checkins needs --seed-users")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
