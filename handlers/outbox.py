"""The outbox's Bot API side: one claimed message → one send → one `SendOutcome`.

The dispatcher (bot.services.outbox) decides when; this adapter only talks to Telegram and
translates its answers. It uses a plain `telegram.Bot` without PTB's rate limiter: the
dispatcher's shared budget is the rate limit for bot-initiated sends, and a 429 must reach it
(to pause every instance) instead of being waited out here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.delivery import retry_after_seconds
from bot.domain.outbox import (
    Delivered,
    FloodWait,
    Keyboard,
    Migrated,
    Rejected,
    SendOutcome,
    Transient,
    Unreachable,
)
from bot.services.outbox import ClaimedMessage
from bot.transport import POOL_TIMEOUT_MESSAGE

log = logging.getLogger(__name__)

MAX_CAPTION_LENGTH = 1024


@dataclass(frozen=True)
class Photo:
    """A rendered attachment: PNG bytes and the file name people see."""

    data: bytes
    filename: str


# Renders an attachment's data (bot.domain.outbox.Attachment.data) at send time.
Renderer = Callable[[Mapping[str, Any]], Awaitable[Photo]]


def markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    """The plain-data keyboard as PTB's inline keyboard."""
    if keyboard is None:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.label, url=button.value)
                if button.action == "url"
                else InlineKeyboardButton(button.label, callback_data=button.value)
                for button in row
            ]
            for row in keyboard
        ]
    )


def outcome_of(error: TelegramError) -> SendOutcome:
    """Telegram's error as what the dispatcher does next. Only the error's class and
    Telegram's description are kept (never the text or the chat)."""
    if isinstance(error, RetryAfter):
        return FloodWait(retry_after_seconds(error))
    if isinstance(error, ChatMigrated):
        return Migrated(int(error.new_chat_id))
    if isinstance(error, Forbidden):
        return Unreachable(error.message)
    if isinstance(error, BadRequest):
        return Rejected(error.message)
    if isinstance(error, TimedOut):
        # A pool timeout never left this process; any other timeout may have been delivered.
        return Transient("timed out", maybe_delivered=error.message != POOL_TIMEOUT_MESSAGE)
    if isinstance(error, NetworkError):  # 5xx answers and broken connections
        return Transient(f"{type(error).__name__}: {error.message}")
    return Rejected(f"{type(error).__name__}: {error.message}")


class TelegramTransport:
    """`bot.services.outbox.Transport` over a `telegram.Bot`."""

    def __init__(self, bot: Bot, renderers: Mapping[str, Renderer] | None = None) -> None:
        self._bot = bot
        self._renderers = dict(renderers or {})

    async def send(self, message: ClaimedMessage) -> SendOutcome:
        attachment = message.attachment
        if attachment is not None and attachment.type not in self._renderers:
            return Rejected(f"no renderer for attachment {attachment.type!r}")
        try:
            sent = await self._send(message)
        except TelegramError as error:
            outcome = outcome_of(error)
            log.info("outbox %s send: %s", message.kind, type(outcome).__name__)
            return outcome
        return Delivered(sent.message_id)

    async def _send(self, message: ClaimedMessage) -> Message:
        reply_markup = markup(message.buttons)
        common: dict[str, Any] = {"chat_id": message.chat_id, "parse_mode": ParseMode.HTML}
        if message.thread_id is not None:
            common["message_thread_id"] = message.thread_id
        attachment = message.attachment
        if attachment is None:
            return await self._bot.send_message(
                text=message.text, reply_markup=reply_markup, **common
            )
        photo = await self._renderers[attachment.type](attachment.data)
        if len(message.text) <= MAX_CAPTION_LENGTH:
            return await self._bot.send_photo(
                photo=photo.data,
                filename=photo.filename,
                caption=message.text,
                reply_markup=reply_markup,
                **common,
            )
        # Too long for a caption: the text, then the picture. Once the text is out the message
        # counts as delivered (at most once), even if the picture then fails.
        first = await self._bot.send_message(text=message.text, **common)
        try:
            await self._bot.send_photo(
                photo=photo.data, filename=photo.filename, reply_markup=reply_markup, **common
            )
        except TelegramError as error:
            log.warning("outbox %s picture not sent: %s", message.kind, type(error).__name__)
        return first
