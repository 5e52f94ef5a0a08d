"""A typed context, so handlers reach services through `context.deps`, not globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.content_bundle import ContentBundle
from bot.db.session import SessionFactory
from bot.db.storage import StorageWatch
from bot.domain.conversation import Draft, QuestionBook
from bot.metrics import Metrics
from bot.services.announcements import AnnouncementService
from bot.services.content_admin import ContentAdminService
from bot.services.content_live import ContentSource
from bot.services.conversations import ConversationService, content_version_of
from bot.services.kernel import Clock
from bot.services.outbox import Dispatcher
from bot.services.records import RecordsService
from bot.services.reminders import ReminderService
from bot.texts import Texts

DEPS_KEY = "deps"


@dataclass
class Deps:
    """Everything handlers need, built once in post_init and dropped in post_shutdown."""

    settings: Settings
    library: ContentSource
    sessions: SessionFactory
    clock: Clock
    conversations: ConversationService
    # feature services: one field each, built in bot.app.build_deps
    reminders: ReminderService
    records: RecordsService
    storage: StorageWatch
    admin: ContentAdminService
    metrics: Metrics
    announcements: AnnouncementService
    # The outbox's sending loop; started in post_init once the Bot API side exists.
    outbox: Dispatcher | None = None

    @property
    def content(self) -> ContentBundle:
        """The live content; a published version replaces it without a restart."""
        return self.library.current

    def content_for(self, draft: Draft | None) -> ContentBundle:
        """The content a conversation runs on (a check-in keeps the version it began on)."""
        return self.library.bundle_of(content_version_of(draft))

    @property
    def texts(self) -> Texts:
        return self.content.texts

    @property
    def questions(self) -> QuestionBook:
        return self.content.questions


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with typed access to the dependencies."""

    @property
    def deps(self) -> Deps:
        return cast(Deps, self.bot_data[DEPS_KEY])


BotApplication = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]
