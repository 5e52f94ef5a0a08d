"""The aiohttp transport against the loopback Bot API sandbox: every PTB behaviour it keeps.

Timeouts (defaults, per-call overrides, long polls, the pool), proxies (explicit and from the
environment), multipart uploads, and PTB's error mapping from HTTP status codes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.sandbox.server import SandboxServer
from bot.transport import AiohttpRequest

TOKEN = "123456789:TRANSPORT-token-for-the-sandbox-00000"
CHAT = 5151


def _bot(
    sandbox: SandboxServer, request: AiohttpRequest | None = None, *, poll_read_timeout: float = 5
) -> Bot:
    return Bot(
        TOKEN,
        base_url=sandbox.api_url,
        base_file_url=sandbox.file_url,
        request=request or AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1, read_timeout=poll_read_timeout),
    )


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as server:
        server.send_text(CHAT, "hello")  # the chat exists, so the bot may write to it
        yield server


async def test_calls_go_through_and_parameters_arrive(sandbox: SandboxServer) -> None:
    async with _bot(sandbox) as bot:
        me = await bot.get_me()
        sent = await bot.send_message(CHAT, "ünïcode & <b>ok</b>", parse_mode="HTML")
    assert me.username == sandbox.bot_user["username"]
    assert sent.text == "ünïcode & ok"
    (call,) = sandbox.calls_of("sendMessage")
    assert call.params["chat_id"] == CHAT and call.params["parse_mode"] == "HTML"


async def test_the_default_read_timeout_applies(sandbox: SandboxServer) -> None:
    release = sandbox.hold_next("sendMessage")
    async with _bot(sandbox, AiohttpRequest(read_timeout=0.2)) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "held")
        release.set()


async def test_a_per_call_read_timeout_overrides_the_default(sandbox: SandboxServer) -> None:
    release = sandbox.hold_next("sendMessage")
    async with _bot(sandbox, AiohttpRequest(read_timeout=0.05)) as bot:
        sending = asyncio.create_task(bot.send_message(CHAT, "held", read_timeout=30))
        await sandbox.wait_for_call(lambda call: call.method == "sendMessage")
        await asyncio.sleep(0.2)  # well past the default read timeout: nothing may give up
        assert not sending.done()
        release.set()
        sent = await sending
    assert sent.text == "held"


async def test_a_long_poll_outlasts_the_read_timeout(sandbox: SandboxServer) -> None:
    """PTB adds the long-poll time to getUpdates' read timeout; the transport must honour it."""
    async with _bot(sandbox, poll_read_timeout=0.5) as bot:
        first = await bot.get_updates(timeout=0)
        updates = await bot.get_updates(offset=first[-1].update_id + 1, timeout=2)
    assert updates == ()


async def test_a_full_pool_times_out_without_sending(sandbox: SandboxServer) -> None:
    release = sandbox.hold_next("sendMessage")
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.1)
    async with _bot(sandbox, request) as bot:
        first = asyncio.create_task(bot.send_message(CHAT, "first"))
        await sandbox.wait_for_call(lambda call: call.method == "sendMessage")
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(CHAT, "second")
        assert [call.params["text"] for call in sandbox.calls_of("sendMessage")] == ["first"]
        release.set()
        await first
        await bot.send_message(CHAT, "third")  # the slot came back
    assert [call.params["text"] for call in sandbox.calls_of("sendMessage")] == ["first", "third"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_server_is_a_network_error_without_the_token() -> None:
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{_closed_port()}/bot", request=request)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(CHAT, "nobody listens")
    finally:
        await request.shutdown()
    assert not isinstance(raised.value, TimedOut)
    assert TOKEN.split(":")[1] not in str(raised.value)


@pytest.mark.parametrize(
    ("code", "description", "expected"),
    [
        (400, "Bad Request: message text is empty", BadRequest),
        (403, "Forbidden: bot was blocked by the user", Forbidden),
        (409, "Conflict: terminated by other getUpdates request", Conflict),
        (429, "Too Many Requests: retry after 7", RetryAfter),
        (500, "Internal Server Error", NetworkError),
    ],
)
async def test_http_status_reaches_ptb_error_mapping(
    sandbox: SandboxServer, code: int, description: str, expected: type[Exception]
) -> None:
    retry_after = 7 if code == 429 else None
    sandbox.fail_next(
        "sendMessage", error_code=code, description=description, retry_after=retry_after
    )
    async with _bot(sandbox) as bot:
        with pytest.raises(expected) as raised:
            await bot.send_message(CHAT, "fails")
    if isinstance(raised.value, RetryAfter):
        assert "Retry in 7 seconds" in raised.value.message


async def test_uploads_arrive_as_multipart_files(sandbox: SandboxServer, tmp_path: Path) -> None:
    on_disk = tmp_path / "report.pdf"
    on_disk.write_bytes(b"%PDF-1.4 fake but whole\n" * 200)
    async with _bot(sandbox) as bot:
        await bot.send_document(
            CHAT, InputFile(b'{"a": 1}', filename="export.json"), caption="your data"
        )
        with on_disk.open("rb") as handle:
            await bot.send_document(CHAT, handle, filename="report.pdf")
    first, second = sandbox.calls_of("sendDocument")
    assert first.params["caption"] == "your data"
    assert first.files["document"].filename == "export.json"
    assert first.files["document"].data == b'{"a": 1}'
    assert second.files["document"].filename == "report.pdf"
    assert second.files["document"].data == on_disk.read_bytes()
    assert second.files["document"].content_type == "application/pdf"


class ForwardProxy:
    """A plain HTTP forward proxy on loopback that counts what passes through it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ForwardProxy:
        self._client = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._client is not None
        self.seen.append(request.path.rsplit("/", 1)[-1])
        headers = {k: v for k, v in request.headers.items() if k.lower() != "proxy-connection"}
        async with self._client.request(
            request.method, request.url, headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            return web.Response(
                status=upstream.status, body=body, content_type=upstream.content_type
            )


async def test_an_explicit_proxy_carries_every_call(sandbox: SandboxServer) -> None:
    async with ForwardProxy() as proxy:
        request = AiohttpRequest(proxy=proxy.url, trust_env=False)
        async with _bot(sandbox, request) as bot:
            await bot.send_message(CHAT, "via the proxy")
    assert "sendMessage" in proxy.seen
    assert sandbox.calls_of("sendMessage")[0].params["text"] == "via the proxy"


async def test_the_proxy_from_the_environment_is_used(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ForwardProxy() as proxy:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)  # the sandbox speaks http://
        async with _bot(sandbox) as bot:
            await bot.send_message(CHAT, "via the environment")
    assert "sendMessage" in proxy.seen


def test_socks_proxies_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="proxies are supported"):
        AiohttpRequest(proxy="socks5://127.0.0.1:1080")


async def test_requests_need_initialize_and_shutdown_is_idempotent(
    sandbox: SandboxServer,
) -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{sandbox.api_url}{TOKEN}/getMe", "POST")
    await request.initialize()
    status, _body = await request.do_request(f"{sandbox.api_url}{TOKEN}/getMe", "POST")
    await request.shutdown()
    await request.shutdown()
    assert status == 200


def test_the_bot_uses_this_transport_for_every_call() -> None:
    from bot.app import build_application
    from bot.config import Settings

    settings = Settings(telegram_api_url="http://127.0.0.1:9/bot", _env_file=None)
    application = build_application(settings, token=TOKEN)
    requests = application.bot._request  # (getUpdates, everything else), as PTB keeps them
    assert all(isinstance(request, AiohttpRequest) for request in requests)
