"""The real Application polling the loopback sandbox, with a controllable clock."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from bot.app import build_application, polling
from bot.config import Settings
from bot.context import BotApplication
from bot.sandbox.server import SandboxServer
from tests.support.clock import FakeClock

TOKEN = "123456789:TEST-token-for-the-sandbox-000000000"


@dataclass
class BotRunner:
    """Starts, stops and restarts the bot against the sandbox."""

    sandbox: SandboxServer
    settings: Settings
    clock: FakeClock
    application: BotApplication | None = None
    _running: AbstractAsyncContextManager[None] | None = None

    async def start(self) -> None:
        self.application = build_application(self.settings, token=TOKEN, clock=self.clock)
        self._running = polling(self.application)
        await self._running.__aenter__()

    async def stop(self) -> None:
        running, self._running = self._running, None
        self.application = None
        if running is not None:
            await running.__aexit__(None, None, None)

    async def restart(self) -> None:
        await self.stop()
        await self.start()
