"""The check-in's two per-person date lookups, with and without the (person, date) indexes.

Two years of daily data for 200 people (two snippets shown and one escalation a day, the
worst case), in stdlib SQLite in memory; prints the median time of each lookup.

    python -m benchmarks.history_lookups
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from datetime import date, timedelta

PEOPLE = 200
DAYS = 730
SCHEMA = """
create table snippet_views (id integer primary key, user_id bigint, snippet_id text,
    content_version text, shown_on date, via text);
create table escalations (id integer primary key, user_id bigint, tier int, flag_ids text,
    origin text, local_date date);
"""
INDEXES = {
    "user_id only (before)": (
        "create index s on snippet_views (user_id)",
        "create index e on escalations (user_id)",
    ),
    "(user_id, date) (after)": (
        "create index s on snippet_views (user_id, shown_on)",
        "create index e on escalations (user_id, local_date)",
    ),
}
SNIPPETS_SHOWN = "select snippet_id, shown_on from snippet_views where user_id = ? and shown_on > ?"
TOLD_TODAY = "select flag_ids, tier from escalations where user_id = ? and local_date = ?"


def _database(indexes: tuple[str, ...]) -> sqlite3.Connection:
    database = sqlite3.connect(":memory:")
    database.executescript(SCHEMA)
    for statement in indexes:
        database.execute(statement)
    first = date(2024, 12, 1)
    days = [(first + timedelta(days=offset)).isoformat() for offset in range(DAYS)]
    database.executemany(
        "insert into snippet_views (user_id, snippet_id, content_version, shown_on, via)"
        " values (?, ?, 'v1', ?, 'checkin')",
        ((user, f"s{slot}", day) for user in range(PEOPLE) for day in days for slot in (1, 2)),
    )
    database.executemany(
        "insert into escalations (user_id, tier, flag_ids, origin, local_date)"
        " values (?, 1, '[]', 'text', ?)",
        ((user, day) for user in range(PEOPLE) for day in days),
    )
    database.execute("analyze")
    database.commit()
    return database


def _median_us(database: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> float:
    times = []
    for _ in range(2000):
        started = time.perf_counter()
        database.execute(sql, args).fetchall()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    print(f"{PEOPLE} people, {DAYS} days each; median of 2000 lookups")
    print(f"{'indexes':26} {'snippets shown, 14 days':>24} {'told today':>12}")
    for label, indexes in INDEXES.items():
        database = _database(indexes)
        shown = _median_us(database, SNIPPETS_SHOWN, (7, "2026-11-16"))
        told = _median_us(database, TOLD_TODAY, (7, "2026-11-30"))
        print(f"{label:26} {shown:>21.1f} µs {told:>9.1f} µs")


if __name__ == "__main__":
    main()
