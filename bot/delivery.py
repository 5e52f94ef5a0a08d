"""Sending that survives a passing Bot API failure: bounded retries with backoff.

PTB's AIORateLimiter already waits out a 429 (`retry_after`); here a 429 also becomes the
shared pause of the outbox (`SharedPause`: every instance's dispatcher stops for the
retry_after), and every reply first waits while such a pause lasts. A 5xx answer or a network
failure on a reply used to reach the person as "something went wrong" although their answer
was already committed. Every call through the rate limiter (getUpdates never is) is retried
a few times with growing pauses; a 400 (our request is wrong), 403 (blocked) or 409 is never
retried, and neither is a 429 beyond what the rate limiter does itself.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.services.outbox import SharedPause

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 0.6, 1.5)
"""Pauses before each retry of a failed call: three retries, about 2.3 s in all."""
SEND_PREFIXES = ("send", "edit", "copy", "forward")
"""Bot API methods that deliver or change a message: the ones counted as sends."""

AttemptListener = Callable[[BaseException | None], None]


def is_transient(error: BaseException) -> bool:
    """A 5xx answer, a timeout or a broken connection: worth trying again."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest | RetryAfter)


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter (429s, group pace) plus bounded retries of transient failures."""

    def __init__(
        self,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        pause: SharedPause | None = None,
        on_send_attempt: AttemptListener | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._retry_delays = tuple(retry_delays)
        self._pause = pause
        self._on_send_attempt = on_send_attempt

    def _counted(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
    ) -> Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]]:
        """The callback, telling the listener how each attempt ended (each 429 included,
        although AIORateLimiter waits it out and tries again)."""
        listener = self._on_send_attempt
        if listener is None:
            return callback

        async def attempt(
            *args: Any, **kwargs: Any
        ) -> bool | dict[str, Any] | list[dict[str, Any]]:
            try:
                result = await callback(*args, **kwargs)
            except Exception as error:
                listener(error)
                raise
            listener(None)
            return result

        return attempt

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        pause = self._pause
        if pause is not None:
            await pause.wait()
            callback = _reporting_flood_waits(callback, pause)
        if endpoint.startswith(SEND_PREFIXES):
            callback = self._counted(callback)
        for attempt, delay in enumerate((*self._retry_delays, None)):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except Exception as error:
                if delay is None or not is_transient(error):
                    raise
                # The method name and attempt only: never the text, chat or token.
                log.info("%s failed transiently (attempt %d), retrying", endpoint, attempt + 1)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def _reporting_flood_waits(
    callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
    pause: SharedPause,
) -> Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]]:
    """The call, telling ``pause`` about a 429 before AIORateLimiter waits it out."""

    async def call(*args: Any, **kwargs: Any) -> bool | dict[str, Any] | list[dict[str, Any]]:
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as error:
            pause.impose_soon(retry_after_seconds(error))
            raise

    return call


def retry_after_seconds(error: RetryAfter) -> float:
    """A 429's retry_after in seconds, whether PTB gives it as int (today) or timedelta."""
    with warnings.catch_warnings():
        # PTB warns that the int will become a timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
