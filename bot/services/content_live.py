"""The content every instance serves: the version named live in the database.

Each instance polls `content_live.version_id` (one indexed single-row read, every
CONTENT_POLL_SECONDS) and, when it changed, loads that version in a worker thread and
switches; a check-in in progress keeps the version it started with (its id is stored in
the conversation), which stays loaded here or is loaded again on demand. Before the first
publish nothing is live and the shipped `content/` folder is served.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content_bundle import ContentBundle
from bot.content_files import bundle_from_files
from bot.db.models import ContentLive, ContentVersion
from bot.db.session import SessionFactory

log = logging.getLogger(__name__)

LIVE_ROW_ID = 1
KEPT_VERSIONS = 4  # the live one and a few recent ones that check-ins may still be on

Loader = Callable[[Mapping[str, str]], ContentBundle]


class ContentSource(Protocol):
    """What services ask for content: the live bundle, or a given version's."""

    @property
    def current(self) -> ContentBundle: ...

    @property
    def live_version(self) -> int | None: ...

    def bundle_of(self, version: int | None) -> ContentBundle: ...

    async def ensure(self, session: AsyncSession, version: int | None) -> ContentBundle: ...


class FixedContent:
    """One bundle for ever (tests, benchmarks, tools that never publish)."""

    def __init__(self, bundle: ContentBundle) -> None:
        self._bundle = bundle

    @property
    def current(self) -> ContentBundle:
        return self._bundle

    @property
    def live_version(self) -> int | None:
        return None

    def bundle_of(self, version: int | None) -> ContentBundle:
        return self._bundle

    async def ensure(self, session: AsyncSession, version: int | None) -> ContentBundle:
        return self._bundle


def as_source(content: ContentBundle | ContentSource) -> ContentSource:
    return FixedContent(content) if isinstance(content, ContentBundle) else content


async def live_version_id(session: AsyncSession) -> int | None:
    """The id of the live version; None before the first publish."""
    return await session.scalar(select(ContentLive.version_id).where(ContentLive.id == LIVE_ROW_ID))


async def version_files(session: AsyncSession, version: int) -> dict[str, str] | None:
    files = await session.scalar(select(ContentVersion.files).where(ContentVersion.id == version))
    return dict(files) if files is not None else None


class ContentLibrary:
    """The live bundle of this instance and the few versions check-ins may still be on."""

    def __init__(
        self,
        shipped: ContentBundle,
        shipped_files: Mapping[str, str],
        *,
        loader: Loader = bundle_from_files,
    ) -> None:
        self.shipped = shipped
        self.shipped_files = dict(shipped_files)
        self._loader = loader
        self._live: int | None = None
        self._bundles: OrderedDict[int, ContentBundle] = OrderedDict()
        self._switch = asyncio.Lock()
        self._unloadable: int | None = None

    @property
    def current(self) -> ContentBundle:
        return self.bundle_of(self._live)

    @property
    def live_version(self) -> int | None:
        return self._live

    def bundle_of(self, version: int | None) -> ContentBundle:
        """That version if loaded here, else the live one (None: the live one)."""
        if version is not None and version in self._bundles:
            return self._bundles[version]
        if self._live is None:
            return self.shipped
        return self._bundles.get(self._live, self.shipped)

    async def _load(self, session: AsyncSession, version: int) -> ContentBundle | None:
        if version in self._bundles:
            self._bundles.move_to_end(version)
            return self._bundles[version]
        files = await version_files(session, version)
        if files is None:
            return None
        bundle = await asyncio.to_thread(self._loader, files)
        self._bundles[version] = bundle
        while len(self._bundles) > KEPT_VERSIONS:
            oldest = next(iter(self._bundles))
            if oldest == self._live:
                self._bundles.move_to_end(oldest)
                oldest = next(iter(self._bundles))
            del self._bundles[oldest]
        return bundle

    async def ensure(self, session: AsyncSession, version: int | None) -> ContentBundle:
        """That version's bundle, loaded from the database if needed (a check-in that
        started on it before a restart or on another instance)."""
        if version is None:
            return self.current
        bundle = await self._load(session, version)
        return bundle if bundle is not None else self.current

    async def refresh(self, sessions: SessionFactory) -> bool:
        """Switch to the live version if it changed; True when it did."""
        async with sessions() as session:
            live = await live_version_id(session)
            if live in (self._live, self._unloadable):
                return False
            async with self._switch:
                if live == self._live:
                    return False
                if live is not None:
                    try:
                        bundle = await self._load(session, live)
                    except ValueError:  # ContentPackError, YAML, schema: this code rejects it
                        log.error(
                            "content version %s cannot be loaded; still serving %s",
                            live,
                            self._live,
                            exc_info=True,
                        )
                        self._unloadable = live
                        return False
                    if bundle is None:
                        return False
                previous, self._live = self._live, live
        log.info("content switched from version %s to %s", previous, live)
        return True
