"""Wiring: build the python-telegram-bot Application with its resources and handlers."""

from __future__ import annotations

import contextlib
import html
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    Job,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.concurrency import PerChatUpdateProcessor
from bot.config import Settings
from bot.content_bundle import ContentBundle, load_bundle
from bot.content_files import read_folder
from bot.context import DEPS_KEY, BotApplication, BotContext, Deps
from bot.db.session import SessionFactory, create_engine, create_session_factory
from bot.db.storage import StorageWatch
from bot.domain.outbox import SendOutcome
from bot.intake import ALLOWED_UPDATES, IntakeBot
from bot.metrics import Metrics
from bot.paths import CONTENT_DIR
from bot.services.announcements import AnnouncementService
from bot.services.content_admin import ContentAdminService
from bot.services.content_live import ContentLibrary
from bot.services.conversations import ConversationService
from bot.services.kernel import Clock, utc_now
from bot.services.maintenance import forget_old_updates, forget_unanswered_consent
from bot.services.outbox import ClaimedMessage, Dispatcher, SharedPause, Transport
from bot.services.outbox import prune as prune_outbox
from bot.services.records import RecordsService
from bot.services.reminders import ReminderService
from bot.transport import AiohttpRequest
from handlers import admin, announce, gate, learn, private, records
from handlers import reminders as reminder_handlers
from handlers.outbox import TelegramTransport

log = logging.getLogger(__name__)

PRIVATE_COMMANDS = (
    ("checkin", "Today's check-in"),
    ("history", "Your last 14 days"),
    ("insights", "Chart and patterns of the last 4 weeks"),
    ("report", "A PDF to show your doctor"),
    ("learn", "Read about what may be behind twitching"),
    ("settings", "Timezone and reminder time"),
    ("pause", "Pause reminders"),
    ("resume", "Turn reminders back on"),
    ("quiet", "Quiet hours for reminders"),
    ("summary", "Weekly summary on or off"),
    ("export", "All your data as JSON and CSV"),
    ("delete", "Erase everything about you"),
    ("privacy", "What is stored and why"),
    ("help", "What this bot does"),
    ("cancel", "Stop the current questions"),
)
ENGINE_KEY = "engine"
OUTBOX_BOT_KEY = "outbox_bot"
# Finished outbox rows (their body already cleared) are kept this long, then deleted.
OUTBOX_RETENTION = timedelta(days=2)
# The dispatcher looks for due rows at least this often (and at once when told of new ones).
OUTBOX_POLL_SECONDS = 1.0
MAINTENANCE_INTERVAL_SECONDS = 3600
STORAGE_CHECK_INTERVAL_SECONDS = 10
HOUSEKEEPING_JOB = "housekeeping"
CONTENT_POLL_JOB = "content-poll"


class TwitchcheckApplication(
    Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any]
):
    """PTB's Application without bookkeeping for a persistence the bot does not use.

    The stock Application adds every user and chat id that sends an update to two sets "to
    be updated in persistence", and only a configured persistence ever empties them: one
    entry per person forever (~13 MB at 100k people). State lives in the database instead.
    """

    __slots__ = ("_failed_updates", "metrics")

    def __init__(self, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics
        self._failed_updates: set[int] = set()

    async def process_update(self, update: object) -> None:
        """PTB's dispatch, counted: type, outcome (an error handler ran) and latency."""
        started = time.perf_counter()
        await super().process_update(update)
        failed = isinstance(update, Update) and update.update_id in self._failed_updates
        if failed and isinstance(update, Update):
            self._failed_updates.discard(update.update_id)
        self.metrics.count_update(
            update, "error" if failed else "ok", time.perf_counter() - started
        )

    async def process_error(
        self,
        update: object | None,
        error: Exception,
        job: Job[Any] | None = None,
        coroutine: Any = None,
    ) -> bool:
        if isinstance(update, Update) and job is None:
            self._failed_updates.add(update.update_id)
        return await super().process_error(update, error, job, coroutine)

    def _mark_for_persistence_update(
        self, *, update: object | None = None, job: Job[Any] | None = None
    ) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)


def file_url_for(api_url: str) -> str:
    """Telegram serves files under /file/bot<token>/ beside the /bot<token>/ methods."""
    head, separator, tail = api_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if separator else api_url


def shipped_library(content: ContentBundle | None = None) -> ContentLibrary:
    """The shipped content/ folder, serving until a version is published."""
    return ContentLibrary(content or load_bundle(CONTENT_DIR), read_folder(CONTENT_DIR))


