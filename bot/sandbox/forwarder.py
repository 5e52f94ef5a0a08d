"""A tiny round-robin load balancer for webhook tests and the benchmark.

Each request goes to the next backend in turn, whatever chat it is for (no stickiness, the
hardest case for ordering); the backend's status and body come back unchanged. A backend
that cannot be reached answers 502, so the sender retries as Telegram would.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from types import TracebackType

import aiohttp
from aiohttp import web

FORWARDED_HEADERS = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class RoundRobinForwarder:
    """Listens on a loopback port and spreads POSTs over `backends` (base URLs)."""

    def __init__(self, backends: Sequence[str]) -> None:
        self.backends = list(backends)
        self.sent_to = dict.fromkeys(self.backends, 0)
        self._next = itertools.cycle(range(len(self.backends)))
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RoundRobinForwarder:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        backend = self.backends[next(self._next)]
        body = await request.read()
        headers = {
            name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers
        }
        try:
            async with self._session.request(
                request.method, backend + request.path_qs, data=body, headers=headers
            ) as response:
                payload = await response.read()
                self.sent_to[backend] += 1
                return web.Response(status=response.status, body=payload)
        except (aiohttp.ClientError, TimeoutError):
            return web.Response(status=502, text="backend not reachable")
