"""`twitchcheck run`: the bot and its HTTP server in one event loop, until SIGTERM or SIGINT.

Polling, with /healthz, /readyz and /metrics served on HTTP_HOST:HTTP_PORT (uvicorn +
starlette, `bot.web`). Shutdown is graceful and bounded by SHUTDOWN_TIMEOUT_SECONDS: readiness
turns false, polling stops, updates in progress finish, jobs stop, the database closes, exit
0. Whatever did not finish in time stays in the inbox
unacknowledged-as-done and is handled at the next start or by another instance.

Polling allows one poller per token. On PostgreSQL the pollers of one database elect one:
the first holds a session advisory lock for the bot's id as long as it runs (a killed one
lets go with its connection), and a second `twitchcheck run` is refused before it asks
Telegram for anything — Telegram would otherwise hand 409 Conflict to the *older* poller
and push out the one that was running. Where there is no shared database to elect through
(another database, SQLite), Telegram's 409 Conflict ends the process that gets it, with
an explanation and exit status 2, instead of fighting over the updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from telegram.error import Conflict, TelegramError

from bot.app import metrics_of
from bot.config import Settings
from bot.context import DEPS_KEY, BotApplication, Deps
from bot.db import migrate as migrations
from bot.db.advisory import AdvisoryLocks
from bot.db.session import create_engine
from bot.intake import ALLOWED_UPDATES, IntakeBot
from bot.services.health import Readiness, check_readiness
from bot.startup import StartupError
from bot.web import build_web_app

log = logging.getLogger(__name__)

BOT_API_RECENT_SECONDS = 60.0
"""Readiness: the Bot API answered within this long, or answers a getMe now."""
BOT_API_PROBE_TIMEOUT_SECONDS = 5.0
POLL_TIMEOUT_SECONDS = 10
CONFLICT_EXIT = 2

CONFLICT_HELP = (
    "Another process is receiving this bot's updates: Telegram answered getUpdates with "
    "409 Conflict ({reason}). Telegram gives a bot's updates to one poller only. Stop the "
    "other `twitchcheck run` (or whatever else uses this token), or run several instances "
    "in webhook mode (set WEBHOOK_URL and WEBHOOK_SECRET); this one stops now."
)
SECOND_POLLER_HELP = (
    "Another `twitchcheck run` already polls this bot on this database (it holds the "
    "poller lock). Telegram gives a bot's updates to one poller only, and would push out "
    "the running one, so this one does not start. Stop the other instance first, or run "
    "several instances in webhook mode (set WEBHOOK_URL and WEBHOOK_SECRET)."
)
POLLER_LOCK_NAMESPACE = 0x74636B50
"""First key of the poller election's advisory lock ("tckP"); the second is the bot id."""
WEBHOOK_SET_HELP = (
    "A webhook is set for this bot token (another deployment runs it in webhook mode), so "
    "polling here would take its updates away. Set WEBHOOK_URL and WEBHOOK_SECRET to run this "
    "instance in webhook mode too, or, if that deployment is gone, remove the webhook "
    "(Bot API deleteWebhook) and start again."
)


@dataclass
class RunState:
    """What readiness and shutdown need to know about the running process."""

    stopping: bool = False
    started: bool = False
    failure: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def request_stop(self, failure: str | None = None) -> None:
        if failure is not None and self.failure is None:
            self.failure = failure
        self.stop.set()


class HttpServer:
    """uvicorn serving the starlette app on the running loop; signals stay ours (uvicorn
    would otherwise re-raise SIGTERM after its shutdown and end the process with it)."""

    def __init__(self, app: Starlette, host: str, port: int, *, grace_seconds: float) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            access_log=False,  # paths and headers stay out of the log
            log_config=None,
            timeout_graceful_shutdown=max(int(grace_seconds), 1),
        )
        self._server = _QuietServer(config)
        self._main: asyncio.Task[None] | None = None
        self.where = f"{host}:{port}"

    @property
    def port(self) -> int:
        """The port listened on (useful with HTTP_PORT=0)."""
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("not listening")

    async def start(self) -> None:
        config = self._server.config
        if not config.loaded:
            config.load()
        self._server.lifespan = config.lifespan_class(config)
        try:
            await self._server.startup()
        except SystemExit:  # uvicorn's answer to a port it cannot bind
            raise StartupError(
                f"The bot's HTTP server cannot listen on {self.where} (is another process "
                "using that port?). Set HTTP_HOST and HTTP_PORT to a free address."
            ) from None
        self._main = asyncio.create_task(self._server.main_loop(), name="http-server")

    async def stop(self) -> None:
        """Stop listening, answer the requests in progress (bounded), close."""
        main, self._main = self._main, None
        if main is None:
            return
        self._server.should_exit = True
        await main
        await self._server.shutdown()


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


def bot_api_reached_recently(bot: object) -> float | None:
    """Seconds since the Bot API last answered, None if never."""
    last = getattr(bot, "last_reached", None)
    return None if last is None else time.monotonic() - float(last)