def build_deps(
    settings: Settings,
    sessions: SessionFactory,
    content: ContentBundle | ContentLibrary,
    clock: Clock,
    metrics: Metrics | None = None,
) -> Deps:
    """The services, each sharing the one session factory, content library and clock."""
    library = content if isinstance(content, ContentLibrary) else shipped_library(content)
    return Deps(
        settings=settings,
        library=library,
        sessions=sessions,
        clock=clock,
        conversations=ConversationService(
            sessions,
            library,
            default_timezone=settings.default_timezone,
            clock=clock,
        ),
        # feature services: one line each
        reminders=ReminderService(
            sessions, default_timezone=settings.default_timezone, clock=clock
        ),
        records=RecordsService(sessions, default_timezone=settings.default_timezone, clock=clock),
        storage=StorageWatch.for_url(settings.database_url),
        admin=ContentAdminService(sessions, library, admin_ids=settings.admin_ids, clock=clock),
        metrics=metrics if metrics is not None else Metrics(),
        announcements=AnnouncementService(sessions, admin_ids=settings.admin_ids, clock=clock),
    )


def start_background_jobs(application: BotApplication, deps: Deps) -> None:
    """Repeating jobs on PTB's job queue: housekeeping, reminder ticks, weekly summaries."""
    jobs = application.job_queue
    if jobs is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")

    async def housekeeping(_context: BotContext) -> None:
        now = deps.clock()
        removed = await forget_old_updates(deps.sessions, now=now)
        unanswered = await forget_unanswered_consent(deps.sessions, now=now)
        pruned = await prune_outbox(deps.sessions, now=now, keep=OUTBOX_RETENTION)
        log.debug(
            "forgot %d processed update ids, %d unanswered consents, %d outbox rows",
            removed,
            unanswered,
            pruned,
        )

    jobs.run_repeating(
        housekeeping, interval=MAINTENANCE_INTERVAL_SECONDS, first=60, name=HOUSEKEEPING_JOB
    )

    async def check_storage(_context: BotContext) -> None:
        deps.storage.check()  # logs a missing, replaced or unwritable database file

    jobs.run_repeating(
        check_storage,
        interval=STORAGE_CHECK_INTERVAL_SECONDS,
        first=STORAGE_CHECK_INTERVAL_SECONDS,
        name="storage-check",
    )
    library = deps.library
    if isinstance(library, ContentLibrary):

        async def poll_content(_context: BotContext) -> None:
            await library.refresh(deps.sessions)  # a published version goes live here

        jobs.run_repeating(
            poll_content,
            interval=deps.settings.content_poll_seconds,
            first=deps.settings.content_poll_seconds,
            name=CONTENT_POLL_JOB,
        )
    reminder_handlers.start_scheduler(application, deps.settings)
    records.schedule_weekly_summaries(application, deps)
    announce.start_progress_job(application, deps)


