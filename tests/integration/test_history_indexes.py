"""The per-person date lookups of the check-in use an index on (person, date).

With only the user_id index, "what was told today" and "which snippets were shown in the last
two weeks" read that person's whole history on every check-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.content_bundle import load_bundle
from bot.db import migrate
from bot.db.session import create_engine
from bot.domain.checkin import CheckinAnswers, Severity
from bot.paths import CONTENT_DIR
from bot.services.guidance import snippets_after_checkin, told_today

DAY = date(2026, 12, 1)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'plan.sqlite3'}")
    await migrate.upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _plans_of_selects(engine: AsyncEngine, table: str, action: Any) -> list[str]:
    """SQLite's query plan for each SELECT on `table` that `action(session)` runs."""
    selects: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            selects.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", remember)
    try:
        async with AsyncSession(engine) as session:
            await action(session)
            await session.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", remember)
    assert selects, f"no SELECT on {table} was run"
    plans = []
    async with engine.connect() as connection:
        for statement, parameters in selects:
            raw = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans.append(" | ".join(str(row[-1]) for row in raw))
    return plans


async def test_told_today_uses_the_person_and_date_index(sqlite_engine: AsyncEngine) -> None:
    async def action(session: AsyncSession) -> None:
        await told_today(session, 1, DAY)

    for plan in await _plans_of_selects(sqlite_engine, "escalations", action):
        assert "ix_escalations_user_id_local_date (user_id=? AND local_date=?)" in plan, plan


async def test_snippet_memory_uses_the_person_and_date_index(sqlite_engine: AsyncEngine) -> None:
    pack = load_bundle(CONTENT_DIR).pack

    async def action(session: AsyncSession) -> None:
        await snippets_after_checkin(
            session,
            user_id=1,
            pack=pack,
            day=DAY,
            today=CheckinAnswers(severity=Severity.MILD),
            history=(),
            mentions=frozenset(),
        )

    for plan in await _plans_of_selects(sqlite_engine, "snippet_views", action):
        assert "ix_snippet_views_user_id_shown_on (user_id=? AND shown_on>?)" in plan, plan


async def test_erasure_by_person_still_finds_an_index(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.connect() as connection:
        for table in ("escalations", "snippet_views"):
            raw = await connection.execute(
                text(f"EXPLAIN QUERY PLAN SELECT id FROM {table} WHERE user_id = 1")
            )
            plan = " | ".join(str(row[-1]) for row in raw)
            assert "USING COVERING INDEX" in plan or "USING INDEX" in plan, plan
