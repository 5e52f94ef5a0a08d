"""The simulated people and the sandbox, in a process of their own.

Telegram is a remote service: a bot never shares its CPU with it. Running the sandbox and the
load generator here, apart from the bot under test, keeps the measurement about the bot and
lets both bots (echo baseline and twitchcheck) meet exactly the same outside world.

    python -m benchmarks.load_process   # prints one JSON line: {"api_url": …, "control_url": …}

Control (HTTP, loopback): POST /drive {"people": [...], "script": [...]} → {"latencies": [...],
"seconds": s}; POST /reset; POST /stop.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from bot.sandbox.models import ApiCall
from bot.sandbox.server import SandboxServer

REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument", "sendPhoto"})


class ReplyWatcher:
    """One task that reads the sandbox's call log once and wakes the person a reply is for.

    With a `wait_for_call` per simulated person, every Bot API call would wake every person
    to rescan the log: load-generator work growing with the square of the people.
    """

    def __init__(self, sandbox: SandboxServer) -> None:
        self._sandbox = sandbox
        self._seen = sandbox.last_seq
        self._waiting: dict[int, tuple[int, asyncio.Future[None]]] = {}

    def _awaited(self, call: ApiCall) -> bool:
        if call.method not in REPLY_METHODS:
            return False
        waiting = self._waiting.get(call.params.get("chat_id"))  # type: ignore[arg-type]
        return waiting is not None and call.seq > waiting[0]

    async def run(self) -> None:
        while True:
            call = await self._sandbox.wait_for_call(
                self._awaited, after_seq=self._seen, timeout=3600
            )
            self._seen = call.seq
            _, reply = self._waiting.pop(call.params["chat_id"])
            reply.set_result(None)

    async def send(self, user_id: int, text: str) -> float:
        """Send one message and wait for the bot's first reply in that chat; latency in s."""
        reply: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[user_id] = (self._sandbox.last_seq, reply)
        started = time.perf_counter()
        self._sandbox.send_text(user_id, text)
        await asyncio.wait_for(reply, timeout=60)
        return time.perf_counter() - started


async def stop_watching(watching: asyncio.Task[None]) -> None:
    """Cancel the watcher and make sure it ends.

    Python 3.11's `asyncio.wait_for` (under the sandbox's `wait_for_call`) returns normally
    when it is cancelled just after the event it waits for fired, swallowing the
    cancellation; a bot still sending makes that likely, and a single `cancel()` then left
    the drive waiting for an hour. So cancel again until the watcher is done.
    """
    while not watching.done():
        watching.cancel()
        await asyncio.wait({watching}, timeout=0.05)


async def drive(
    sandbox: SandboxServer, people: Sequence[int], script: Sequence[str]
) -> tuple[list[float], float]:
    """Every person sends the script, one message after the bot's reply to the previous one."""
    watcher = ReplyWatcher(sandbox)
    watching = asyncio.create_task(watcher.run())

    async def person(user_id: int) -> list[float]:
        return [await watcher.send(user_id, text) for text in script]

    try:
        started = time.perf_counter()
        per_person = await asyncio.gather(*(person(user_id) for user_id in people))
        elapsed = time.perf_counter() - started
    finally:
        await stop_watching(watching)
    return [latency for latencies in per_person for latency in latencies], elapsed


async def serve() -> None:
    """Run the sandbox and the control API until /stop."""
    stopped = asyncio.Event()
    async with SandboxServer() as sandbox:

        async def handle_drive(request: web.Request) -> web.Response:
            body: dict[str, Any] = await request.json()
            latencies, seconds = await drive(sandbox, body["people"], body["script"])
            return web.json_response({"latencies": latencies, "seconds": seconds})

        async def handle_reset(_request: web.Request) -> web.Response:
            sandbox.reset_records()
            return web.json_response({"ok": True})

        async def handle_stop(_request: web.Request) -> web.Response:
            stopped.set()
            return web.json_response({"ok": True})

        control = web.Application()
        control.add_routes(
            [
                web.post("/drive", handle_drive),
                web.post("/reset", handle_reset),
                web.post("/stop", handle_stop),
            ]
        )
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready = {"api_url": sandbox.api_url, "control_url": f"http://127.0.0.1:{port}"}
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        try:
            await stopped.wait()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve())
