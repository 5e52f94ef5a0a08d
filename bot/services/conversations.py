"""Onboarding, settings and check-in use cases: one transaction each, plain results out.

Every use case that changes something takes the Telegram update id and records it in the
same transaction, so the same update delivered twice acts once.
"""

from __future__ import annotations

import functools
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content_bundle import ContentBundle
from bot.contentpack import Snippet
from bot.db.models import Checkin, ConsentRequest, ConversationState, User
from bot.db.session import SessionFactory
from bot.domain import conversation as conv
from bot.domain.alarm_fatigue import ScreenKind
from bot.domain.ask import Answer, Reading, topics_mentioned
from bot.domain.checkin import CheckinAnswers, Severity
from bot.domain.timezones import zone_for
from bot.domain.triage import assess_screen
from bot.domain.triage_opinion import Check, Decision, answer_check, triage_message
from bot.services import reminders as reminder_schedule
from bot.services.content_live import ContentSource, as_source
from bot.services.guidance import (
    DoctorSeen,
    EscalationNotice,
    answers_from_row,
    escalate,
    escalate_history,
    recent_checkins,
    record_doctor_seen,
    snippets_after_checkin,
)
from bot.services.kernel import Clock, Kernel, utc_now
from bot.services.kernel import Duplicate as Duplicate
from bot.services.kernel import NeedsOnboarding as NeedsOnboarding

# Typed answers up to this length have their red-flag decision remembered (see _triage).
TRIAGE_CACHED_MAX_CHARS = 40
TRIAGE_CACHE_SIZE = 4096

# A consent question not answered within a day is forgotten (and its buttons stop working).
CONSENT_REQUEST_LIFETIME = timedelta(days=1)


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """Show the open question of `draft` (again, with a reason when the answer was unusable)."""

    draft: conv.Draft
    invalid_reason: str | None = None
    notice: str | None = None
    resumed: bool = False
    edited_in_place: bool = False
    summary: CheckinAnswers | None = None
    seen_step: str | None = None
    """The question the person saw before this one (None: none of this conversation's)."""
    redelivered: bool = False
    """The previous message with this question never reached the person."""


@dataclass(frozen=True)
class CheckinSaved:
    """A finished check-in was stored (new, or an update of today's)."""

    local_date: date
    answers: CheckinAnswers
    updated: bool
    snippets: tuple[Snippet, ...] = ()


@dataclass(frozen=True)
class SettingsSaved:
    """Onboarding or /settings finished; what is now in effect."""

    timezone: str
    reminder: time | None
    first_time: bool
    notice: str | None = None


@dataclass(frozen=True)
class Welcome:
    """/start from someone already set up."""

    timezone: str
    reminder: time | None


@dataclass(frozen=True)
class Simple:
    """A result that needs only a fixed message (keys of content/messages.yaml)."""

    key: Literal[
        "consent_declined",
        "consent_expired",
        "redo_kept",
        "already_answered",
        "stale_button",
        "forged_button",
        "cancelled",
        "nothing_to_cancel",
        "no_conversation",
        "no_answer",
    ]


@dataclass(frozen=True)
class CheckAsked:
    """The uncertain-middle question, with Yes/No buttons bound to `token`; shown before
    whatever else the message produced (`then`, e.g. the open check-in question again)."""

    check: Check
    token: str
    then: Result | None = None


@dataclass(frozen=True)
class Told:
    """A fixed message (key of the content's messages), then whatever comes next."""

    key: Literal["check_calm"]
    then: Result | None = None


@dataclass(frozen=True)
class Answered:
    """A plain question answered from the content pack."""

    snippets: tuple[Snippet, ...]


@dataclass(frozen=True)
class Escalated:
    """An escalation, shown before whatever else the use case produced (`then`)."""

    escalation: EscalationNotice
    then: Result | None = None


@dataclass(frozen=True)
class NotAnAnswer:
    """Media, a forward or an edit: never an answer. `draft` is the question still open."""

    draft: conv.Draft | None