class CountedTransport:
    """The outbox's transport, with each attempt's outcome counted in the metrics."""

    def __init__(self, inner: Transport, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def send(self, message: ClaimedMessage) -> SendOutcome:
        outcome = await self._inner.send(message)
        self._metrics.count_outbox_send(message.kind, outcome)
        return outcome


async def start_outbox(
    deps: Deps, settings: Settings, *, token: str, pause: SharedPause, clock: Clock
) -> Bot:
    """The outbox's own Bot (no PTB rate limiter: the dispatcher's budget is the limit) and
    its dispatcher, with the listeners that react to blocked and migrated chats."""
    outbox_bot = Bot(
        token,
        base_url=settings.telegram_api_url,
        base_file_url=file_url_for(settings.telegram_api_url),
        request=AiohttpRequest(),
    )
    await outbox_bot.initialize()
    transport = TelegramTransport(
        outbox_bot, renderers={records.WEEKLY_CHART: records.render_weekly_chart}
    )
    dispatcher = Dispatcher(
        deps.sessions,
        CountedTransport(transport, deps.metrics),
        # Outcome listeners: whoever owns a kind of chat reacts to 403s and migrations.
        listeners=[deps.reminders],
        pause=pause,
        clock=clock,
        poll_seconds=min(OUTBOX_POLL_SECONDS, settings.scheduler_interval_seconds),
    )
    deps.outbox = dispatcher
    dispatcher.start()
    return outbox_bot


def add_depth_probes(deps: Deps) -> None:
    """What /metrics reads from the database at each scrape (counts, never rows)."""

    async def reminders_due() -> int:
        return await deps.reminders.due_count(now=deps.clock())

    deps.metrics.add_depth_probe("reminders", reminders_due)


def metrics_of(application: BotApplication) -> Metrics:
    """The application's metrics (a TwitchcheckApplication always has them)."""
    if not isinstance(application, TwitchcheckApplication):
        raise TypeError("not built by bot.app.build_application")
    return application.metrics


def build_application(
    settings: Settings, *, token: str, clock: Clock = utc_now, updater: bool = True
) -> BotApplication:
    """The bot, pointed at settings.telegram_api_url; resources open in post_init. Without
    `updater` (webhook mode) updates come in through `process_update` only."""
    # One view of the shared 429 pause for replies (the rate limiter) and the outbox.
    pause = SharedPause()

    async def post_init(application: BotApplication) -> None:
        engine = create_engine(settings.database_url)
        application.bot_data[ENGINE_KEY] = engine
        sessions = create_session_factory(engine)
        library = shipped_library()
        await library.refresh(sessions)  # start on the published version, if any
        deps = build_deps(settings, sessions, library, clock, metrics_of(application))
        application.bot_data[DEPS_KEY] = deps
        pause.bind(deps.sessions)
        await application.bot.set_my_commands(
            [BotCommand(name, description) for name, description in PRIVATE_COMMANDS],
            scope=BotCommandScopeAllPrivateChats(),
        )
        application.bot_data[OUTBOX_BOT_KEY] = await start_outbox(
            deps, settings, token=token, pause=pause, clock=clock
        )
        start_background_jobs(application, deps)
        add_depth_probes(deps)

    async def post_shutdown(application: BotApplication) -> None:
        deps: Deps | None = application.bot_data.pop(DEPS_KEY, None)
        if deps is not None:
            deps.metrics.remove_depth_probes()
        if deps is not None and deps.outbox is not None:
            await deps.outbox.stop()  # lets the messages already claimed finish
        outbox_bot: Bot | None = application.bot_data.pop(OUTBOX_BOT_KEY, None)
        if outbox_bot is not None:
            await outbox_bot.shutdown()
        engine = application.bot_data.pop(ENGINE_KEY, None)
        if engine is not None:
            await engine.dispose()

    metrics = Metrics()
    # Updates are read one by one, so an unreadable one is skipped (bot.intake).
    telegram_bot: ExtBot[None] = IntakeBot(
        token,
        base_url=settings.telegram_api_url,
        base_file_url=file_url_for(settings.telegram_api_url),
        rate_limiter=reminder_handlers.delivery_rate_limiter(pause, metrics.count_send),
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
        on_unreadable=metrics.count_unreadable,
    )
    builder = (
        Application.builder()
        .application_class(TwitchcheckApplication, kwargs={"metrics": metrics})
        .bot(telegram_bot)
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(PerChatUpdateProcessor())
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if not updater:
        builder = builder.updater(None)
    application: BotApplication = builder.build()
    register_handlers(application)
    return application


# Before every other handler group, the gate's included.
SENDER_CHECK_GROUP = gate.GATE_GROUP - 10


def register_handlers(application: BotApplication) -> None:
    """The gate first (edits, forwards, groups, buttons outside the private chat), then the
    private chat's handlers, then replies to what none of them takes (media, unknown
    commands)."""
    application.add_handler(TypeHandler(Update, private.without_sender), group=SENDER_CHECK_GROUP)
    gate.register(application, private_commands=["start", *(name for name, _ in PRIVATE_COMMANDS)])
    private_chat = filters.ChatType.PRIVATE
    commands = {
        "start": private.start,
        "checkin": private.checkin,
        "settings": private.settings,
        "cancel": private.cancel,
        "help": private.help_command,
        "privacy": private.privacy,
    }
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=private_chat))
    application.add_handler(CallbackQueryHandler(private.button))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & private_chat, private.text_message)
    )
    learn.register(application)
    admin.register(application)
    announce.register(application)
    application.add_error_handler(report_error)
    records.register(application)
    reminder_handlers.register(application)
    # Last in group 0, so they only see what no command or text handler took.
    application.add_handler(MessageHandler(private_chat & filters.COMMAND, private.unknown_command))
    application.add_handler(
        MessageHandler(
            private_chat & filters.UpdateType.MESSAGE & ~filters.TEXT & ~filters.StatusUpdate.ALL,
            private.media_message,
        )
    )


async def report_error(update: object, context: BotContext) -> None:
    """Log the failure (never message text) and tell the person their answers are safe."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    deps: Any = context.bot_data.get(DEPS_KEY)
    if deps is None:
        return
    try:
        await update.effective_chat.send_message(
            html.escape(deps.texts("error")), parse_mode=ParseMode.HTML
        )
    except Exception:  # the report itself must never raise into PTB's loop
        log.warning("could not tell chat about the failure of update %s", update_id)


@contextlib.asynccontextmanager
async def polling(application: BotApplication, *, poll_timeout: int = 1) -> AsyncIterator[None]:
    """Run the bot inside an existing event loop (tests, sandbox, benchmark).

    `run_polling` owns its loop and calls post_init/post_shutdown itself; this does the same
    steps by hand so callers that already run a loop get identical behaviour.
    """
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.start()
    updater = application.updater
    if updater is None:
        raise RuntimeError("application was built without an updater")
    await updater.start_polling(
        poll_interval=0, timeout=poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
    )
    try:
        yield
    finally:
        await updater.stop()
        await application.stop()
        if application.post_stop:
            await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
