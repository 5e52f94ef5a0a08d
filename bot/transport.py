"""An aiohttp transport for python-telegram-bot (its documented `BaseRequest` extension point).

PTB's default `HTTPXRequest` costs about as much CPU per Bot API call as the rest of an answer
(httpx/httpcore's per-request machinery); aiohttp, already a dependency, does the same work
for a fraction. Everything PTB relies on is kept:

- timeouts: read, write, connect and pool defaults, PTB's per-call overrides (PTB adds the
  long-poll time to getUpdates' read timeout itself), uploads with their own write timeout;
- the connection pool size, and PTB's "pool timeout" error when every connection is busy;
- proxies: an explicit proxy URL, or HTTP(S)_PROXY / NO_PROXY from the environment (as httpx
  does by default);
- multipart uploads of `InputFile`s (bytes or file handles), form-encoded parameters otherwise;
- errors: timeouts become `TimedOut`, transport failures `NetworkError`, and the HTTP status
  and body go back to PTB, which maps 400/403/409/429/… as it always does.

aiohttp has no separate write timeout; the write timeout is enforced as part of a deadline for
the whole exchange (connect + write + read), so a stalled upload still ends in `TimedOut`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)
POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)
# Bot API URLs carry the token; error texts that quote a URL must not carry it further.
_TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
_SUPPORTED_PROXY_SCHEMES = ("http://", "https://")


def _scrub(text: str) -> str:
    return _TOKEN_IN_URL.sub("bot<token>", text)


def _chosen(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """`BaseRequest` on one `aiohttp.ClientSession`, with HTTPXRequest's defaults."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_trust_env",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
        *,
        trust_env: bool = True,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        if proxy is not None and not proxy.startswith(_SUPPORTED_PROXY_SCHEMES):
            raise ValueError("only http:// and https:// proxies are supported")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._pool = asyncio.Semaphore(connection_pool_size)

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-poll time to it for getUpdates)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (inside the running loop, as aiohttp requires)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=self._trust_env,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP exchange; PTB turns (status, body) into a result or its own errors."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        body: aiohttp.FormData | dict[str, str] | None = (
            self._form(fields or {}, files) if files else fields
        )
        read = _chosen(read_timeout, self._read_timeout)
        connect = _chosen(connect_timeout, self._connect_timeout)
        write = _chosen(write_timeout, self._media_write_timeout if files else self._write_timeout)
        waiting = _chosen(pool_timeout, self._pool_timeout)
        phases = (connect, write, read)
        deadline = None if any(part is None for part in phases) else sum(p or 0 for p in phases)
        timeout = aiohttp.ClientTimeout(
            total=deadline, sock_connect=connect, sock_read=read, connect=None
        )
        await self._acquire(waiting)
        try:
            async with session.request(
                method, url, data=body, timeout=timeout, proxy=self._proxy, allow_redirects=False
            ) as response:
                payload = await response.read()
        except TimeoutError as error:  # aiohttp's timeouts subclass TimeoutError
            raise TimedOut(_scrub(f"Timed out: {error}") if str(error) else None) from None
        except aiohttp.ClientError as error:
            raise NetworkError(_scrub(f"aiohttp.{type(error).__name__}: {error}")) from None
        finally:
            self._pool.release()
        # The method name only: the URL holds the token, the body what people wrote.
        log.debug("Bot API %s: HTTP %d", url.rpartition("/")[2], response.status)
        return response.status, payload

    async def _acquire(self, waiting: float | None) -> None:
        """A connection slot, or PTB's pool timeout (the request was not sent)."""
        if waiting is None:
            await self._pool.acquire()
            return
        try:
            async with asyncio.timeout(waiting):
                await self._pool.acquire()
        except TimeoutError:
            raise TimedOut(POOL_TIMEOUT_MESSAGE) from None

    @staticmethod
    def _form(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
        """multipart/form-data: the parameters as fields, then each file part."""
        form = aiohttp.FormData(quote_fields=False)
        for name, value in fields.items():
            form.add_field(name, value)
        for name, (filename, content, mime_type) in files.items():
            form.add_field(name, content, filename=filename, content_type=mime_type)
        return form