Result = (
    Ask
    | CheckinSaved
    | SettingsSaved
    | Welcome
    | Simple
    | Answered
    | Escalated
    | NotAnAnswer
    | CheckAsked
    | Told
    | DoctorSeen
    | Duplicate
    | NeedsOnboarding
)

# Pending questions of people who have not consented live only in memory (nothing is stored
# before consent); after a restart their buttons are answered as stale.
MAX_UNSTORED_CHECKS = 10_000


@dataclass(frozen=True)
class PendingCheck:
    """An uncertain-middle question waiting for its Yes/No."""

    user_id: int
    check: Check
    bystander: bool

    def as_extra(self, token: str) -> dict[str, Any]:
        """The form kept in a stored conversation's extra."""
        return {"token": token, "check": self.check.value, "bystander": self.bystander}

    @staticmethod
    def from_extra(user_id: int, extra: Mapping[str, Any]) -> PendingCheck:
        """Back from a stored conversation's extra."""
        return PendingCheck(user_id, Check(extra["check"]), bool(extra.get("bystander")))


def escalated(notice: EscalationNotice | None, then: Result | None) -> Result:
    """Put an escalation (if any) in front of a result."""
    if notice is None:
        if then is None:
            raise ValueError("nothing to show")
        return then
    return Escalated(notice, then)


# --- persistence helpers ----------------------------------------------------------------


# Conversation state is read and written with Core statements: it is touched on every answer,
# and the ORM's unit of work costs more than the whole rest of the answer.
STATE: Table = ConversationState.__table__  # type: ignore[assignment]
STATE_SEEN = "conversation_state_seen"


async def _load_draft(session: AsyncSession, user_id: int) -> conv.Draft | None:
    result = await session.execute(select(STATE).where(STATE.c.user_id == user_id))
    row = result.mappings().first()
    if row is None:
        return None
    session.info[(STATE_SEEN, user_id)] = True
    return conv.Draft(
        kind=conv.Kind(row["kind"]),
        step=row["step"],
        token=row["token"],
        answers=dict(row["answers"]),
        extra=dict(row["extra"]),
        local_date=row["local_date"],
    )


async def _save_draft(session: AsyncSession, user_id: int, draft: conv.Draft) -> None:
    values = {
        "kind": draft.kind.value,
        "step": draft.step,
        "token": draft.token,
        "answers": dict(draft.answers),
        "extra": dict(draft.extra),
        "local_date": draft.local_date,
    }
    exists = session.info.get((STATE_SEEN, user_id))
    if exists is None:
        found = await session.scalar(select(STATE.c.user_id).where(STATE.c.user_id == user_id))
        exists = found is not None
    if exists:
        await session.execute(update(STATE).where(STATE.c.user_id == user_id).values(**values))
    else:
        await session.execute(insert(STATE).values(user_id=user_id, **values))
    session.info[(STATE_SEEN, user_id)] = True


async def _drop_draft(session: AsyncSession, user_id: int) -> None:
    session.info.pop((STATE_SEEN, user_id), None)
    await session.execute(delete(STATE).where(STATE.c.user_id == user_id))


UNDELIVERED = "undelivered"
"""Draft extra: the open question's message was never delivered; holds the step the person
last saw (or None), so their next message is not taken for a question they never saw."""


def _undelivered(draft: conv.Draft) -> tuple[bool, str | None, conv.Draft]:
    """(marker set?, the step last seen, the draft without the marker)."""
    if UNDELIVERED not in draft.extra:
        return False, None, draft
    extra = {key: value for key, value in draft.extra.items() if key != UNDELIVERED}
    seen = draft.extra[UNDELIVERED]
    return True, seen if isinstance(seen, str) else None, replace(draft, extra=extra)


CONTENT_VERSION = "content_version"
"""Draft extra: the content version a check-in started on (absent: whatever is live)."""


def pinned(draft: conv.Draft, version: int | None) -> conv.Draft:
    """The draft, remembering the content version it runs on."""
    if version is None:
        return draft
    return replace(draft, extra={**draft.extra, CONTENT_VERSION: version})


