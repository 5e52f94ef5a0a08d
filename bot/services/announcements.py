"""Announcement use cases: /announce → text → audience → count → confirm → the outbox,
progress, cancel, the final tally. One transaction each (admin actions through the kernel,
so a redelivered update acts once), plain results out, every step audited.

Confirming writes the recipients' outbox rows (kind "announcement", key
``announce:<id>:<chat>``) in the same transaction as the announcement's switch to "sending":
either everyone is queued or nobody is. The outbox dispatcher then sends them under the
shared send budget; a crash anywhere leaves the rows where they were and any instance
carries on (resumable), and the dedupe key means no chat can be queued twice. Progress is
counted from the rows themselves, so every instance sees the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Announcement, OutboxMessage, User
from bot.db.session import SessionFactory
from bot.domain.announcements import (
    OPEN_STATES,
    AnnouncementState,
    Audience,
    Progress,
    dedupe_key,
    dedupe_prefix,
    final_report,
    report_key,
    text_problem,
)
from bot.domain.outbox import OutboxKind, OutboxState, OutgoingMessage
from bot.services import outbox
from bot.services.content_admin import audit
from bot.services.kernel import Clock, Duplicate, Kernel, utc_now

ACTION = "announce"
# Reasons the outbox gives a row of a chat that refused the bot (403), itself or a sibling.
BLOCKED_REASONS = ("unreachable:%", "chat unreachable")


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AwaitingText:
    id: int


@dataclass(frozen=True)
class Busy:
    """Another announcement is still being sent: one at a time keeps the progress clear."""

    id: int


@dataclass(frozen=True)
class Ready:
    """The text passed the preview; these audiences (with their counts) can be chosen."""

    id: int
    counts: dict[Audience, int]


@dataclass(frozen=True)
class Counted:
    id: int
    audience: Audience
    recipients: int


@dataclass(frozen=True)
class Confirmed:
    id: int
    recipients: int


@dataclass(frozen=True)
class Cancelled:
    id: int
    withdrawn: int  # pending rows cancelled (0 when it was not confirmed yet)
    progress: Progress | None  # None: nothing had been queued


@dataclass(frozen=True)
class NotPossible:
    reason: Literal["no_draft", "not_ready", "nothing_open", "no_recipients", "stale"]
    id: int | None = None


@dataclass(frozen=True)
class ProgressView:
    """One announcement still being sent (or just finished), for the progress edits."""

    id: int
    state: AnnouncementState
    progress: Progress
    chat_id: int | None
    message_id: int | None
    finished_now: bool  # this call closed it (the final tally was queued)


BeginResult = AwaitingText | Busy
TextResult = Ready | NotPossible
AudienceResult = Counted | NotPossible
ConfirmResult = Confirmed | NotPossible
CancelResult = Cancelled | NotPossible


# --- queries -----------------------------------------------------------------------------


def _recipients(audience: Audience) -> Select[int]:
    """The chat ids an audience reaches now (people: their private chat id is their id)."""
    if audience is Audience.EVERYONE:
        return select(User.id).where(User.active.is_(True), User.consented_at.is_not(None))
    raise ValueError(f"unknown audience {audience!r}")


async def count_recipients(session: AsyncSession, audience: Audience) -> int:
    subquery = _recipients(audience).subquery()
    return int(await session.scalar(select(func.count()).select_from(subquery)) or 0)


async def progress_of(session: AsyncSession, announcement_id: int) -> Progress:
    """Counts of the announcement's outbox rows by what happened to them."""
    blocked = or_(*(OutboxMessage.reason.like(pattern) for pattern in BLOCKED_REASONS))
    is_failed = OutboxMessage.state.in_([str(OutboxState.FAILED), str(OutboxState.STALE)])
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((OutboxMessage.state == OutboxState.SENT, 1), else_=0)),
                func.sum(case((and_(is_failed, blocked), 1), else_=0)),
                func.sum(case((and_(is_failed, ~blocked), 1), else_=0)),
                func.sum(case((OutboxMessage.state == OutboxState.CANCELLED, 1), else_=0)),
                func.sum(
                    case(
                        (
                            OutboxMessage.state.in_(
                                [str(OutboxState.PENDING), str(OutboxState.SENDING)]
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
            ).where(OutboxMessage.dedupe_key.startswith(dedupe_prefix(announcement_id)))
        )
    ).one()
    total, sent, blocked_n, failed, cancelled, open_n = (int(value or 0) for value in row)
    return Progress(total, sent, blocked_n, failed, cancelled, open_n)


def _stored_progress(row: Announcement) -> Progress:
    """The counts kept on the row once it finished (outbox rows are pruned later)."""
    return Progress(row.recipients, row.sent, row.blocked, row.failed, row.cancelled, 0)


class AnnouncementService:
    """Every step of an announcement. Callers check `is_admin` first; it is checked again
    here so a handler that forgot cannot send anything."""

    def __init__(
        self, sessions: SessionFactory, *, admin_ids: frozenset[int], clock: Clock = utc_now
    ) -> None:
        self._sessions = sessions
        self._kernel = Kernel(sessions)
        self._admins = admin_ids
        self._clock = clock

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._admins

    def _require(self, actor: int) -> None:
        if not self.is_admin(actor):
            raise PermissionError("not an admin")

    async def _audit(
        self, session: AsyncSession, actor: int, outcome: str, item: int | None, detail: str = ""
    ) -> None:
        # The announcement's id goes in the detail: version_id is for content versions.
        where = f"#{item}" if item is not None else ""
        text = " ".join(part for part in (where, detail) if part)
        await audit(
            session, at=self._clock(), actor=actor, action=ACTION, outcome=outcome, detail=text
        )

    # -- the draft

    async def begin(self, actor: int, update_id: int | None) -> BeginResult | Duplicate:
        """/announce: a new draft awaiting its text (the author's older drafts are dropped)."""
        self._require(actor)

        async def work(session: AsyncSession) -> BeginResult:
            busy = await session.scalar(
                select(Announcement.id).where(Announcement.state == AnnouncementState.SENDING)
            )
            if busy is not None:
                await self._audit(session, actor, "busy", busy)
                return Busy(busy)
            await self._drop_drafts(session, actor)
            row = Announcement(
                author_id=actor,
                state=str(AnnouncementState.AWAITING_TEXT),
                created_at=self._clock(),
                recipients=0,
                sent=0,
                blocked=0,
                failed=0,
                cancelled=0,
            )
            session.add(row)
            await session.flush()
            await self._audit(session, actor, "started", row.id)
            return AwaitingText(row.id)

        return await self._kernel.run(actor, update_id, work)

    async def _drop_drafts(self, session: AsyncSession, actor: int) -> None:
        await session.execute(
            update(Announcement)
            .where(
                Announcement.author_id == actor,
                Announcement.state.in_([str(state) for state in OPEN_STATES]),
            )
            .values(state=str(AnnouncementState.CANCELLED), finished_at=self._clock())
            .execution_options(synchronize_session=False)
        )

    async def awaiting_text(self, actor: int) -> int | None:
        """The author's draft waiting for its text, if any (a read, no lock)."""
        if not self.is_admin(actor):
            return None
        async with self._sessions() as session:
            return await session.scalar(
                select(Announcement.id).where(
                    Announcement.author_id == actor,
                    Announcement.state == AnnouncementState.AWAITING_TEXT,
                )
            )

    async def reject_text(
        self, actor: int, update_id: int | None, announcement_id: int, why: str
    ) -> bool:
        """The text failed the check or Telegram's parser: audited, the draft keeps waiting.
        False when the update was handled before."""
        self._require(actor)

        async def work(session: AsyncSession) -> None:
            await self._audit(session, actor, why, announcement_id)

        return not isinstance(await self._kernel.run(actor, update_id, work), Duplicate)

    async def set_text(
        self, actor: int, update_id: int | None, announcement_id: int, text: str
    ) -> TextResult | Duplicate:
        """The previewed text is stored; the audiences come back with their counts."""
        self._require(actor)
        if text_problem(text) is not None:
            raise ValueError("check the text with text_problem before storing it")

        async def work(session: AsyncSession) -> TextResult:
            row = await self._own(session, actor, announcement_id, AnnouncementState.AWAITING_TEXT)
            if row is None:
                return NotPossible("no_draft", announcement_id)
            row.text = text
            row.state = str(AnnouncementState.READY)
            counts = {audience: await count_recipients(session, audience) for audience in Audience}
            await self._audit(session, actor, "previewed", row.id, f"{len(text)} chars")
            return Ready(row.id, counts)

        return await self._kernel.run(actor, update_id, work)

    async def _own(
        self, session: AsyncSession, actor: int, announcement_id: int, state: AnnouncementState
    ) -> Announcement | None:
        row = await session.get(Announcement, announcement_id, with_for_update=True)
        if row is None or row.author_id != actor or row.state != state:
            return None
        return row

    async def choose_audience(
        self, actor: int, update_id: int | None, announcement_id: int, audience: Audience
    ) -> AudienceResult | Duplicate:
        """The audience is chosen: how many it reaches now, for the confirmation."""
        self._require(actor)

        async def work(session: AsyncSession) -> AudienceResult:
            row = await self._own(session, actor, announcement_id, AnnouncementState.READY)
            if row is None:
                await self._audit(session, actor, "stale_button", announcement_id)
                return NotPossible("not_ready", announcement_id)
            row.audience = str(audience)
            recipients = await count_recipients(session, audience)
            await self._audit(session, actor, "counted", row.id, f"{audience}: {recipients}")
            return Counted(row.id, audience, recipients)

        return await self._kernel.run(actor, update_id, work)

    async def confirm(
        self, actor: int, update_id: int | None, announcement_id: int
    ) -> ConfirmResult | Duplicate:
        """Queue one outbox row per recipient in this transaction and start sending."""
        self._require(actor)

        async def work(session: AsyncSession) -> ConfirmResult:
            row = await self._own(session, actor, announcement_id, AnnouncementState.READY)
            if row is None or row.audience is None or row.text is None:
                await self._audit(session, actor, "stale_button", announcement_id)
                return NotPossible("not_ready", announcement_id)
            busy = await session.scalar(
                select(Announcement.id).where(Announcement.state == AnnouncementState.SENDING)
            )
            if busy is not None:
                await self._audit(session, actor, "busy", busy)
                return NotPossible("stale", busy)
            audience = Audience(row.audience)
            chats = list((await session.scalars(_recipients(audience))).all())
            if not chats:
                await self._audit(session, actor, "no_recipients", row.id, str(audience))
                return NotPossible("no_recipients", row.id)
            now = self._clock()
            queued = await outbox.enqueue_many(
                session, (self._message(row.id, chat, row.text, now) for chat in chats)
            )
            row.state = str(AnnouncementState.SENDING)
            row.recipients = queued
            row.confirmed_at = now
            await self._audit(session, actor, "confirmed", row.id, f"{audience}: {queued}")
            return Confirmed(row.id, queued)

        return await self._kernel.run(actor, update_id, work)

    @staticmethod
    def _message(announcement_id: int, chat_id: int, text: str, now: datetime) -> OutgoingMessage:
        return OutgoingMessage(
            chat_id=chat_id,
            kind=OutboxKind.ANNOUNCEMENT,
            dedupe_key=dedupe_key(announcement_id, chat_id),
            text=text,
            buttons=None,
            not_before=now,
            stale_after=None,  # the kind's grace: a day for the whole run
        )

    async def attach_progress(self, announcement_id: int, chat_id: int, message_id: int) -> None:
        """Where the progress message is, so any instance can edit it."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Announcement)
                .where(Announcement.id == announcement_id)
                .values(progress_chat_id=chat_id, progress_message_id=message_id)
                .execution_options(synchronize_session=False)
            )

    # -- cancel

    async def cancel(
        self, actor: int, update_id: int | None, announcement_id: int | None = None
    ) -> CancelResult | Duplicate:
        """Withdraw the named (default: the open) announcement; rows already on the wire
        finish, every pending one is cancelled in this transaction."""
        self._require(actor)

        async def work(session: AsyncSession) -> CancelResult:
            live = [str(state) for state in (*OPEN_STATES, AnnouncementState.SENDING)]
            statement = select(Announcement).where(Announcement.state.in_(live))
            if announcement_id is not None:
                statement = statement.where(Announcement.id == announcement_id)
            statement = statement.order_by(Announcement.id.desc()).limit(1).with_for_update()
            row = (await session.execute(statement)).scalar_one_or_none()
            if row is None:
                await self._audit(session, actor, "nothing_open", announcement_id)
                return NotPossible("nothing_open", announcement_id)
            queued = row.state == AnnouncementState.SENDING
            row.state = str(AnnouncementState.CANCELLED)
            if not queued:
                row.finished_at = self._clock()
                await self._audit(session, actor, "cancelled", row.id, "before sending")
                return Cancelled(row.id, 0, None)
            withdrawn = await outbox.cancel(session, dedupe_prefix(row.id))
            progress = await progress_of(session, row.id)
            await audit(
                session,
                at=self._clock(),
                actor=actor,
                action="cancel",
                outcome="done",
                detail=f"#{row.id} withdrawn {withdrawn}, sent {progress.sent}",
            )
            return Cancelled(row.id, withdrawn, progress)

        return await self._kernel.run(actor, update_id, work)

    # -- progress and the final tally

    async def progress_round(self) -> list[ProgressView]:
        """Every announcement still being sent (or cancelled with rows in flight): its
        progress; those with nothing open are closed here, once across instances (a
        compare-and-set on the state), with the final tally queued to the author."""
        async with self._sessions() as session:
            ids = list(
                (
                    await session.scalars(
                        select(Announcement.id).where(
                            or_(
                                Announcement.state == AnnouncementState.SENDING,
                                and_(
                                    Announcement.state == AnnouncementState.CANCELLED,
                                    Announcement.confirmed_at.is_not(None),
                                    Announcement.finished_at.is_(None),
                                ),
                            )
                        )
                    )
                ).all()
            )
        return [view for view in [await self._step(item) for item in ids] if view is not None]

    async def _step(self, announcement_id: int) -> ProgressView | None:
        async with self._sessions.begin() as session:
            row = await session.get(Announcement, announcement_id)
            if row is None or row.finished_at is not None:
                return None
            state = AnnouncementState(row.state)
            progress = await progress_of(session, row.id)
            finished_now = False
            if progress.finished:
                finished_now = await self._finish(session, row, state, progress)
            return ProgressView(
                row.id, state, progress, row.progress_chat_id, row.progress_message_id, finished_now
            )

    async def _finish(
        self, session: AsyncSession, row: Announcement, state: AnnouncementState, progress: Progress
    ) -> bool:
        now = self._clock()
        final = AnnouncementState.DONE if state == AnnouncementState.SENDING else state
        closed = await session.execute(
            update(Announcement)
            .where(Announcement.id == row.id, Announcement.finished_at.is_(None))
            .values(
                state=str(final),
                finished_at=now,
                sent=progress.sent,
                blocked=progress.blocked,
                failed=progress.failed,
                cancelled=progress.cancelled,
            )
            .execution_options(synchronize_session=False)
        )
        if int(getattr(closed, "rowcount", 0) or 0) != 1:
            return False  # another instance closed it first
        await outbox.enqueue(
            session,
            OutgoingMessage(
                chat_id=row.author_id,
                kind=OutboxKind.ANNOUNCEMENT,
                dedupe_key=report_key(row.id),
                text=_html(final_report(row.id, progress, final)),
                buttons=None,
                not_before=now,
                stale_after=None,
            ),
        )
        await self._audit(
            session,
            row.author_id,
            "finished" if final == AnnouncementState.DONE else "cancelled_finished",
            row.id,
            f"sent {progress.sent}, blocked {progress.blocked}, failed {progress.failed}, "
            f"withdrawn {progress.cancelled}",
        )
        return True

    async def summary(self, announcement_id: int) -> tuple[AnnouncementState, Progress] | None:
        """State and counts of one announcement (live from the outbox while it runs)."""
        async with self._sessions() as session:
            row = await session.get(Announcement, announcement_id)
            if row is None:
                return None
            if row.finished_at is not None and row.confirmed_at is not None:
                return AnnouncementState(row.state), _stored_progress(row)
            return AnnouncementState(row.state), await progress_of(session, row.id)


def _html(text: str) -> str:
    """Plain text as Telegram HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