def readiness_check(
    application: BotApplication, state: RunState
) -> Callable[[], Awaitable[Readiness]]:
    """The /readyz check: started and not stopping, content loaded, the database reachable
    and at head, the Bot API reached recently (or now, by getMe)."""
    head = migrations.head()

    async def check() -> Readiness:
        if state.stopping:
            return Readiness(("shutting down",))
        deps = application.bot_data.get(DEPS_KEY)
        if not state.started or not isinstance(deps, Deps):
            return Readiness(("starting: content and database not opened yet",))
        # Deps exist once post_init loaded the content pack and opened the database.
        result = await check_readiness(deps.sessions, deps.storage, head=head)
        problems = list(result.problems)
        age = bot_api_reached_recently(application.bot)
        if age is None or age > BOT_API_RECENT_SECONDS:
            try:
                async with asyncio.timeout(BOT_API_PROBE_TIMEOUT_SECONDS):
                    await application.bot.get_me()
            except (TelegramError, TimeoutError) as error:
                problems.append(f"the Bot API was not reached ({type(error).__name__})")
        return Readiness(tuple(problems))

    return check


def install_signal_handlers(state: RunState) -> Callable[[], None]:
    """SIGTERM and SIGINT ask for a graceful stop; returns the undo."""
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, state.request_stop)
            installed.append(sig)

    def undo() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return undo


def on_polling_error(bot: IntakeBot, state: RunState) -> Callable[[TelegramError], None]:
    """PTB's polling error callback: a Conflict ends this process; others are retried by
    PTB with backoff (logged by type only)."""

    def callback(error: TelegramError) -> None:
        if isinstance(error, Conflict):
            reason = str(error).removeprefix("Conflict: ")
            bot.stop_polling_after_conflict()
            state.request_stop(CONFLICT_HELP.format(reason=reason))
            return
        log.warning("getUpdates failed (%s); retrying", type(error).__name__)

    return callback


async def serve(
    settings: Settings,
    application: BotApplication,
    *,
    state: RunState | None = None,
    on_listening: Callable[[HttpServer], None] | None = None,
    handle_signals: bool = True,
) -> int:
    """Run until asked to stop; the exit status (0, or 2 after a polling conflict).
    `state` lets a caller (tests) stop the bot without a signal."""
    state = state or RunState()
    undo_signals = install_signal_handlers(state) if handle_signals else (lambda: None)
    try:
        # Elected before anything starts: a refused poller sends nothing, runs no job.
        async with poller_election(settings.database_url, application.bot.token):
            return await _serve(settings, application, state, on_listening)
    finally:
        undo_signals()


@contextlib.asynccontextmanager
async def poller_election(database_url: str, token: str) -> AsyncIterator[None]:
    """Hold the poller lock of this bot on this database while polling; StartupError
    (SECOND_POLLER_HELP) when another process holds it. Nothing to elect through on SQLite."""
    engine = create_engine(database_url)
    locks = AdvisoryLocks(engine, POLLER_LOCK_NAMESPACE)
    try:
        if locks.shared:
            bot_id = int(token.partition(":")[0])  # public: the bot's user id, not the secret
            if not await locks.try_acquire(bot_id):
                raise StartupError(SECOND_POLLER_HELP)
            log.info("elected as this bot's poller on this database")
        yield
    finally:
        await locks.close()
        await engine.dispose()


async def _serve(
    settings: Settings,
    application: BotApplication,
    state: RunState,
    on_listening: Callable[[HttpServer], None] | None,
) -> int:
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.start()
    web_app = build_web_app(
        metrics=metrics_of(application), readiness=readiness_check(application, state)
    )
    http = HttpServer(
        web_app,
        settings.http_host,
        settings.http_port,
        grace_seconds=settings.shutdown_timeout_seconds / 2,
    )
    await http.start()
    log.info("HTTP server listening on %s:%d", settings.http_host, http.port)
    if on_listening is not None:
        on_listening(http)
    try:
        await start_polling(application, state)
        state.started = True
        await state.stop.wait()
    finally:
        state.stopping = True
        await stop_gracefully(settings, application, http)
    if state.failure is not None:
        log.error("%s", state.failure)
        return CONFLICT_EXIT
    return 0


async def start_polling(application: BotApplication, state: RunState) -> None:
    """Refuse to take over a webhook, then poll."""
    bot = application.bot
    info = await bot.get_webhook_info()
    if info.url:
        raise StartupError(WEBHOOK_SET_HELP)
    updater = application.updater
    if updater is None or not isinstance(bot, IntakeBot):
        raise RuntimeError("polling needs the application bot.app.build_application makes")
    await updater.start_polling(
        poll_interval=0,
        timeout=POLL_TIMEOUT_SECONDS,
        allowed_updates=list(ALLOWED_UPDATES),
        drop_pending_updates=False,
        error_callback=on_polling_error(bot, state),
    )
    log.info("polling mode: asking Telegram for updates")


async def stop_gracefully(
    settings: Settings,
    application: BotApplication,
    http: HttpServer,
) -> None:
    """Stop taking updates, let those in progress finish, stop jobs, close the database —
    within SHUTDOWN_TIMEOUT_SECONDS; past it, what is left is abandoned (it stays in the
    inbox) and the database is closed anyway."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(settings.shutdown_timeout_seconds):
            updater = application.updater
            if updater is not None and updater.running:
                await updater.stop()
            if application.running:
                await application.stop()
            if application.post_stop:
                await application.post_stop(application)
    except TimeoutError:
        log.warning(
            "shutdown took longer than %.0f s: unfinished updates stay in the inbox",
            settings.shutdown_timeout_seconds,
        )
    finally:
        with contextlib.suppress(Exception):
            await http.stop()
        with contextlib.suppress(RuntimeError):  # still running after the timeout
            await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
    log.info("stopped in %.1f s", time.monotonic() - started)