def content_version_of(draft: conv.Draft | None) -> int | None:
    """The content version a conversation runs on (None: the live one)."""
    value = draft.extra.get(CONTENT_VERSION) if draft is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def plain_answer(content: ContentBundle, text: str) -> Answer | None:
    """The content's answer to a message outside any conversation, or None ("not sure").
    Shared with the blind-round scorer (benchmarks/triage_blind.py), so it measures this."""
    return content.index.reply(text).answer


def _keeping_check(old: conv.Draft | None, new: conv.Draft) -> conv.Draft:
    """A new conversation keeps a pending uncertain-middle question of the old one."""
    pending = old.extra.get(conv.CHECK_STEP) if old is not None else None
    if not pending:
        return new
    return replace(new, extra={**new.extra, conv.CHECK_STEP: pending})


# Before consent the only thing kept is the open consent question: who was asked, the token
# of its buttons and when. No users row exists until the person agrees.
CONSENT: Table = ConsentRequest.__table__  # type: ignore[assignment]


async def _ask_for_consent(session: AsyncSession, user_id: int, now: datetime) -> conv.Draft:
    """(Re)open the consent question; a fresh token makes older consent buttons stale."""
    draft = conv.start_onboarding(new_token())
    await session.execute(delete(CONSENT).where(CONSENT.c.user_id == user_id))
    await session.execute(
        insert(CONSENT).values(user_id=user_id, token=draft.token, created_at=now)
    )
    return draft


async def _pending_consent(session: AsyncSession, user_id: int, now: datetime) -> conv.Draft | None:
    """The open consent question, unless it is older than a day (then it no longer counts,
    even before housekeeping removes it)."""
    token = await session.scalar(
        select(CONSENT.c.token).where(
            CONSENT.c.user_id == user_id,
            CONSENT.c.created_at > now - CONSENT_REQUEST_LIFETIME,
        )
    )
    return conv.start_onboarding(token) if token else None


async def _forget_consent_request(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(CONSENT).where(CONSENT.c.user_id == user_id))


async def _load_conversation(
    session: AsyncSession, user_id: int, now: datetime
) -> conv.Draft | None:
    """The open conversation: a stored draft, or else a pending consent question."""
    draft = await _load_draft(session, user_id)
    return draft if draft is not None else await _pending_consent(session, user_id, now)


def new_token() -> str:
    """Six lowercase hex characters binding buttons to one conversation."""
    return secrets.token_hex(3)


# --- the service ------------------------------------------------------------------------


