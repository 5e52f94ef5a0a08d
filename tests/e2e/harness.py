"""The real Application polling the loopback sandbox, with a controllable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from telegram import Update

from bot.app import build_application
from bot.config import Settings
from bot.context import BotApplication
from bot.sandbox.server import SandboxServer

TOKEN = "123456789:TEST-token-for-the-sandbox-000000000"


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 22, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class BotRunner:
    """Starts, stops and restarts the bot against the sandbox."""

    sandbox: SandboxServer
    settings: Settings
    clock: FakeClock
    application: BotApplication | None = None

    async def start(self) -> None:
        application = build_application(self.settings, token=TOKEN, clock=self.clock)
        await application.initialize()
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        self.application = application

    async def stop(self) -> None:
        application, self.application = self.application, None
        if application is None:
            return
        assert application.updater is not None
        await application.updater.stop()
        await application.stop()
        await application.shutdown()

    async def restart(self) -> None:
        await self.stop()
        await self.start()
