"""Content admin use cases: upload → validation → diff and preview → publish, rollback,
the admin overview and the audit log. One transaction each through the kernel, plain
results out; the chat handlers and `twitchcheck content publish` both use it.

Versions are rows (`content_versions`) and stay for ever; `content_live` names the live
one and every instance polls it (bot.services.content_live). Publishing and rolling back
are the same switch, recorded in `content_publications` with who did it, so a rollback is
undone by rolling back again. Before the first switch the shipped pack is stored as a
version of its own, so there is always something to roll back to.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import desc, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content_bundle import ContentBundle
from bot.content_files import bundle_from_files, digest, pack_problems
from bot.content_upload import Unpacked, UploadRefused, unpack_upload
from bot.content_view import pack_view, red_flag_strength
from bot.contentpack import PackProblem
from bot.db.models import AdminAudit, ContentLive, ContentPublication, ContentVersion
from bot.db.session import SessionFactory
from bot.domain.content_diff import PackDiff, diff_packs, weakening
from bot.domain.dry_run import DryRunRow, dry_run
from bot.services.content_live import LIVE_ROW_ID, ContentLibrary, live_version_id
from bot.services.kernel import Clock, Duplicate, Kernel, lock_person, utc_now

# The advisory-lock key that serialises switches of the live version (PostgreSQL); person
# locks use Telegram user ids, which are positive.
SWITCH_LOCK_KEY = -14
RECENT = 10

Action = Literal["admin", "upload", "publish", "rollback", "announce", "cancel", "export_audit"]


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadRefusedResult:
    """Refused before anything was read (size, name, zip defences)."""

    reason: str


@dataclass(frozen=True)
class UploadInvalid:
    problems: tuple[PackProblem, ...]


@dataclass(frozen=True)
class UploadStaged:
    """A valid pack stored as a pending version, with what it changes."""

    version: int
    pack_version: str
    diff: PackDiff
    dry_run: tuple[DryRunRow, ...]
    unpacked: Unpacked
    bundle: ContentBundle
    existing: bool  # identical to a version already stored
    live: bool  # identical to the live version


UploadResult = UploadRefusedResult | UploadInvalid | UploadStaged


@dataclass(frozen=True)
class NeedsConfirmation:
    """The red-flag set would get weaker: publish only after a second, explicit yes."""

    version: int
    weaker: tuple[str, ...]
    action: Literal["publish", "rollback"]


@dataclass(frozen=True)
class Switched:
    version: int
    previous: int | None
    pack_version: str
    action: Literal["publish", "rollback"]


@dataclass(frozen=True)
class NotSwitched:
    reason: Literal["nothing_pending", "unknown_version", "already_live", "nothing_before"]
    version: int | None = None


SwitchResult = NeedsConfirmation | Switched | NotSwitched
Chooser = Callable[[AsyncSession], Awaitable[int | NotSwitched]]


@dataclass(frozen=True)
class VersionInfo:
    id: int
    pack_version: str
    origin: str
    uploaded_by: int | None
    created_at: datetime
    published_at: datetime | None


@dataclass(frozen=True)
class PublicationInfo:
    version_id: int
    previous_version_id: int | None
    action: str
    actor_id: int | None
    at: datetime


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor_id: int
    action: str
    outcome: str
    version_id: int | None
    detail: str


@dataclass(frozen=True)
class AdminOverview:
    live: VersionInfo | None  # None: the shipped pack, never published
    shipped_version: str
    pending: tuple[VersionInfo, ...]
    publications: tuple[PublicationInfo, ...]
    audit: tuple[AuditEntry, ...]


# --- helpers ---------------------------------------------------------------------------


def _version_info(row: ContentVersion) -> VersionInfo:
    return VersionInfo(
        row.id, row.pack_version, row.origin, row.uploaded_by, row.created_at, row.published_at
    )


async def audit(
    session: AsyncSession,
    *,
    at: datetime,
    actor: int,
    action: str,
    outcome: str,
    version: int | None = None,
    detail: str = "",
) -> None:
    """Append one audit row (ids, names of actions and outcomes, counts — never content)."""
    await session.execute(
        insert(AdminAudit).values(
            at=at,
            actor_id=actor,
            action=action,
            outcome=outcome,
            version_id=version,
            detail=detail[:200],
        )
    )


class ContentAdminService:
    """Everything an admin does with content; `is_admin` is checked by every entry point's
    caller and again here, so nothing slips through a handler that forgot."""

    def __init__(
        self,
        sessions: SessionFactory,
        library: ContentLibrary,
        *,
        admin_ids: frozenset[int],
        clock: Clock = utc_now,
    ) -> None:
        self._sessions = sessions
        self._kernel = Kernel(sessions)
        self._library = library
        self._admins = admin_ids
        self._clock = clock

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._admins

    # -- refusals and the audit log

    async def refuse(self, actor: int, update_id: int | None, action: Action) -> None:
        """Someone who is not an admin tried an admin action: audited, nothing else."""

        async def work(session: AsyncSession) -> None:
            await audit(session, at=self._clock(), actor=actor, action=action, outcome="refused")

        await self._kernel.run(actor, update_id, work)

    async def note(
        self, actor: int, update_id: int | None, action: Action, outcome: str, detail: str = ""
    ) -> bool:
        """An admin action with no other effect (viewing /admin, an export): audited once
        per update; False when the update was already handled."""
        self._require(actor)

        async def work(session: AsyncSession) -> None:
            await audit(
                session,
                at=self._clock(),
                actor=actor,
                action=action,
                outcome=outcome,
                detail=detail,
            )

        return not isinstance(await self._kernel.run(actor, update_id, work), Duplicate)

    def _require(self, actor: int | None) -> None:
        if actor is not None and not self.is_admin(actor):
            raise PermissionError("not an admin")

    # -- reading

    async def _live_files(self, session: AsyncSession) -> tuple[int | None, dict[str, str]]:
        live = await live_version_id(session)
        if live is None:
            return None, dict(self._library.shipped_files)
        files = await session.scalar(select(ContentVersion.files).where(ContentVersion.id == live))
        return live, dict(files or {})

    async def live_state(self) -> tuple[int | None, dict[str, str]]:
        """The live version id (None: the shipped pack) and its files."""
        async with self._sessions() as session:
            return await self._live_files(session)

    async def overview(self) -> AdminOverview:
        async with self._sessions() as session:
            live_id = await live_version_id(session)
            live = await session.get(ContentVersion, live_id) if live_id is not None else None
            pending = (
                await session.scalars(
                    select(ContentVersion)
                    .where(
                        ContentVersion.published_at.is_(None), ContentVersion.origin != "shipped"
                    )
                    .order_by(desc(ContentVersion.id))
                    .limit(RECENT)
                )
            ).all()
            publications = (
                await session.scalars(
                    select(ContentPublication).order_by(desc(ContentPublication.id)).limit(RECENT)
                )
            ).all()
            entries = (
                await session.scalars(
                    select(AdminAudit).order_by(desc(AdminAudit.id)).limit(RECENT)
                )
            ).all()
        return AdminOverview(
            live=_version_info(live) if live is not None else None,
            shipped_version=self._library.shipped.pack.version,
            pending=tuple(_version_info(row) for row in pending),
            publications=tuple(
                PublicationInfo(p.version_id, p.previous_version_id, p.action, p.actor_id, p.at)
                for p in publications
            ),
            audit=tuple(
                AuditEntry(e.at, e.actor_id, e.action, e.outcome, e.version_id, e.detail)
                for e in entries
            ),
        )

    async def audit_csv(self) -> bytes:
        """The whole audit log as CSV, oldest first."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["at", "actor_id", "action", "outcome", "version", "detail"])
        async with self._sessions() as session:
            rows = await session.stream_scalars(select(AdminAudit).order_by(AdminAudit.id))
            async for row in rows:
                writer.writerow(
                    [
                        row.at.isoformat(),
                        row.actor_id,
                        row.action,
                        row.outcome,
                        row.version_id if row.version_id is not None else "",
                        row.detail,
                    ]
                )
        return out.getvalue().encode("utf-8")

    # -- upload

    async def upload(
        self,
        actor: int | None,
        update_id: int | None,
        file_name: str,
        data: bytes,
        *,
        origin: str = "upload",
    ) -> UploadResult | Duplicate:
        """Unpack (defences first), validate, and store a valid pack as a pending version."""
        self._require(actor)
        async with self._sessions() as session:
            live_id, live_files = await self._live_files(session)
        try:
            unpacked = unpack_upload(file_name, data, live_files)
        except UploadRefused as refused:
            await self._audit_only(actor, update_id, "upload", "refused_file", str(refused))
            return UploadRefusedResult(str(refused))
        return await self.stage(actor, update_id, unpacked, live_id, live_files, origin=origin)

    async def _audit_only(
        self,
        actor: int | None,
        update_id: int | None,
        action: str,
        outcome: str,
        detail: str = "",
        version: int | None = None,
    ) -> None:
        async def work(session: AsyncSession) -> None:
            if actor is not None:
                await audit(
                    session,
                    at=self._clock(),
                    actor=actor,
                    action=action,
                    outcome=outcome,
                    version=version,
                    detail=detail,
                )

        if actor is None:
            return
        await self._kernel.run(actor, update_id, work)

    async def stage(
        self,
        actor: int | None,
        update_id: int | None,
        unpacked: Unpacked,
        live_id: int | None,
        live_files: Mapping[str, str],
        *,
        origin: str,
    ) -> UploadResult | Duplicate:
        files = dict(unpacked.files)
        running = self._library.shipped.texts
        problems = await asyncio.to_thread(pack_problems, files, running=running)
        if problems:
            await self._audit_only(
                actor, update_id, "upload", "invalid", f"{len(problems)} problems"
            )
            return UploadInvalid(tuple(problems))
        bundle = await asyncio.to_thread(bundle_from_files, files)
        live_bundle = (
            self._library.bundle_of(live_id) if live_id is not None else self._library.shipped
        )
        if live_id is not None and self._library.live_version != live_id:
            live_bundle = await asyncio.to_thread(bundle_from_files, live_files)
        diff = diff_packs(pack_view(live_bundle, live_files), pack_view(bundle, files))
        rows = tuple(dry_run(live_bundle.pack, bundle.pack, self._clock().date()))
        key = digest(files)

        async def work(session: AsyncSession) -> UploadStaged:
            found = await session.scalar(
                select(ContentVersion.id)
                .where(ContentVersion.digest == key)
                .order_by(ContentVersion.id)
            )
            existing = found is not None
            if found is None:
                found = (
                    await session.execute(
                        insert(ContentVersion)
                        .values(
                            pack_version=bundle.pack.version,
                            digest=key,
                            files=files,
                            origin=origin,
                            uploaded_by=actor,
                            created_at=self._clock(),
                        )
                        .returning(ContentVersion.id)
                    )
                ).scalar_one()
            if actor is not None:
                await audit(
                    session,
                    at=self._clock(),
                    actor=actor,
                    action="upload",
                    outcome="staged",
                    version=found,
                    detail=f"{unpacked.kind}: {diff.count('added')} added, "
                    f"{diff.count('changed')} changed, {diff.count('removed')} removed",
                )
            return UploadStaged(
                version=found,
                pack_version=bundle.pack.version,
                diff=diff,
                dry_run=rows,
                unpacked=unpacked,
                bundle=bundle,
                existing=existing,
                live=found == live_id,
            )

        if actor is None:
            async with self._sessions.begin() as session:
                return await work(session)
        return await self._kernel.run(actor, update_id, work)

    # -- publish and rollback

    async def publish(
        self,
        actor: int | None,
        update_id: int | None,
        version: int | None = None,
        *,
        confirm_weaker: bool = False,
    ) -> SwitchResult | Duplicate:
        """Make `version` (default: the newest pending upload) live everywhere."""
        self._require(actor)

        async def choose(session: AsyncSession) -> int | NotSwitched:
            if version is not None:
                return version
            newest = await session.scalar(
                select(ContentVersion.id)
                .where(ContentVersion.published_at.is_(None), ContentVersion.origin != "shipped")
                .order_by(desc(ContentVersion.id))
            )
            return newest if newest is not None else NotSwitched("nothing_pending")

        return await self._switch(actor, update_id, "publish", choose, confirm_weaker)

    async def rollback(
        self,
        actor: int | None,
        update_id: int | None,
        version: int | None = None,
        *,
        confirm_weaker: bool = False,
    ) -> SwitchResult | Duplicate:
        """Back to the version live before the current one (or the named one); the current
        one stays a version, so rolling back again undoes this."""
        self._require(actor)

        async def choose(session: AsyncSession) -> int | NotSwitched:
            if version is not None:
                return version
            last = await session.scalar(
                select(ContentPublication.previous_version_id).order_by(desc(ContentPublication.id))
            )
            return last if last is not None else NotSwitched("nothing_before")

        return await self._switch(actor, update_id, "rollback", choose, confirm_weaker)

    async def _shipped_version(self, session: AsyncSession) -> int:
        """The shipped pack as a version (stored once), so the first publish can be undone."""
        files = self._library.shipped_files
        key = digest(files)
        found = await session.scalar(
            select(ContentVersion.id)
            .where(ContentVersion.digest == key)
            .order_by(ContentVersion.id)
        )
        if found is not None:
            return found
        return (
            await session.execute(
                insert(ContentVersion)
                .values(
                    pack_version=self._library.shipped.pack.version,
                    digest=key,
                    files=dict(files),
                    origin="shipped",
                    uploaded_by=None,
                    created_at=self._clock(),
                    published_at=self._clock(),
                )
                .returning(ContentVersion.id)
            )
        ).scalar_one()

    async def _switch(
        self,
        actor: int | None,
        update_id: int | None,
        action: Literal["publish", "rollback"],
        pick: Chooser,
        confirm_weaker: bool,
    ) -> SwitchResult | Duplicate:
        async def work(session: AsyncSession) -> SwitchResult:
            await lock_person(session, SWITCH_LOCK_KEY)
            now = self._clock()
            chosen = await pick(session)
            result = await self._switch_in(session, actor, action, chosen, confirm_weaker, now)
            if actor is not None:
                target = (
                    result.version
                    if not isinstance(result, NotSwitched)
                    else chosen
                    if isinstance(chosen, int)
                    else None
                )
                outcome = (
                    "done"
                    if isinstance(result, Switched)
                    else "needs_confirmation"
                    if isinstance(result, NeedsConfirmation)
                    else result.reason
                )
                detail = (
                    "weaker red flags confirmed"
                    if confirm_weaker and isinstance(result, Switched)
                    else ""
                )
                if isinstance(result, NeedsConfirmation):
                    detail = f"{len(result.weaker)} weakening(s)"
                await audit(
                    session,
                    at=now,
                    actor=actor,
                    action=action,
                    outcome=outcome,
                    version=target,
                    detail=detail,
                )
            return result

        if actor is None:
            async with self._sessions.begin() as session:
                return await work(session)
        return await self._kernel.run(actor, update_id, work)

    async def _switch_in(
        self,
        session: AsyncSession,
        actor: int | None,
        action: Literal["publish", "rollback"],
        chosen: int | NotSwitched,
        confirm_weaker: bool,
        now: datetime,
    ) -> SwitchResult:
        if isinstance(chosen, NotSwitched):
            return chosen
        target = await session.get(ContentVersion, chosen)
        if target is None:
            return NotSwitched("unknown_version", chosen)
        live_id = await live_version_id(session)
        if live_id == target.id:
            return NotSwitched("already_live", target.id)
        if live_id is None:
            live_id = await self._shipped_version(session)
            await session.execute(
                insert(ContentLive).values(
                    id=LIVE_ROW_ID, version_id=live_id, changed_at=now, changed_by=None
                )
            )
            if live_id == target.id:
                return NotSwitched("already_live", target.id)
        live_files = (
            await session.scalar(select(ContentVersion.files).where(ContentVersion.id == live_id))
            or {}
        )
        weaker = weakening(
            red_flag_strength(str(live_files.get("redflags.yaml", ""))),
            red_flag_strength(str(target.files.get("redflags.yaml", ""))),
        )
        if weaker and not confirm_weaker:
            return NeedsConfirmation(target.id, tuple(weaker), action)
        await session.execute(
            update(ContentLive)
            .where(ContentLive.id == LIVE_ROW_ID)
            .values(version_id=target.id, changed_at=now, changed_by=actor)
        )
        if target.published_at is None:
            target.published_at = now
        await session.execute(
            insert(ContentPublication).values(
                version_id=target.id,
                previous_version_id=live_id,
                action=action,
                actor_id=actor,
                at=now,
            )
        )
        return Switched(target.id, live_id, target.pack_version, action)
