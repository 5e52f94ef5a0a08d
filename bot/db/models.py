"""SQLAlchemy 2 models: everything the bot stores, one table per kind of fact."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so migrations can address them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class User(Base):
    """A person who agreed to the privacy notice: the row is created with the consent."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    consented_at: Mapped[datetime | None]
    timezone: Mapped[str | None] = mapped_column(String(64))
    reminder_time: Mapped[time | None] = mapped_column(Time)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    next_reminder_at: Mapped[datetime | None] = mapped_column(index=True)
    paused_until: Mapped[date | None] = mapped_column(Date)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    skipped_date: Mapped[date | None] = mapped_column(Date)
    last_reminded_date: Mapped[date | None] = mapped_column(Date)
    weekly_summary_day: Mapped[int | None] = mapped_column(SmallInteger)
    last_summary_date: Mapped[date | None] = mapped_column(Date)
    # The open /delete confirmation: only a button carrying this token confirms it, and only
    # within an hour of erasure_requested_at (a new /delete replaces it).
    erasure_token: Mapped[str | None] = mapped_column(String(16))
    erasure_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Checkin(Base):
    """One day's answers; at most one per person and local date (a redo updates it)."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("user_id", "local_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    local_date: Mapped[date] = mapped_column(Date)
    severity: Mapped[int] = mapped_column(SmallInteger)
    locations: Mapped[str] = mapped_column(String(200), default="")
    sleep_hours: Mapped[float] = mapped_column(Float)
    caffeine_mg: Mapped[int] = mapped_column(Integer)
    caffeine_servings: Mapped[float | None] = mapped_column(Float)
    water_litres: Mapped[float] = mapped_column(Float)
    screen: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    # Which safety screen was asked: "full" (the whole list) or "short" ("anything new since
    # last time?" answered "Nothing new"); NULL when none was. The full one is due weekly.
    screen_kind: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ConversationState(Base):
    """The unfinished conversation of a person, so a restart resumes at the same question."""

    __tablename__ = "conversation_states"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    local_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ConsentRequest(Base):
    """A consent question shown to someone who has not answered it yet.

    Only what showing and answering the question needs: the Telegram user id, the token of
    its buttons and when it was asked. No foreign key (there is no ``users`` row before
    consent); the row goes on consent, on "Not now", and after a day of silence.
    """

    __tablename__ = "consent_requests"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class ProcessedUpdate(Base):
    """Update ids already acted on, written in the same transaction as the effect."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class SnippetView(Base):
    """Which snippet (and content version) a person was shown, to avoid repeats within a week."""

    __tablename__ = "snippet_views"
    # One person's rows by date; the leading user_id serves user-only lookups too.
    __table_args__ = (Index("ix_snippet_views_user_id_shown_on", "user_id", "shown_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    snippet_id: Mapped[str] = mapped_column(String(64))
    content_version: Mapped[str] = mapped_column(String(32))
    shown_on: Mapped[date] = mapped_column(Date)
    via: Mapped[str] = mapped_column(String(16))
    shown_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Escalation(Base):
    """A red-flag escalation shown to a person: tier, reasons, sources, where it came from."""

    __tablename__ = "escalations"
    # One person's rows by date; the leading user_id serves user-only lookups too.
    __table_args__ = (Index("ix_escalations_user_id_local_date", "user_id", "local_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    tier: Mapped[int] = mapped_column(SmallInteger)
    flag_ids: Mapped[list[str]] = mapped_column(JSON)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    sources: Mapped[list[str]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(16))
    local_date: Mapped[date] = mapped_column(Date)
    # The "I've seen a doctor about this" button under a ⚠️ naming a history pattern: the
    # token its callback data carries, and the local date it was pressed.
    doctor_token: Mapped[str | None] = mapped_column(String(16))
    doctor_seen_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class HistoryFlagPause(Base):
    """A history pattern the person has seen a doctor about: not told again before
    `paused_until` (free-text and screen flags of the same reason are never paused)."""

    __tablename__ = "history_flag_pauses"
    __table_args__ = (UniqueConstraint("user_id", "flag_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    flag_id: Mapped[str] = mapped_column(String(64))
    seen_on: Mapped[date] = mapped_column(Date)
    paused_until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ContentVersion(Base):
    """One content pack as uploaded or published: its YAML files, kept for ever so any
    version can be published again (rollback) and a rollback can itself be undone.

    No ``user_id`` column: who uploaded it is an admin's id, not a person's data, so export
    and erasure (which walk tables with ``user_id``) leave versions alone.
    """

    __tablename__ = "content_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_version: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(16))  # shipped | upload | cli
    uploaded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    published_at: Mapped[datetime | None]


class ContentLive(Base):
    """The one row naming the live version; every instance polls it and switches."""

    __tablename__ = "content_live"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    version_id: Mapped[int] = mapped_column(Integer, ForeignKey("content_versions.id"))
    changed_at: Mapped[datetime]
    changed_by: Mapped[int | None] = mapped_column(BigInteger)


class ContentPublication(Base):
    """Each switch of the live version (publish or rollback), newest last."""

    __tablename__ = "content_publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, ForeignKey("content_versions.id"))
    previous_version_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("content_versions.id")
    )
    action: Mapped[str] = mapped_column(String(16))  # publish | rollback
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime]


class AdminAudit(Base):
    """Append-only log of every admin action, allowed or refused: who, what, when, which
    version, how it ended — never the content of an upload or an announcement."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(200), default="")


class OutboxMessage(Base):
    """One message the bot sends on its own (bot.domain.outbox), written in the transaction
    that decided to send it and sent later by the dispatcher under the shared send budget.

    ``user_id`` is the person of a private chat (NULL for groups), so export and erasure
    include their pending and recent rows like every other personal table. The body (text,
    buttons, attachment) is cleared once a row is finished: only what happened stays until
    the row is pruned.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The dispatcher's claim: open rows by due time (PENDING first via the state prefix).
        Index("ix_outbox_state_not_before", "state", "not_before"),
        # Per-chat pacing, 403 cancellation and migrate rewrites look rows up by chat.
        Index("ix_outbox_chat_id_claimed_at", "chat_id", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text, default="")
    buttons: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    not_before: Mapped[datetime]
    stale_after: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    reason: Mapped[str | None] = mapped_column(String(120))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SendBudget(Base):
    """The send budget all instances share: one row (id 1).

    ``paused_until``: after a 429 nobody sends before this instant (its retry_after).
    ``next_free_at``: the sending capacity is reserved up to here; a dispatcher that claims n
    messages moves it on by n / rate, so all instances together stay under the overall rate.
    """

    __tablename__ = "send_budget"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    paused_until: Mapped[datetime | None]
    next_free_at: Mapped[datetime | None]


class Announcement(Base):
    """One admin announcement: its text, audience, state and final counts. The recipients
    are its outbox rows (dedupe key ``announce:<id>:<chat>``), written in the transaction that
    confirms it. No ``user_id`` column: the author is an admin acting as such, and the text
    is the bot's content, not anybody's data."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    audience: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    # The admin's progress message, edited as the rows are sent.
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
