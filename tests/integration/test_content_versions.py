"""Content versions on SQLite and PostgreSQL: publish, rollback and its undo keep every
version; two instances (separate engines) both switch; a check-in keeps its version."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content_bundle import ContentBundle
from bot.content_files import bundle_from_files, read_folder
from bot.content_upload import Unpacked
from bot.db.models import AdminAudit, ContentPublication, ContentVersion
from bot.db.session import SessionFactory, create_engine, create_session_factory
from bot.domain import conversation as conv
from bot.paths import CONTENT_DIR
from bot.services import content_admin as svc
from bot.services import conversations as conversations_svc
from bot.services.content_live import ContentLibrary
from tests.support.clock import FakeClock

ADMIN = 777
PERSON = 4242
FILES = read_folder(CONTENT_DIR)
_BUNDLES: dict[str, ContentBundle] = {}


def cached_loader(files: Any) -> ContentBundle:
    """Bundles by content, shared across the test's instances (loading is the slow part)."""
    key = repr(sorted(files.items()))
    if key not in _BUNDLES:
        _BUNDLES[key] = bundle_from_files(files)
    return _BUNDLES[key]


def corrected(mark: str) -> dict[str, str]:
    files = dict(FILES)
    files["snippets.yaml"] = re.sub(r"(?m)^(    title: )", rf"\g<1>{mark}", FILES["snippets.yaml"])
    return files


@dataclass
class Instance:
    engine: AsyncEngine
    sessions: SessionFactory
    library: ContentLibrary
    admin: svc.ContentAdminService
    conversations: conversations_svc.ConversationService


def instance(url: str, clock: FakeClock) -> Instance:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    library = ContentLibrary(cached_loader(FILES), FILES, loader=cached_loader)
    return Instance(
        engine,
        sessions,
        library,
        svc.ContentAdminService(sessions, library, admin_ids=frozenset({ADMIN}), clock=clock),
        conversations_svc.ConversationService(
            sessions, library, default_timezone="Europe/Berlin", clock=clock
        ),
    )


@pytest.fixture
async def two(engine: AsyncEngine) -> AsyncIterator[tuple[Instance, Instance]]:
    url = engine.url.render_as_string(hide_password=False)
    clock = FakeClock()
    first, second = instance(url, clock), instance(url, clock)
    try:
        yield first, second
    finally:
        await first.engine.dispose()
        await second.engine.dispose()


UPDATES = itertools.count(1000)


async def stage(one: Instance, files: dict[str, str]) -> int:
    live_id, live_files = await one.admin.live_state()
    staged = await one.admin.stage(
        ADMIN, next(UPDATES), Unpacked(files=files), live_id, live_files, origin="upload"
    )
    assert isinstance(staged, svc.UploadStaged), staged
    return staged.version


async def test_publish_rollback_and_undo_keep_every_version(two: tuple[Instance, Instance]) -> None:
    one, _ = two
    v1 = await stage(one, corrected("✔ "))
    published = await one.admin.publish(ADMIN, next(UPDATES))
    assert isinstance(published, svc.Switched) and published.version == v1
    shipped = published.previous
    assert shipped is not None and shipped != v1
    back = await one.admin.rollback(ADMIN, next(UPDATES))
    assert isinstance(back, svc.Switched) and (back.version, back.previous) == (shipped, v1)
    undo = await one.admin.rollback(ADMIN, next(UPDATES))
    assert isinstance(undo, svc.Switched) and (undo.version, undo.previous) == (v1, shipped)
    again = await one.admin.rollback(ADMIN, next(UPDATES), shipped)
    assert isinstance(again, svc.Switched) and again.version == shipped
    same = await one.admin.rollback(ADMIN, next(UPDATES), shipped)
    assert same == svc.NotSwitched("already_live", shipped)
    assert await one.admin.rollback(ADMIN, next(UPDATES), 999) == svc.NotSwitched(
        "unknown_version", 999
    )
    async with one.sessions() as session:
        versions = (await session.scalars(select(ContentVersion).order_by(ContentVersion.id))).all()
        assert {v.id for v in versions} == {v1, shipped}
        assert {v.origin for v in versions} == {"upload", "shipped"}
        history = (await session.scalars(select(ContentPublication))).all()
        assert [(p.action, p.version_id, p.previous_version_id) for p in history] == [
            ("publish", v1, shipped),
            ("rollback", shipped, v1),
            ("rollback", v1, shipped),
            ("rollback", shipped, v1),
        ]
        audit = (await session.scalars(select(AdminAudit).order_by(AdminAudit.id))).all()
        assert [(a.action, a.outcome) for a in audit][-3:] == [
            ("rollback", "done"),
            ("rollback", "already_live"),
            ("rollback", "unknown_version"),
        ]


