"""SQLite through the inline driver: statements run on the event loop's own thread (no
worker-thread hop), with WAL, synchronous=NORMAL and foreign keys as before."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from bot.db.session import create_engine, create_session_factory


async def test_statements_run_on_the_loop_thread_with_the_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.sqlite3'}")
    threads: list[int] = []

    def register(dbapi_connection: object, _record: object) -> None:
        driver: Any = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        driver = getattr(driver, "_conn", driver)  # aiosqlite keeps sqlite3's connection here
        driver.create_function("thread_id", 0, lambda: threads.append(threading.get_ident()))

    event.listen(engine.sync_engine, "connect", register)
    try:
        async with create_session_factory(engine).begin() as session:
            await session.execute(text("SELECT thread_id()"))
            pragmas = [
                (await session.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys")
            ]
    finally:
        await engine.dispose()
    assert threads == [threading.get_ident()]
    assert pragmas == ["wal", 1, 1]