class ConversationService:
    """Use cases behind /start, /settings, /checkin, /cancel, typed answers and buttons."""

    def __init__(
        self,
        sessions: SessionFactory,
        content: ContentBundle | ContentSource,
        *,
        default_timezone: str,
        clock: Clock = utc_now,
    ) -> None:
        self._kernel = Kernel(sessions)
        self._source = as_source(content)
        self._default_timezone = default_timezone
        self._clock = clock
        self._unstored_checks: OrderedDict[str, PendingCheck] = OrderedDict()
        self._triage_short = functools.lru_cache(maxsize=TRIAGE_CACHE_SIZE)(self._triage_now)
        self._triage_cached_for: ContentBundle | None = None

    @property
    def _content(self) -> ContentBundle:
        """The live content (a published version switches it without a restart)."""
        return self._source.current

    async def _content_of(self, session: AsyncSession, draft: conv.Draft) -> ContentBundle:
        """The content a conversation runs on: a check-in keeps the version it started on."""
        return await self._source.ensure(session, content_version_of(draft))

    def _triage_now(self, text: str) -> Decision:
        content = self._content
        return triage_message(content.catalog, text, content.opinion, content.thresholds)

    def _triage(self, text: str) -> Decision:
        """The red-flag decision for a message (rules, then the model: ~1 + 6 ms).

        Short typed answers ("6.5", "mild", "2 coffees") repeat across people and days, so
        their decision is remembered, in memory only; longer messages, where people describe
        themselves, are read afresh every time and never kept.
        """
        if len(text) <= TRIAGE_CACHED_MAX_CHARS:
            content = self._content
            if content is not self._triage_cached_for:  # a new version: new rules
                self._triage_short.cache_clear()
                self._triage_cached_for = content
            return self._triage_short(text)
        return self._triage_now(text)

    def _environment(self, content: ContentBundle) -> conv.Environment:
        catalog = content.catalog
        return conv.Environment(
            now=self._clock(),
            default_timezone=self._default_timezone,
            screen_options=frozenset(option.id for option in catalog.screen_options),
            screen_none=catalog.none_option_id,
        )

    def local_today(self, timezone: str | None) -> date:
        """Today's date where the person lives."""
        zone = zone_for(timezone or self._default_timezone)
        return self._clock().astimezone(zone).date()

    async def start(self, user_id: int, update_id: int) -> Result:
        """/start: the consent question for newcomers (nothing else stored), the rest of setup
        for people who agreed but did not finish it, a short welcome for everyone else."""

        async def work(session: AsyncSession) -> Result:
            user = await session.get(User, user_id)
            if user is None or user.consented_at is None:
                return Ask(await _ask_for_consent(session, user_id, self._clock()))
            if user.timezone:
                return Welcome(timezone=user.timezone, reminder=user.reminder_time)
            pending = await _load_draft(session, user_id)
            draft = _keeping_check(pending, conv.continue_onboarding(new_token()))
            await _save_draft(session, user_id, draft)
            return Ask(draft, resumed=True)

        return await self._kernel.run(user_id, update_id, work)

    async def open_settings(
        self, user_id: int, update_id: int, only: Literal["timezone", "reminder"] | None
    ) -> Result:
        """/settings: without `only`, report what is set; with it, ask that question."""

        async def work(session: AsyncSession, user: User) -> Result:
            if only is None:
                return Welcome(
                    timezone=user.timezone or self._default_timezone, reminder=user.reminder_time
                )
            draft = conv.start_settings(new_token(), only)
            await _save_draft(session, user_id, draft)
            return Ask(draft)

        return await self._kernel.run_set_up(user_id, update_id, work)

    async def begin_checkin(self, user_id: int, update_id: int) -> Result:
        """/checkin: resume today's unfinished one, or start (offering to update a done day)."""

        async def work(session: AsyncSession, user: User) -> Result:
            today = self.local_today(user.timezone)
            draft = await _load_draft(session, user_id)
            if draft and draft.kind is conv.Kind.CHECKIN and draft.local_date == today:
                undelivered, _, draft = _undelivered(draft)
                if undelivered:  # shown now, so the next answer is for this question
                    await _save_draft(session, user_id, draft)
                return Ask(draft, resumed=True)
            existing = await self._checkin_row(session, user_id, today)
            last_full_screen = await session.scalar(
                select(func.max(Checkin.local_date)).where(
                    Checkin.user_id == user_id, Checkin.screen_kind == ScreenKind.FULL.value
                )
            )
            draft = _keeping_check(
                draft,
                pinned(
                    conv.start_checkin(
                        new_token(),
                        today,
                        already_done=existing is not None,
                        last_full_screen=last_full_screen,
                    ),
                    self._source.live_version,
                ),
            )
            await _save_draft(session, user_id, draft)
            summary = answers_from_row(existing) if existing else None
            return Ask(draft, summary=summary)

        return await self._kernel.run_set_up(user_id, update_id, work)

    async def cancel(self, user_id: int, update_id: int) -> Result:
        """/cancel: drop the open conversation; stored check-ins stay."""

        async def work(session: AsyncSession) -> Result:
            draft = await _load_conversation(session, user_id, self._clock())
            if draft is None:
                return Simple("nothing_to_cancel")
            await _drop_draft(session, user_id)
            await _forget_consent_request(session, user_id)
            return Simple("cancelled")

        return await self._kernel.run(user_id, update_id, work)

    async def answer_text(self, user_id: int, update_id: int, text: str) -> Result:
        """A typed message: scanned for red flags (rules and the learned opinion), then the
        answer to the open question, or a plain question answered from the content. Thin
        evidence gets the uncertain-middle question first instead of an escalation."""
        decision = self._triage(text)
        found = decision.assessment

        async def work(session: AsyncSession) -> Result:
            user = None
            if found.tier is not None or decision.check is not None:
                user = await session.get(User, user_id)
            consented = user is not None and user.consented_at is not None
            notice = None
            if found.tier is not None:
                notice = await escalate(
                    session,
                    user_id=user_id,
                    assessment=found,
                    origin="text",
                    day=self.local_today(user.timezone if user else None),
                    store=consented,
                    bystander=self._content.catalog.bystander if decision.bystander else None,
                )
            draft = await _load_conversation(session, user_id, self._clock())
            token = None
            if decision.check is not None:
                token, draft = await self._ask_check(session, user_id, draft, decision, consented)
            asking = decision.check is not None
            result = await self._reply_to_text(
                session, user_id, draft, text, notice, asking=asking, flagged=found.tier is not None
            )
            if decision.check is not None and token is not None:
                return CheckAsked(check=decision.check, token=token, then=result)
            if result is None:
                raise AssertionError("a message always gets a reply")
            return result

        return await self._kernel.run(user_id, update_id, work)

    async def _reply_to_text(
        self,
        session: AsyncSession,
        user_id: int,
        draft: conv.Draft | None,
        text: str,
        notice: EscalationNotice | None,
        *,
        asking: bool,
        flagged: bool,
    ) -> Result | None:
        """The reply after any escalation: the open question's answer, or a plain answer.
        None when the uncertain-middle question being asked is the whole reply."""
        if draft is not None and draft.kind is not conv.Kind.CHECK:
            undelivered, seen, draft = _undelivered(draft)
            if undelivered:
                result = await self._after_undelivered(
                    session, user_id, draft, seen, conv.Typed(text)
                )
                return escalated(notice, result)
            mentioned = topics_mentioned(text)
            if draft.kind is conv.Kind.CHECKIN and mentioned:
                known = set(draft.extra.get("mentions", []))
                extra = {**draft.extra, "mentions": sorted(known | mentioned)}
                draft = replace(draft, extra=extra)
                await _save_draft(session, user_id, draft)
            result = await self._advance(session, user_id, draft, conv.Typed(text), pressed=False)
            return escalated(notice, result)
        if flagged:
            # Red flags come first, and an escalation-worthy message is never answered as a
            # question: a snippet after a 🚨 would read as if the bot had an explanation.
            return escalated(notice, None) if notice else Simple("no_conversation")
        if asking:
            return None
        return self._reply_from_content(text)

    def _reply_from_content(self, text: str) -> Result:
        """A free message outside any conversation: a plain question answered from the pack;
        a clear question without an answer says so; anything else gets the usual pointer."""
        reply = self._content.index.reply(text)
        if reply.answer is not None:
            return Answered(reply.answer.snippets)
        if reply.reading is Reading.QUESTION or reply.topic:
            return Simple("no_answer")
        return Simple("no_conversation")

    async def not_an_answer(
        self,
        user_id: int,
        update_id: int,
        *,
        text: str | None,
        written_by: Literal["self", "someone_else"],
    ) -> Result:
        """A caption, a forward or an edit: never taken as an answer or a command, but its
        words are still read for red flags. Someone else's signs are told, worded for them,
        and not stored as this person's."""
        found = self._triage(text).assessment if text else None

        async def work(session: AsyncSession) -> Result:
            notice = None
            if found is not None and found.tier is not None:
                own = written_by == "self"
                user = await session.get(User, user_id)
                notice = await escalate(
                    session,
                    user_id=user_id,
                    assessment=found,
                    origin="text",
                    day=self.local_today(user.timezone if user else None),
                    store=own and user is not None and user.consented_at is not None,
                    forwarded=not own,
                )
            draft = await _load_draft(session, user_id)
            if draft is not None and draft.kind is conv.Kind.CHECK:
                draft = None  # only a pending Yes/No question: no question to show again
            return escalated(notice, NotAnAnswer(draft))

        return await self._kernel.run(user_id, update_id, work)

    async def _ask_check(
        self,
        session: AsyncSession,
        user_id: int,
        draft: conv.Draft | None,
        decision: Decision,
        consented: bool,
    ) -> tuple[str, conv.Draft | None]:
        """Remember the pending question under a fresh token: beside the open conversation
        for people who consented, only in memory for everyone else."""
        if decision.check is None:
            raise ValueError("no question to ask")
        token = new_token()
        pending = PendingCheck(user_id, decision.check, decision.bystander)
        if not consented:
            self._unstored_checks[token] = pending
            while len(self._unstored_checks) > MAX_UNSTORED_CHECKS:
                self._unstored_checks.popitem(last=False)
            return token, draft
        if draft is None or draft.kind is conv.Kind.CHECK:
            draft = conv.start_check(pending.as_extra(token))
        else:
            draft = replace(draft, extra={**draft.extra, conv.CHECK_STEP: pending.as_extra(token)})
        await _save_draft(session, user_id, draft)
        return token, draft

    async def _answer_check(
        self, session: AsyncSession, user_id: int, reference: conv.CallbackRef
    ) -> Result:
        """Yes/No to the uncertain-middle question decides the tier; the open conversation
        (if any) is shown again so nothing is lost."""
        draft = await _load_draft(session, user_id)
        stored = draft.extra.get(conv.CHECK_STEP) if draft is not None else None
        then: Result | None = None
        consented = False
        if draft is not None and stored and stored.get("token") == reference.token:
            if reference.value not in {conv.YES, conv.NO}:
                return Simple("forged_button")
            pending = PendingCheck.from_extra(user_id, stored)
            consented = True
            if draft.kind is conv.Kind.CHECK:
                await _drop_draft(session, user_id)
            else:
                extra = {k: v for k, v in draft.extra.items() if k != conv.CHECK_STEP}
                draft = replace(draft, extra=extra)
                await _save_draft(session, user_id, draft)
                then = Ask(draft, resumed=True)
        else:
            found = self._unstored_checks.get(reference.token)
            if found is None or found.user_id != user_id:
                return Simple("stale_button")
            if reference.value not in {conv.YES, conv.NO}:
                return Simple("forged_button")
            pending = self._unstored_checks.pop(reference.token)
            if draft is not None and draft.kind is not conv.Kind.CHECK:
                then = Ask(draft, resumed=True)
        catalog = self._content.catalog
        assessment = answer_check(catalog, pending.check, yes=reference.value == conv.YES)
        if assessment.tier is None:
            return Told("check_calm", then)
        user = await session.get(User, user_id) if consented else None
        notice = await escalate(
            session,
            user_id=user_id,
            assessment=assessment,
            origin="check",
            day=self.local_today(user.timezone if user else None),
            store=consented,
            bystander=catalog.bystander if pending.bystander else None,
        )
        if notice is None:  # already told today at this tier
            return Told("check_calm", then)
        return Escalated(notice, then)

    async def answer_press(self, user_id: int, update_id: int, data: str | None) -> Result:
        """A button press; stale and forged buttons change nothing."""
        reference = conv.decode_callback(data)

        async def work(session: AsyncSession) -> Result:
            if reference is None:
                return Simple("forged_button")
            if reference.step == conv.CHECK_STEP:
                return await self._answer_check(session, user_id, reference)
            if reference.step == conv.SEEN_DOCTOR_STEP:
                return await self._doctor_seen(session, user_id, reference)
            draft = await _load_conversation(session, user_id, self._clock())
            if draft is None and reference.step == "consent":
                return Simple("consent_expired")
            if draft is None or draft.token != reference.token:
                return Simple("stale_button")
            pressed = conv.Pressed(step=reference.step, value=reference.value)
            undelivered, seen, draft = _undelivered(draft)
            if undelivered:
                return await self._after_undelivered(session, user_id, draft, seen, pressed)
            return await self._advance(session, user_id, draft, pressed, pressed=True)

        return await self._kernel.run(user_id, update_id, work)

    async def _doctor_seen(
        self, session: AsyncSession, user_id: int, reference: conv.CallbackRef
    ) -> Result:
        """ "I've seen a doctor about this": bound to its escalation's stored token, so it
        works after a restart and no matter which conversation is open."""
        if reference.value != conv.SEEN_DOCTOR_VALUE:
            return Simple("forged_button")
        user = await session.get(User, user_id)
        if user is None or user.consented_at is None:
            return Simple("stale_button")
        seen = await record_doctor_seen(
            session,
            user_id=user_id,
            token=reference.token,
            catalog=self._content.catalog,
            day=self.local_today(user.timezone),
        )
        return seen if seen is not None else Simple("stale_button")

    async def question_undelivered(self, user_id: int, ask: Ask) -> None:
        """The message asking `ask`'s question could not be sent (after retries): remember
        the question the person last saw. Written only on this failure path."""
        if ask.seen_step == ask.draft.step:
            return  # they have seen this very question already

        async def work(session: AsyncSession) -> None:
            draft = await _load_draft(session, user_id)
            if draft is None or (draft.token, draft.step) != (ask.draft.token, ask.draft.step):
                return  # the conversation moved on meanwhile
            extra = {**draft.extra, UNDELIVERED: ask.seen_step}
            await _save_draft(session, user_id, replace(draft, extra=extra))

        await self._kernel.run(user_id, None, work)

    async def _after_undelivered(
        self,
        session: AsyncSession,
        user_id: int,
        draft: conv.Draft,
        seen: str | None,
        given: conv.Typed | conv.Pressed,
    ) -> Result:
        """The first message after an undelivered question: an answer that fits the
        question the person last saw is taken for that one (their retry); anything else gets
        the question they are actually on, and is never taken for it."""
        await _save_draft(session, user_id, draft)  # the marker is spent either way
        retyped = isinstance(given, conv.Typed) or given.step == seen
        if seen is not None and retyped and seen in conv.steps_of(draft):
            rewound = replace(draft, step=seen)
            content = await self._content_of(session, draft)
            outcome = conv.advance(content.questions, rewound, given, self._environment(content))
            if not isinstance(outcome, conv.Invalid | conv.NotCurrent | conv.Forged):
                result = await self._advance(
                    session, user_id, rewound, given, pressed=isinstance(given, conv.Pressed)
                )
                return replace(result, redelivered=True) if isinstance(result, Ask) else result
        return Ask(draft, redelivered=True, seen_step=seen)

    async def _advance(
        self,
        session: AsyncSession,
        user_id: int,
        draft: conv.Draft,
        given: conv.Typed | conv.Pressed,
        *,
        pressed: bool,
    ) -> Result:
        content = await self._content_of(session, draft)
        outcome = conv.advance(content.questions, draft, given, self._environment(content))
        match outcome:
            case conv.Moved(draft=moved, notice=notice):
                if draft.step == "consent":
                    await self._record_consent(session, user_id)
                await _save_draft(session, user_id, moved)
                escalation = None
                if draft.step == "screen" and moved.step != "screen":
                    escalation = await self._screen_escalation(session, user_id, moved, content)
                return escalated(escalation, Ask(moved, notice=notice, seen_step=draft.step))
            case conv.Stayed(draft=stayed):
                await _save_draft(session, user_id, stayed)
                return Ask(stayed, edited_in_place=pressed, seen_step=draft.step)
            case conv.Invalid(draft=same, reason=reason):
                return Ask(same, invalid_reason=reason, seen_step=draft.step)
            case conv.NotCurrent():
                return Simple("already_answered")
            case conv.Forged():
                return Simple("forged_button")
            case conv.Declined(draft=declined):
                await _drop_draft(session, user_id)
                if declined.kind is conv.Kind.ONBOARDING:
                    await _forget_consent_request(session, user_id)
                    return Simple("consent_declined")
                return Simple("redo_kept")
            case conv.Completed(draft=done, notice=notice):
                await _drop_draft(session, user_id)
                if done.kind is conv.Kind.CHECKIN:
                    return await self._store_checkin(session, user_id, done, content)
                return await self._store_settings(session, user_id, done, notice)
        raise AssertionError(f"unhandled outcome {outcome!r}")

    async def _record_consent(self, session: AsyncSession, user_id: int) -> None:
        """The person agreed: their users row is created now, in this transaction, and the
        pending question is gone."""
        await _forget_consent_request(session, user_id)
        user = await session.get(User, user_id)
        if user is None:
            session.add(User(id=user_id, consented_at=self._clock()))
            await session.flush()
        elif user.consented_at is None:
            user.consented_at = self._clock()

    async def _screen_escalation(
        self, session: AsyncSession, user_id: int, draft: conv.Draft, content: ContentBundle
    ) -> EscalationNotice | None:
        """Ticked red-flag screen options escalate at once, mid-check-in."""
        selected = draft.answers.get("screen") or []
        assessment = assess_screen(content.catalog, selected)
        day = draft.local_date or self.local_today(None)
        return await escalate(
            session, user_id=user_id, assessment=assessment, origin="screen", day=day, store=True
        )

    async def _checkin_row(self, session: AsyncSession, user_id: int, day: date) -> Checkin | None:
        statement = select(Checkin).where(Checkin.user_id == user_id, Checkin.local_date == day)
        return (await session.execute(statement)).scalar_one_or_none()

    async def _store_checkin(
        self, session: AsyncSession, user_id: int, done: conv.Draft, content: ContentBundle
    ) -> Result:
        answers = conv.checkin_answers(done)
        day = done.local_date or self.local_today(None)
        row = await self._checkin_row(session, user_id, day)
        updated = row is not None
        if row is None:
            row = Checkin(user_id=user_id, local_date=day)
            session.add(row)
        row.severity = int(answers.severity)
        row.locations = ",".join(sorted(location.value for location in answers.locations))
        row.sleep_hours = answers.sleep_hours
        row.caffeine_mg = answers.caffeine.mg
        row.caffeine_servings = answers.caffeine.servings
        row.water_litres = answers.water_litres
        screen = conv.screen_shown(done)
        row.screen = list(done.answers.get("screen") or []) if screen else None
        row.screen_kind = screen.value if screen else None
        await session.flush()
        history = await recent_checkins(session, user_id, day)
        escalation = await escalate_history(
            session,
            user_id=user_id,
            catalog=content.catalog,
            history=history,
            day=day,
            twitching_today=answers.severity != Severity.NONE,
        )
        snippets = await snippets_after_checkin(
            session,
            user_id=user_id,
            pack=content.pack,
            day=day,
            today=answers,
            history=history,
            mentions=frozenset(done.extra.get("mentions", [])),
        )
        user = await session.get(User, user_id)
        if user is not None:  # today's reminder is no longer needed
            await reminder_schedule.reschedule_user(
                session, user, now=self._clock(), default_timezone=self._default_timezone
            )
        saved = CheckinSaved(local_date=day, answers=answers, updated=updated, snippets=snippets)
        return escalated(escalation, saved)

    async def _store_settings(
        self, session: AsyncSession, user_id: int, done: conv.Draft, notice: str | None
    ) -> Result:
        user = await session.get(User, user_id)
        if user is None:
            raise LookupError(f"user row vanished during {done.kind}")
        first_time = done.kind is conv.Kind.ONBOARDING
        if "timezone" in done.answers:
            user.timezone = str(done.answers["timezone"])
        if "reminder" in done.answers:
            user.reminder_time = conv.reminder_time(done)
        await reminder_schedule.reschedule_user(
            session, user, now=self._clock(), default_timezone=self._default_timezone
        )
        return SettingsSaved(
            timezone=user.timezone or self._default_timezone,
            reminder=user.reminder_time,
            first_time=first_time,
            notice=notice,
        )