async def test_both_instances_serve_the_new_version_after_their_next_poll(
    two: tuple[Instance, Instance],
) -> None:
    one, other = two
    assert not await one.library.refresh(one.sessions)  # nothing published yet
    v1 = await stage(one, corrected("✔ "))
    assert isinstance(await one.admin.publish(ADMIN, next(UPDATES), v1), svc.Switched)
    for each in (one, other):
        assert await each.library.refresh(each.sessions)
        assert each.library.live_version == v1
        assert each.library.current.pack.snippets[0].title.startswith("✔ ")
    assert isinstance(await other.admin.rollback(ADMIN, next(UPDATES)), svc.Switched)
    for each in (one, other):
        assert await each.library.refresh(each.sessions)
        assert not each.library.current.pack.snippets[0].title.startswith("✔ ")


async def test_weaker_red_flags_need_a_second_confirmation(two: tuple[Instance, Instance]) -> None:
    one, _ = two
    weaker = {
        **FILES,
        "redflags.yaml": FILES["redflags.yaml"].replace("      - 'air hunger'\n", ""),
    }
    version = await stage(one, weaker)
    first = await one.admin.publish(ADMIN, next(UPDATES), version)
    assert isinstance(first, svc.NeedsConfirmation)
    assert first.weaker == ("red flag `trouble_breathing` loses 1 phrase(s)",)
    async with one.sessions() as session:
        assert (await session.scalars(select(ContentPublication))).all() == []
    confirmed = await one.admin.publish(ADMIN, next(UPDATES), version, confirm_weaker=True)
    assert isinstance(confirmed, svc.Switched)


async def test_a_checkin_in_progress_finishes_on_the_version_it_began_on(
    two: tuple[Instance, Instance],
) -> None:
    one, other = two
    talk = one.conversations

    async def say(text: str) -> Any:
        return await talk.answer_text(PERSON, next(UPDATES), text)

    start = await talk.start(PERSON, next(UPDATES))
    assert isinstance(start, conversations_svc.Ask)
    await talk.answer_press(
        PERSON, next(UPDATES), conv.encode_callback(start.draft.token, "consent", "yes")
    )
    await say("Berlin")
    await say("09:00")
    v1 = await stage(other, corrected("✔ "))
    assert isinstance(await other.admin.publish(ADMIN, next(UPDATES), v1), svc.Switched)
    await one.library.refresh(one.sessions)
    begun = await talk.begin_checkin(PERSON, next(UPDATES))
    assert isinstance(begun, conversations_svc.Ask)
    assert begun.draft.extra.get("content_version") == v1
    await say("mild")
    await say("eyelid")
    # Meanwhile the live version goes back to the shipped pack on both instances.
    assert isinstance(await other.admin.rollback(ADMIN, next(UPDATES)), svc.Switched)
    assert await one.library.refresh(one.sessions)
    assert not one.library.current.pack.snippets[0].title.startswith("✔ ")
    for answer in ("none", "6.5", "2 coffees"):
        await say(answer)
    saved = await say("0.8 l")
    while isinstance(saved, conversations_svc.Escalated):
        saved = saved.then
    assert isinstance(saved, conversations_svc.CheckinSaved), saved
    assert saved.snippets and all(s.title.startswith("✔ ") for s in saved.snippets)
