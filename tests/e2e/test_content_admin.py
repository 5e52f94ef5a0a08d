"""An admin publishes, previews and rolls back content through the real bot and sandbox."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.content_files import read_folder
from bot.db.models import AdminAudit, ContentVersion
from bot.db.session import create_engine, create_session_factory
from bot.paths import CONTENT_DIR
from bot.sandbox.server import SandboxServer
from tests.e2e.harness import BotRunner
from tests.e2e.test_checkin import last_text, onboard
from tests.support.clock import FakeClock

ADMIN = 777
PERSON = 4242
STRANGER = 555
MARK = "✔ "
UNKNOWN = "I don't know that command. Send /help to see the ones I do."


def corrected_pack() -> dict[str, str]:
    """The shipped pack with every snippet title corrected (a mark in front) and a new
    pack version."""
    files = read_folder(CONTENT_DIR)
    files["snippets.yaml"] = re.sub(r"(?m)^(    title: )", rf"\g<1>{MARK}", files["snippets.yaml"])
    files["pack.yaml"] = files["pack.yaml"].replace('"2026.12.01-2"', '"2026.12.03-1"')
    return files


def zipped(files: dict[str, str], folder: str = "content/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(folder + name, text)
    return buffer.getvalue()


async def audit_rows(url: str) -> list[AdminAudit]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.scalars(select(AdminAudit).order_by(AdminAudit.id))).all())
    finally:
        await engine.dispose()


@pytest.fixture
async def admin_bot(
    sandbox: SandboxServer, database_url: str, clock: FakeClock
) -> AsyncIterator[BotRunner]:
    settings = Settings(
        telegram_bot_token="",
        telegram_api_url=sandbox.api_url,
        database_url=database_url,
        default_timezone="Europe/Berlin",
        admin_ids=frozenset({ADMIN}),
        content_poll_seconds=0.1,
        _env_file=None,
    )
    runner = BotRunner(sandbox=sandbox, settings=settings, clock=clock)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def checkin(sandbox: SandboxServer, *answers: str) -> list[str]:
    """A full check-in by typed answers; the texts the bot sent after the last one."""
    await sandbox.exchange_text(PERSON, "/checkin")
    for answer in answers[:-1]:
        await sandbox.exchange_text(PERSON, answer)
    mark = sandbox.last_seq
    await sandbox.exchange_text(PERSON, answers[-1])
    return [m.plain_text or "" for m in sandbox.new_messages_since(PERSON, mark)]


ANSWERS = ("mild", "eyelid", "none", "6.5", "2 coffees", "0.8 l")


def titles(texts: list[str]) -> list[str]:
    """First lines of snippet messages (those naming a source)."""
    return [text.splitlines()[0] for text in texts if "Source:" in text]


async def wait_for_live(sandbox: SandboxServer, bot: BotRunner, version: int) -> None:
    """Until the instance serves the version (polled every 0.1 s here)."""
    assert bot.application is not None
    deps: Any = bot.application.bot_data["deps"]
    for _ in range(200):
        if deps.library.live_version == version:
            return
        await asyncio.sleep(0.05)  # the poll job runs every 0.1 s; nothing to await on
    raise AssertionError(f"version {version} never went live")


async def test_upload_validate_diff_preview_publish_and_roll_back(
    sandbox: SandboxServer, admin_bot: BotRunner, clock: FakeClock
) -> None:
    await onboard(sandbox, PERSON)
    before = titles(await checkin(sandbox, *ANSWERS))
    assert before and not any(title.startswith(MARK) for title in before)

    mark = sandbox.last_seq
    await sandbox.exchange_document(ADMIN, "pack.zip", zipped(corrected_pack()), timeout=60)
    replies = [m.text or "" for m in sandbox.new_messages_since(ADMIN, mark)]
    report = replies[0]
    assert "Valid." in report and "Version #1" in report
    assert "53 changed" in report or "changed" in report
    assert "→" in report
    assert any("Dry run" in reply for reply in replies)
    diff_files = [c for c in sandbox.calls_of("sendDocument") if "diff" in str(c.files)]
    assert diff_files  # 53 changes do not fit one message: the whole diff comes as a file
    assert any(reply.startswith("<b>Preview</b>") for reply in replies)
    previews = [
        m for m in sandbox.new_messages_since(ADMIN, mark) if "Source:" in (m.plain_text or "")
    ]
    assert previews and all((m.plain_text or "").startswith(MARK) for m in previews)
    assert previews[0].parse_mode == "HTML"
    assert "/publish 1" in (replies[-1])

    await sandbox.exchange_text(ADMIN, "/publish 1")
    assert "Done: published version #1" in last_text(sandbox, ADMIN)
    await wait_for_live(sandbox, admin_bot, 1)

    clock.advance(days=1)
    after = titles(await checkin(sandbox, *ANSWERS))
    assert after and all(title.startswith(MARK) for title in after)

    await sandbox.exchange_text(ADMIN, "/rollback")
    assert "rolled back to version #2" in last_text(sandbox, ADMIN)  # #2: the shipped pack
    await wait_for_live(sandbox, admin_bot, 2)
    clock.advance(days=1)
    restored = titles(await checkin(sandbox, *ANSWERS))
    assert restored and not any(title.startswith(MARK) for title in restored)

    await sandbox.exchange_text(ADMIN, "/admin")
    overview = last_text(sandbox, ADMIN)
    assert "Live: #2" in overview and "#1 (publish" in overview and "#2 (rollback" in overview
    actions = [
        (row.action, row.outcome) for row in await audit_rows(admin_bot.settings.database_url)
    ]
    assert ("upload", "staged") in actions and ("publish", "done") in actions
    assert ("rollback", "done") in actions


async def test_broken_pack_is_rejected_with_file_and_line(
    sandbox: SandboxServer, admin_bot: BotRunner
) -> None:
    files = read_folder(CONTENT_DIR)
    broken = files["rules.yaml"].replace("snippets: [", "snippets: [no_such_snippet, ", 1)
    await sandbox.exchange_document(ADMIN, "rules.yaml", broken.encode(), timeout=60)
    text = last_text(sandbox, ADMIN)
    assert text.startswith("Content pack rejected")
    assert re.search(r"rules\.yaml:\d+: rules\[\d+\]\.snippets\[0\]: .*no_such_snippet", text)
    engine = create_engine(admin_bot.settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            assert (await session.scalars(select(ContentVersion))).all() == []
    finally:
        await engine.dispose()


async def test_zip_bomb_and_traversal_are_refused_before_reading(
    sandbox: SandboxServer, admin_bot: BotRunner
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("../snippets.yaml", "x")
    await sandbox.exchange_document(ADMIN, "evil.zip", buffer.getvalue())
    assert "points outside the pack" in last_text(sandbox, ADMIN)
    mark = sandbox.last_seq
    sandbox.send_document(ADMIN, "huge.zip", b"PK", declared_size=50_000_000)
    await sandbox.settle(ADMIN, after_seq=mark)
    assert "at most 1,048,576 bytes" in last_text(sandbox, ADMIN)
    assert not sandbox.calls_of("getFile") or all(
        call.params.get("file_id") != "huge" for call in sandbox.calls_of("getFile")
    )


async def test_non_admins_get_the_unknown_command_reply_and_are_audited(
    sandbox: SandboxServer, admin_bot: BotRunner
) -> None:
    gets_before = len(sandbox.calls_of("getFile"))
    await sandbox.exchange_document(STRANGER, "pack.zip", zipped(corrected_pack()))
    assert last_text(sandbox, STRANGER) == UNKNOWN
    assert len(sandbox.calls_of("getFile")) == gets_before  # never downloaded
    for command in ("/admin", "/publish 1", "/rollback", "/unknownthing"):
        await sandbox.exchange_text(STRANGER, command)
        assert last_text(sandbox, STRANGER) == UNKNOWN
    rows = await audit_rows(admin_bot.settings.database_url)
    assert [(r.actor_id, r.action, r.outcome) for r in rows] == [
        (STRANGER, "upload", "refused"),
        (STRANGER, "admin", "refused"),
        (STRANGER, "publish", "refused"),
        (STRANGER, "rollback", "refused"),
    ]
    assert all(r.detail == "" and r.version_id is None for r in rows)
