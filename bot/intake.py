"""Where updates enter the bot: which types Telegram sends us, and reading each one on its own.

python-telegram-bot reads a whole getUpdates batch at once; one update it cannot parse makes
the batch fail, the offset never advances, and Telegram sends the same batch again and again
(hundreds of calls a second, nobody answered, forever). `IntakeBot.get_updates` reads every
update by itself and skips the ones that fail, logging only their id and top-level type, so
the offset moves past them. It is also the one place where raw updates are seen before the
Application gets them (`fetch_raw_updates` → `read_updates`).
"""

from __future__ import annotations

import datetime as dtm
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import JSONDict, ODVInput, TimePeriod
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import BaseRequest, HTTPXRequest

log = logging.getLogger(__name__)

# The update types the handlers act on: private and group messages (edits so they can be
# told apart from answers), button presses, and the bot being blocked or unblocked. One list
# for polling and for webhook registration; anything else Telegram never sends us.
ALLOWED_UPDATES: tuple[str, ...] = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
)


def update_kinds(raw: object) -> list[str]:
    """The top-level keys of a raw update other than update_id: its type, never its content."""
    if not isinstance(raw, dict):
        return [type(raw).__name__]
    return sorted(str(key) for key in raw if key != "update_id")


def update_id_of(raw: object) -> int | None:
    """The update_id of a raw update, when it has a usable one."""
    if isinstance(raw, dict):
        value = raw.get("update_id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


class IntakeBot(ExtBot[None]):
    """ExtBot whose getUpdates survives updates the library cannot read."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        base_file_url: str,
        rate_limiter: BaseRateLimiter[Any] | None = None,
        request: BaseRequest | None = None,
        get_updates_request: BaseRequest | None = None,
        on_unreadable: Callable[[], None] | None = None,
    ) -> None:
        # The same connection pools ApplicationBuilder would make by default.
        self._polling_request = get_updates_request or HTTPXRequest(connection_pool_size=1)
        super().__init__(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=request or HTTPXRequest(connection_pool_size=256),
            get_updates_request=self._polling_request,
            rate_limiter=rate_limiter,
        )
        # The highest update_id skipped as unreadable: the next poll starts after it even
        # when no readable update came with it (the Updater only advances on what it got).
        self._skipped_up_to: int | None = None
        self._on_unreadable = on_unreadable
        # time.monotonic() of the last Bot API answer of any kind (readiness: "Bot API
        # reached recently"); an error answer counts too, the API was reached.
        self._last_reached: float | None = None
        # Set once another poller took over (409 Conflict): no getUpdates is sent after it,
        # so stopping does not in turn end the other poller's request.
        self._polling_conflict = False

    @property
    def last_reached(self) -> float | None:
        """time.monotonic() of the Bot API's last answer, None before the first."""
        return self._last_reached

    def stop_polling_after_conflict(self) -> None:
        """Another poller has the updates: ask Telegram for none any more."""
        self._polling_conflict = True

    async def _do_post(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await super()._do_post(*args, **kwargs)
        except TelegramError as error:
            # A timeout or broken connection did not reach it; Telegram's own refusals did.
            if not isinstance(error, NetworkError) or isinstance(error, BadRequest):
                self._last_reached = time.monotonic()
            raise
        self._last_reached = time.monotonic()
        return result

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: TimePeriod | None = None,  # noqa: ASYNC109 (the Bot API long-poll time)
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSONDict | None = None,
    ) -> tuple[Update, ...]:
        """Like ExtBot.get_updates, but an unreadable update is skipped instead of failing
        the whole batch; nothing is asked after a polling conflict."""
        if self._polling_conflict:
            return ()
        if self._skipped_up_to is not None and (
            offset is None or 0 <= offset <= self._skipped_up_to
        ):
            offset = self._skipped_up_to + 1
        raw = await self.fetch_raw_updates(
            offset=offset,
            limit=limit,
            timeout=timeout,
            allowed_updates=allowed_updates,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            api_kwargs=api_kwargs,
        )
        updates = self.read_updates(raw)
        for update in updates:
            self.insert_callback_data(update)
        return updates

    async def fetch_raw_updates(
        self,
        *,
        offset: int | None,
        limit: int | None,
        timeout: TimePeriod | None,  # noqa: ASYNC109 (the Bot API long-poll time)
        allowed_updates: Sequence[str] | None,
        read_timeout: ODVInput[float],
        write_timeout: ODVInput[float],
        connect_timeout: ODVInput[float],
        pool_timeout: ODVInput[float],
        api_kwargs: JSONDict | None,
    ) -> list[Any]:
        """The getUpdates call as python-telegram-bot makes it, returning the JSON list."""
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._polling_request.read_timeout or 0
        else:
            read_timeout = read_timeout or 0
        # A long poll may take `timeout` seconds before the server answers.
        if isinstance(timeout, dtm.timedelta):
            read_timeout += timeout.total_seconds()
        elif timeout:
            read_timeout += timeout
        data: JSONDict = {
            "timeout": timeout,
            "offset": offset,
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        result = await self._post(
            "getUpdates",
            data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            api_kwargs=api_kwargs,
        )
        return list(result) if isinstance(result, list) else []

    def read_updates(self, raw_updates: Sequence[Any]) -> tuple[Update, ...]:
        """Each raw update parsed on its own; one that fails is logged by id and type only
        (its content may hold names and health data) and left out."""
        updates: list[Update] = []
        for raw in raw_updates:
            try:
                update = Update.de_json(raw, self)
            except Exception as error:  # whatever the library raises on odd data
                self._skip(raw, error)
                continue
            updates.append(update)
        return tuple(updates)

    def _skip(self, raw: object, error: BaseException) -> None:
        if self._on_unreadable is not None:
            self._on_unreadable()
        update_id = update_id_of(raw)
        log.warning(
            "skipped update %s that could not be read (type %s, %s)",
            update_id,
            ", ".join(update_kinds(raw)) or "none",
            type(error).__name__,
        )
        if update_id is not None:
            previous = self._skipped_up_to
            self._skipped_up_to = update_id if previous is None else max(previous, update_id)
