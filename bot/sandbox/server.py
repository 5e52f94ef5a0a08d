"""A loopback Telegram Bot API server for end-to-end tests, benchmarks and `twitchcheck sandbox`.

Modelled on aiogram's ``tests/mocked_bot.py`` (a fake transport that records every call), but
spoken over real HTTP so the unmodified python-telegram-bot ``Application`` and its
``HTTPXRequest`` talk to it exactly as they talk to ``api.telegram.org``. It keeps the state
Telegram keeps (pending updates and their offsets, messages per chat, blocked users, commands,
webhook) and answers with the same shapes and the same errors, so a test that passes here
exercises the real request/response path of the bot.

PTB sends every parameter as a form field: strings as they are, everything else JSON-encoded
(``reply_markup``, ``allowed_updates``, numbers, booleans); with files the body is
``multipart/form-data`` and each upload is a file part named after its parameter or after the
``attach://`` name the parameter points to. JSON bodies and query strings are accepted too.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import dataclasses
import json
import logging
import math
import random
import re
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.models import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    ApiCall,
    FormattedText,
    SentMessage,
    TextFormatError,
    UploadedFile,
    parse_formatted_text,
    utf16_length,
)

_LOGGER = logging.getLogger(__name__)


def _words(text: str) -> frozenset[str]:
    """A set written as one space-separated string, to keep long name lists compact."""
    return frozenset(text.split())


_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_MAX_PHOTO_BYTES = 10 * 1024 * 1024
_MAX_CALLBACK_ANSWER_LENGTH = 200

# Parameters Telegram treats as strings even when they look like JSON numbers.
_STRING_PARAMS = _words(
    "text caption parse_mode callback_query_id inline_message_id url secret_token action "
    "language_code description short_description name file_id custom_title title "
    "business_connection_id message_effect_id emoji query ip_address document photo audio "
    "video animation voice video_note sticker thumbnail start_parameter payload"
)
# Update types Telegram leaves out when allowed_updates is empty.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = _words(
    "typing upload_photo record_video upload_video record_voice upload_voice "
    "upload_document choose_sticker find_location record_video_note upload_video_note"
)
_ADMIN_RIGHTS_ON = _words(
    "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
    "can_change_info can_invite_users"
)
_ADMIN_RIGHTS_OFF = _words(
    "can_be_edited is_anonymous can_promote_members can_post_stories can_edit_stories "
    "can_delete_stories"
)
_RESTRICTED_RIGHTS = _words(
    "can_change_info can_invite_users can_pin_messages can_send_messages can_send_polls "
    "can_send_other_messages can_add_web_page_previews can_manage_topics can_send_audios "
    "can_send_documents can_send_photos can_send_videos can_send_video_notes "
    "can_send_voice_notes can_edit_tag can_react_to_messages"
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_BLOCKED = "Forbidden: bot was blocked by the user"
_MEDIA_KINDS = _words("photo sticker voice document location")
_CAPTIONED_MEDIA_KINDS = _words("photo voice document")


class ApiError(Exception):
    """An error answer, shaped like Telegram's ``{"ok": false, ...}``."""

    def __init__(
        self,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        parameters: dict[str, int] = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


@dataclass
class _Failure:
    error_code: int
    description: str
    retry_after: int | None
    remaining: int
    migrate_to_chat_id: int | None = None


# Methods that post a message into a chat: what Telegram's flood limits count.
_FLOOD_COUNTED = _words("sendMessage sendPhoto sendDocument")


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's limits as the sandbox's flood mode enforces them: about ``per_second``
    messages a second overall and ``per_group_per_minute`` per group, as token buckets (a
    full second's or minute's worth may come at once); beyond them, 429 with retry_after."""

    per_second: float = 30.0
    per_group_per_minute: int = 20


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    updated: float

    def wait_for_token(self, now: float) -> float:
        """0 and one token taken, or the seconds until one would be there (nothing taken)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


@dataclass
class _Flood:
    """Flood mode's state: the buckets, and when each 429 was given (monotonic seconds)."""

    limits: FloodLimits
    overall: _Bucket
    groups: dict[int, _Bucket] = field(default_factory=dict)
    refusals: list[float] = field(default_factory=list)

    def check(self, chat_id: int | None, now: float) -> int | None:
        """None when the message may go, else the retry_after to answer with."""
        waits = [self.overall.wait_for_token(now)]
        if chat_id is not None and chat_id < 0:
            bucket = self.groups.get(chat_id)
            if bucket is None:
                per_minute = float(self.limits.per_group_per_minute)
                bucket = _Bucket(per_minute, per_minute / 60, per_minute, now)
                self.groups[chat_id] = bucket
            waits.append(bucket.wait_for_token(now))
        wait = max(waits)
        if wait <= 0:
            return None
        if waits[0] <= 0:  # the overall token was taken although the group's was not there
            self.overall.tokens += 1
        self.refusals.append(now)
        return max(1, math.ceil(wait))


@dataclass
class _PendingUpdate:
    update: dict[str, Any]
    delivered: bool = False

    @property
    def update_type(self) -> str:
        return next((key for key in self.update if key != "update_id"), "")


@dataclass(frozen=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    upload: UploadedFile
    width: int = 0
    height: int = 0


@dataclass
class _ChatState:
    chat: dict[str, Any]
    next_message_id: int = 1
    messages: dict[int, SentMessage] = field(default_factory=dict)
    files: dict[int, _StoredFile] = field(default_factory=dict)
    user_message_ids: set[int] = field(default_factory=set)
    # Who sent each user message, so only its sender can edit it.
    user_message_senders: dict[int, int] = field(default_factory=dict)

    def allocate_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


class _Signal:
    """Wakes everyone waiting at the moment of ``fire``; usable from sync code."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), max(seconds, 0.0))


def _update_chat(update: Mapping[str, Any]) -> int | None:
    """The chat an update belongs to (a message's chat, a pressed button's message's chat,
    else the sender): what Telegram keeps in order when delivering to a webhook."""
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, Mapping):
            continue
        for holder in (value, value.get("message")):
            chat = holder.get("chat") if isinstance(holder, Mapping) else None
            if isinstance(chat, Mapping) and isinstance(chat.get("id"), int):
                return int(chat["id"])
        sender = value.get("from")
        if isinstance(sender, Mapping) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None


def _decode_form_value(key: str, value: str) -> Any:
    """Undo PTB's encoding: strings stay strings, everything else was JSON-dumped."""
    if key in _STRING_PARAMS:
        return value
    if value in ("true", "false") or value[:1] in "-0123456789[{":
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, int | float | bool | list | dict):
            return parsed
    return value


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG; None when Telegram could not process it."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                index += 1
                continue
            marker = data[index + 1]
            length = struct.unpack(">H", data[index + 2 : index + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return int(width), int(height)
            index += 2 + length
    return None


def _inline_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a reply markup Telegram stores on the message (inline keyboards only)."""
    if markup and "inline_keyboard" in markup:
        return markup
    return None


def _int_param(params: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ApiError(400, f"Bad Request: invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _bool_param(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


Handler = Callable[[dict[str, Any], dict[str, UploadedFile], int], Awaitable[Any]]


class SandboxServer:
    """The emulated Bot API plus the controls tests use to play the user's side."""

    def __init__(
        self,
        *,
        bot_id: int = 7000000001,
        bot_username: str = "twitchcheck_sandbox_bot",
        bot_first_name: str = "twitchcheck",
        first_update_id: int | None = None,
        flood_limits: FloodLimits | None = None,
    ) -> None:
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.calls: list[ApiCall] = []
        self.webhook_retry_delay = 0.5
        self.webhook_deliveries = 0
        self.webhook_failures = 0
        self._next_seq = 0
        self._records_floor = 0
        self._call_times: dict[int, float] = {}
        self._changed = _Signal()
        self._pending: list[_PendingUpdate] = []
        self._next_update_id = (
            first_update_id if first_update_id is not None else random.randint(10**8, 9 * 10**8)
        )
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._closing = False
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, _ChatState] = {}
        self._blocked: set[int] = set()
        self._bot_status_in_private: dict[int, str] = {}
        self._group_members: dict[tuple[int, int], str] = {}
        self._callback_owner: dict[str, int] = {}
        self._answered_callbacks: set[str] = set()
        self._next_callback_id = random.randint(10**15, 9 * 10**15)
        self._failures: dict[str, list[_Failure]] = {}
        self._flood: _Flood | None = None
        if flood_limits is not None:
            self.enable_flood_limits(flood_limits)
        self._holds: dict[str, list[asyncio.Event]] = {}
        self._holding: set[asyncio.Event] = set()
        self._files_by_id: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._files_by_upload: dict[int, _StoredFile] = {}
        self._next_file_number = 1
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._webhook: dict[str, Any] = {"url": ""}
        self._webhook_task: asyncio.Task[None] | None = None
        self._http_session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._method_table().items()
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (0 = a free port) on the running event loop."""
        app = web.Application(client_max_size=_MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file_download)
        app.router.add_post("/sandbox/text", self._control_text)
        app.router.add_post("/sandbox/press", self._control_press)
        app.router.add_post("/sandbox/member", self._control_member)
        app.router.add_get("/sandbox/chats/{chat_id}/messages", self._control_messages)
        app.router.add_get("/sandbox/calls", self._control_calls)
        # access_log=None: request paths contain the bot token, which must never be logged.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._closing = False
        self._host = host
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Release pending long polls and webhook delivery, then close the listener."""
        self._closing = True
        self._changed.fire()
        for release in [*self._holding, *(e for events in self._holds.values() for e in events)]:
            release.set()
        self._holds.clear()
        await self._stop_webhook_delivery()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def _base(self) -> str:
        if self._port is None:
            raise RuntimeError("SandboxServer is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def api_url(self) -> str:
        """PTB ``base_url`` / ``TELEGRAM_API_URL``: the token and method get appended."""
        return f"{self._base}/bot"

    @property
    def file_url(self) -> str:
        """PTB ``base_file_url``."""
        return f"{self._base}/file/bot"

    @property
    def control_url(self) -> str:
        return f"{self._base}/sandbox"

    @property
    def last_seq(self) -> int:
        """Seq of the newest recorded call (-1 before any); a mark for ``after_seq``."""
        return self._next_seq - 1

    # ------------------------------------------------------------------ the user's side

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Sam",
        language_code: str = "en",
        chat_id: int | None = None,
        chat_title: str = "Sandbox group",
        forwarded_from: int | str | None = None,
    ) -> dict[str, Any]:
        """Queue a text message from the user (private chat unless ``chat_id`` names a group).

        ``forwarded_from`` makes it a forward: a user id (``MessageOriginUser``) or, for
        someone who hides their account, a name (``MessageOriginHiddenUser``).
        """
        message = self._user_message(user_id, first_name, language_code, chat_id, chat_title)
        message["text"] = text
        command = _COMMAND_RE.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command.group(0))}
            ]
        if forwarded_from is not None:
            message["forward_origin"] = self._forward_origin(forwarded_from)
        return self._queue_update({"message": message})

    def send_media(
        self,
        user_id: int,
        kind: str,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a photo, sticker, voice message, document or location from the user."""
        if kind not in _MEDIA_KINDS:
            raise ValueError(f"media kind must be one of {sorted(_MEDIA_KINDS)}, not {kind!r}")
        message = self._user_message(user_id, "Sam", "en", chat_id, "Sandbox group")
        if kind == "location":
            message["location"] = {"latitude": 52.52, "longitude": 13.405}
        else:
            number = self._next_file_number
            self._next_file_number += 1
            file_json: dict[str, Any] = {
                "file_id": f"user-{kind}-{number}",
                "file_unique_id": f"u{kind}{number}",
            }
            if kind == "photo":
                message["photo"] = [{**file_json, "width": 640, "height": 480}]
            elif kind == "sticker":
                message["sticker"] = {
                    **file_json,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                }
            elif kind == "voice":
                message["voice"] = {**file_json, "duration": 3, "mime_type": "audio/ogg"}
            else:
                message["document"] = {
                    **file_json,
                    "file_name": "notes.pdf",
                    "mime_type": "application/pdf",
                }
        if caption is not None:
            if kind not in _CAPTIONED_MEDIA_KINDS:
                raise ValueError(f"a {kind} has no caption")
            message["caption"] = caption
        return self._queue_update({"message": message})

    def send_document(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        declared_size: int | None = None,
    ) -> dict[str, Any]:
        """Queue a document the user sends; the bot can getFile and download its bytes.

        ``declared_size`` overrides the ``file_size`` Telegram reports (a client may lie)."""
        message = self._user_message(user_id, "Sam", "en", None, "Sandbox group")
        stored = self._store_file(
            UploadedFile("document", file_name, mime_type, bytes(data)), "documents"
        )
        message["document"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data) if declared_size is None else declared_size,
        }
        if caption is not None:
            message["caption"] = caption
        return self._queue_update({"message": message})

    async def exchange_document(
        self, user_id: int, file_name: str, data: bytes, **settle_kw: Any
    ) -> list[ApiCall]:
        """Send a document and wait until the bot has answered and gone quiet."""
        mark = self.last_seq
        self.send_document(user_id, file_name, data)
        return await self.settle(user_id, after_seq=mark, **settle_kw)

    def edit_text(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Queue ``edited_message``: the user changed the text of one of their own messages."""
        target = user_id if chat_id is None else chat_id
        chat = self._chat(target)
        if chat.user_message_senders.get(message_id) != user_id:
            raise LookupError(f"user {user_id} sent no message {message_id} in chat {target}")
        user = self._users[user_id]
        now = int(time.time())
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": copy.deepcopy(user),
            "chat": copy.deepcopy(chat.chat),
            "date": now - 1,
            "edit_date": now,
            "text": text,
        }
        command = _COMMAND_RE.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command.group(0))}
            ]
        return self._queue_update({"edited_message": message})

    def _user_message(
        self,
        user_id: int,
        first_name: str,
        language_code: str,
        chat_id: int | None,
        chat_title: str,
    ) -> dict[str, Any]:
        """The common fields of a message the user sends, with a fresh message id."""
        user = self._remember_user(user_id, first_name, language_code)
        target = user_id if chat_id is None else chat_id
        chat = self._chat(target)
        if target < 0:
            chat.chat["title"] = chat_title
        message_id = chat.allocate_message_id()
        chat.user_message_ids.add(message_id)
        chat.user_message_senders[message_id] = user_id
        return {
            "message_id": message_id,
            "from": copy.deepcopy(user),
            "chat": copy.deepcopy(chat.chat),
            "date": int(time.time()),
        }

    def _forward_origin(self, author: int | str) -> dict[str, Any]:
        """Telegram's MessageOrigin for a forward of ``author``'s message."""
        date = int(time.time()) - 3600
        if isinstance(author, str):
            return {"type": "hidden_user", "date": date, "sender_user_name": author}
        return {"type": "user", "date": date, "sender_user": self._user_json(author)}

    def press_button(
        self, user_id: int, message_id: int, data: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Queue a callback query for ``message_id`` with any ``data`` (forged data included),
        on a message of the private chat or, with ``chat_id``, of a group."""
        user = self._users.get(user_id) or self._remember_user(user_id, "Sam", "en")
        chat = self._chat(user_id if chat_id is None else chat_id)
        message = chat.messages.get(message_id)
        if message is not None and not message.deleted:
            message_json = self._message_json(message)
        else:  # Telegram's InaccessibleMessage
            message_json = {"chat": copy.deepcopy(chat.chat), "message_id": message_id, "date": 0}
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        self._callback_owner[query_id] = user_id
        callback_query = {
            "id": query_id,
            "from": copy.deepcopy(user),
            "message": message_json,
            "chat_instance": str((int(chat.chat["id"]) * 7919 + int(self.bot_user["id"])) % 10**18),
            "data": data,
        }
        return self._queue_update({"callback_query": callback_query})

    def press(self, user_id: int, button_text: str) -> dict[str, Any]:
        """Press the button labelled ``button_text`` on the newest bot message that has it."""
        chat = self._chat(user_id)
        for message in reversed(list(chat.messages.values())):
            if message.deleted:
                continue
            for row in message.buttons():
                for text, data in row:
                    if text == button_text:
                        return self.press_button(user_id, message.message_id, data)
        raise LookupError(f"no bot message in chat {user_id} has a button {button_text!r}")

    def send_raw_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue ``payload`` as an update exactly as given, with the next update_id: any JSON,
        including what Telegram would never send (e.g. one the bot's library cannot parse)."""
        return self._queue_update(copy.deepcopy(payload))

    def enqueue_update(self, update: dict[str, Any]) -> None:
        """Queue a raw update as given (e.g. the same update_id again)."""
        self._pending.append(_PendingUpdate(copy.deepcopy(update)))
        self._changed.fire()

    def set_member_status(self, user_id: int, status: str) -> dict[str, Any]:
        """Queue my_chat_member for the private chat; "kicked" means the user blocked the bot."""
        user = self._users.get(user_id) or self._remember_user(user_id, "Sam", "en")
        old_status = self._bot_status_in_private.get(user_id, "member")
        self._bot_status_in_private[user_id] = status
        if status == "kicked":
            self._blocked.add(user_id)
        else:
            self._blocked.discard(user_id)
        chat = self._chat(user_id)
        member_update = {
            "chat": copy.deepcopy(chat.chat),
            "from": copy.deepcopy(user),
            "date": int(time.time()),
            "old_chat_member": self._member_json(old_status, self.bot_user),
            "new_chat_member": self._member_json(status, self.bot_user),
        }
        return self._queue_update({"my_chat_member": member_update})

    def block(self, user_id: int) -> None:
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        """Set a group member's status for getChatMember / getChatAdministrators."""
        self._group_members[(chat_id, user_id)] = status

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this error."""
        self._failures.setdefault(method.lower(), []).append(
            _Failure(error_code, description, retry_after, times, migrate_to_chat_id)
        )

    def enable_flood_limits(self, limits: FloodLimits | None = None) -> None:
        """Flood mode: answer 429 with retry_after above Telegram's sending limits."""
        limits = limits or FloodLimits()
        now = time.monotonic()
        overall = _Bucket(limits.per_second, limits.per_second, limits.per_second, now)
        self._flood = _Flood(limits=limits, overall=overall)

    @property
    def flood_refusals(self) -> list[float]:
        """time.monotonic() of every 429 flood mode gave (empty when it is off)."""
        return list(self._flood.refusals) if self._flood is not None else []

    def hold_next(self, method: str) -> asyncio.Event:
        """Keep the answer to the next call of ``method`` until the returned event is set.

        The call is recorded at once; the bot sees no response (a slow or stalled Telegram),
        so its timeouts can be tested without sleeping.
        """
        release = asyncio.Event()
        self._holds.setdefault(method.lower(), []).append(release)
        return release

    # ------------------------------------------------------------------ observing

    def call_time(self, seq: int) -> float | None:
        """time.monotonic() at which call ``seq`` arrived (None once reset or unknown)."""
        return self._call_times.get(seq)

    def calls_for(self, chat_id: int, *, after_seq: int = -1) -> list[ApiCall]:
        """Calls after ``after_seq`` that act in ``chat_id`` (sends, edits, answered presses)."""
        return [call for call in self._calls_after(after_seq) if self._is_for(call, chat_id)]

    def is_for_chat(self, call: ApiCall, chat_id: int) -> bool:
        """Whether ``call`` acts in ``chat_id`` (for watching one chat with wait_for_call)."""
        return self._is_for(call, chat_id)

    def calls_of(self, method: str) -> list[ApiCall]:
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Bot messages in the chat, oldest first, edits applied, deleted ones flagged."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [
            dataclasses.replace(message)
            for message in chat.messages.values()
            if message.updated_seq >= self._records_floor
        ]

    def last_message(self, chat_id: int) -> SentMessage:
        """The newest bot message in the chat that is not deleted."""
        for message in reversed(self.messages(chat_id)):
            if not message.deleted:
                return message
        raise LookupError(f"the bot has no message in chat {chat_id}")

    def new_messages_since(self, chat_id: int, seq: int) -> list[SentMessage]:
        """Messages sent, edited or deleted by calls with a seq above ``seq``."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [
            dataclasses.replace(message)
            for message in chat.messages.values()
            if message.updated_seq > seq
        ]

    def bot_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        return list(self._commands.get(self._command_key(scope, language_code), []))

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot."""
        return [copy.deepcopy(entry.update) for entry in self._pending]

    def reset_records(self) -> None:
        """Forget recorded calls and messages; the update queue and chat state stay."""
        self.calls.clear()
        self._call_times.clear()
        self._records_floor = self._next_seq

    async def wait_for_call(
        self,
        predicate: Callable[[ApiCall], bool],
        *,
        after_seq: int = -1,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the public API the tests use
    ) -> ApiCall:
        """The first call with seq above ``after_seq`` that matches ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed.current()
            for call in self._calls_after(after_seq):
                if predicate(call):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching Bot API call after seq {after_seq}")
            await _wait(event, remaining)

    async def settle(
        self,
        chat_id: int,
        *,
        after_seq: int,
        quiet: float = 0.2,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the public API the tests use
    ) -> list[ApiCall]:
        """Wait until the bot has answered in ``chat_id`` and gone quiet there.

        Done when every queued update has been fetched, at least one call for the chat came
        after ``after_seq``, and no further call for it arrived for ``quiet`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed.current()
            chat_calls = [
                call for call in self._calls_after(after_seq) if self._is_for(call, chat_id)
            ]
            fetched = all(entry.delivered for entry in self._pending)
            now = loop.time()
            wait_for = deadline - now
            if chat_calls and fetched:
                quiet_left = self._call_times.get(chat_calls[-1].seq, now) + quiet - now
                if quiet_left <= 0:
                    return chat_calls
                wait_for = min(wait_for, quiet_left)
            if deadline - now <= 0:
                undelivered = sum(not entry.delivered for entry in self._pending)
                raise TimeoutError(
                    f"chat {chat_id} did not settle within {timeout}s: "
                    f"{len(chat_calls)} call(s) for it after seq {after_seq}, "
                    f"{undelivered} update(s) not yet fetched by the bot"
                )
            await _wait(event, wait_for)

    async def wait_until_confirmed(
        self,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - same style as settle()
    ) -> None:
        """Wait until the bot has confirmed every queued update (offset or webhook 2xx)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending:
            event = self._changed.current()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._pending)} update(s) still unconfirmed")
            await _wait(event, remaining)

    async def exchange_text(
        self, user_id: int, text: str, *, first_name: str = "Sam", **settle_kw: Any
    ) -> list[ApiCall]:
        mark = self.last_seq
        self.send_text(user_id, text, first_name=first_name)
        return await self.settle(user_id, after_seq=mark, **settle_kw)

    async def exchange_press(
        self, user_id: int, button_text: str, **settle_kw: Any
    ) -> list[ApiCall]:
        mark = self.last_seq
        self.press(user_id, button_text)
        return await self.settle(user_id, after_seq=mark, **settle_kw)

    # ------------------------------------------------------------------ internals: state

    def _remember_user(self, user_id: int, first_name: str, language_code: str) -> dict[str, Any]:
        user = self._users.setdefault(user_id, {"id": user_id, "is_bot": False})
        user["first_name"] = first_name
        user["language_code"] = language_code
        if user_id in self._chats:
            self._chats[user_id].chat["first_name"] = first_name
        return user

    def _user_json(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_user["id"]:
            return copy.deepcopy(self.bot_user)
        return copy.deepcopy(
            self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "User"})
        )

    def _chat(self, chat_id: int) -> _ChatState:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                first_name = self._users.get(chat_id, {}).get("first_name", "User")
                chat_json: dict[str, Any] = {
                    "id": chat_id,
                    "type": "private",
                    "first_name": first_name,
                }
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat_json = {"id": chat_id, "type": kind, "title": "Sandbox group"}
            chat = _ChatState(chat_json)
            self._chats[chat_id] = chat
        return chat

    def _queue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._pending.append(_PendingUpdate(update))
        self._changed.fire()
        return copy.deepcopy(update)

    def _calls_after(self, seq: int) -> list[ApiCall]:
        """Recorded calls with a seq above ``seq``; calls are kept in seq order."""
        return self.calls[bisect.bisect_right(self.calls, seq, key=lambda call: call.seq) :]

    def _record(self, method: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> int:
        seq = self._next_seq
        self._next_seq += 1
        self.calls.append(ApiCall(method=method, params=params, files=files, seq=seq))
        self._call_times[seq] = time.monotonic()
        self._changed.fire()
        return seq

    def _is_for(self, call: ApiCall, chat_id: int) -> bool:
        if call.method == "answerCallbackQuery":
            query_id = str(call.params.get("callback_query_id", ""))
            return self._callback_owner.get(query_id) == chat_id
        target = call.params.get("chat_id")
        return target == chat_id or (isinstance(target, str) and target == str(chat_id))

    def _member_json(self, status: str, user: dict[str, Any]) -> dict[str, Any]:
        """A ChatMember object with the fields PTB requires for each status."""
        member: dict[str, Any] = {"status": status, "user": copy.deepcopy(user)}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(dict.fromkeys(_ADMIN_RIGHTS_OFF, False))
            member.update(dict.fromkeys(_ADMIN_RIGHTS_ON, True))
        elif status == "restricted":
            member.update(is_member=True, until_date=0)
            member.update(dict.fromkeys(_RESTRICTED_RIGHTS, False))
        return member

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        chat = self._chat(message.chat_id)
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": copy.deepcopy(self.bot_user),
            "chat": copy.deepcopy(chat.chat),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.kind == "text":
            formatted = self._formatted(message.text or "", message.parse_mode, message.entities)
            data["text"] = formatted.text
            if formatted.entities:
                data["entities"] = formatted.entities
        else:
            stored = chat.files[message.message_id]
            file_json = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.upload.data),
            }
            if message.kind == "photo":
                data["photo"] = [{**file_json, "width": stored.width, "height": stored.height}]
            else:
                data["document"] = {
                    **file_json,
                    "file_name": stored.upload.filename,
                    "mime_type": stored.upload.content_type,
                }
            if message.caption:
                formatted = self._formatted(message.caption, message.parse_mode, message.entities)
                data["caption"] = formatted.text
                if formatted.entities:
                    data["caption_entities"] = formatted.entities
        markup = _inline_markup(message.reply_markup)
        if markup is not None:
            data["reply_markup"] = copy.deepcopy(markup)
        return data

    @staticmethod
    def _formatted(
        source: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
    ) -> FormattedText:
        try:
            return parse_formatted_text(source, parse_mode, entities)
        except TextFormatError as error:
            raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None

    @staticmethod
    def _command_key(scope: dict[str, Any] | None, language_code: str | None) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""

    # ------------------------------------------------------------------ internals: HTTP

    async def _read_request(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        params: dict[str, Any] = {
            key: _decode_form_value(key, value) for key, value in request.query.items()
        }
        files: dict[str, UploadedFile] = {}
        if request.content_type == "application/json":
            body = await request.read()
            if body:
                try:
                    decoded = json.loads(body)
                except ValueError:
                    raise ApiError(400, "Bad Request: can't parse JSON") from None
                if not isinstance(decoded, dict):
                    raise ApiError(400, "Bad Request: JSON object expected")
                params.update(decoded)
            return params, files
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(
                        field_name=key,
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                elif isinstance(value, str):
                    params[key] = _decode_form_value(key, value)
        return params, files

    async def _handle_api(self, request: web.Request) -> web.Response:
        if not _TOKEN_RE.fullmatch(request.match_info["token"]):
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        requested = request.match_info["method"]
        canonical, handler = self._handlers.get(requested.lower(), (requested, None))
        try:
            params, files = await self._read_request(request)
        except ApiError as error:
            return web.json_response(error.payload(), status=error.error_code)
        seq = self._record(canonical, params, files)
        holds = self._holds.get(canonical.lower())
        if holds:
            release = holds.pop(0)
            self._holding.add(release)
            await release.wait()
            self._holding.discard(release)
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            self._raise_scheduled_failure(canonical)
            self._enforce_flood_limits(canonical, params)
            result = await handler(params, files, seq)
        except ApiError as error:
            _LOGGER.debug("sandbox %s -> %s", canonical, error.error_code)
            return web.json_response(error.payload(), status=error.error_code)
        except Exception:
            # Logged here, by method name, so aiohttp never logs the request path (the token).
            _LOGGER.exception("sandbox failed to handle %s", canonical)
            failure = ApiError(500, "Internal Server Error")
            return web.json_response(failure.payload(), status=500)
        return web.json_response({"ok": True, "result": result})

    def _raise_scheduled_failure(self, method: str) -> None:
        queue = self._failures.get(method.lower())
        if not queue:
            return
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        raise ApiError(
            failure.error_code,
            failure.description,
            failure.retry_after,
            failure.migrate_to_chat_id,
        )

    def _enforce_flood_limits(self, method: str, params: Mapping[str, Any]) -> None:
        if self._flood is None or method not in _FLOOD_COUNTED:
            return
        try:
            chat_id = _int_param(params, "chat_id")
        except ApiError:
            chat_id = None  # the method's own checks answer for a bad chat id
        retry_after = self._flood.check(chat_id, time.monotonic())
        if retry_after is not None:
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )

    async def _handle_file_download(self, request: web.Request) -> web.Response:
        if not _TOKEN_RE.fullmatch(request.match_info["token"]):
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        return web.Response(body=stored.upload.data, content_type=stored.upload.content_type)

    # ------------------------------------------------------------------ internals: control API

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="JSON object expected") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="JSON object expected")
        return body

    async def _control_text(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        try:
            update = self.send_text(
                int(body["user_id"]),
                str(body["text"]),
                first_name=str(body.get("first_name", "Sam")),
                language_code=str(body.get("language_code", "en")),
            )
        except (KeyError, ValueError, TypeError) as error:
            raise web.HTTPBadRequest(text=f"user_id and text are required: {error}") from None
        return web.json_response({"ok": True, "update": update})

    async def _control_press(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        try:
            user_id = int(body["user_id"])
            if "button_text" in body:
                update = self.press(user_id, str(body["button_text"]))
            else:
                update = self.press_button(user_id, int(body["message_id"]), str(body["data"]))
        except LookupError as error:
            if isinstance(error, KeyError):
                raise web.HTTPBadRequest(
                    text="user_id with message_id and data (or button_text) are required"
                ) from None
            return web.json_response({"ok": False, "description": str(error)}, status=404)
        except (ValueError, TypeError) as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        return web.json_response({"ok": True, "update": update})

    async def _control_member(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        try:
            update = self.set_member_status(int(body["user_id"]), str(body["status"]))
        except (KeyError, ValueError, TypeError):
            raise web.HTTPBadRequest(text="user_id and status are required") from None
        return web.json_response({"ok": True, "update": update})

    async def _control_messages(self, request: web.Request) -> web.Response:
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError:
            raise web.HTTPBadRequest(text="chat_id must be an integer") from None
        return web.json_response(
            {"ok": True, "messages": [_message_summary(m) for m in self.messages(chat_id)]}
        )

    async def _control_calls(self, request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "-1"))
        except ValueError:
            raise web.HTTPBadRequest(text="after must be an integer") from None
        calls = [
            {
                "seq": call.seq,
                "method": call.method,
                "params": call.params,
                "files": {
                    name: {
                        "filename": upload.filename,
                        "content_type": upload.content_type,
                        "size": len(upload.data),
                    }
                    for name, upload in call.files.items()
                },
            }
            for call in self._calls_after(after)
        ]
        return web.json_response({"ok": True, "calls": calls})

    # ------------------------------------------------------------------ internals: webhook

    async def _stop_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._http_session = self._http_session, None
        if session is not None:
            await session.close()

    async def _deliver_webhook_updates(self) -> None:
        """Push updates to the webhook like Telegram: up to `max_connections` requests at
        once, one chat's updates one at a time and in order, each retried (after
        `webhook_retry_delay`) until the bot answers 2xx."""
        connections = max(1, min(int(self._webhook.get("max_connections") or 40), 100))
        in_flight: set[int | None] = set()
        workers = [asyncio.create_task(self._webhook_worker(in_flight)) for _ in range(connections)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _webhook_worker(self, in_flight: set[int | None]) -> None:
        session = self._http_session
        assert session is not None
        while not self._closing and self._webhook.get("url"):
            event = self._changed.current()
            entry = self._take_for_webhook(in_flight)
            if entry is None:
                await event.wait()
                continue
            chat = _update_chat(entry.update)
            in_flight.add(chat)
            try:
                delivered = await self._post_to_webhook(session, entry)
            finally:
                in_flight.discard(chat)
            if delivered:
                with contextlib.suppress(ValueError):
                    self._pending.remove(entry)
                self.webhook_deliveries += 1
                self._changed.fire()
            else:
                entry.delivered = False
                await asyncio.sleep(self.webhook_retry_delay)
                self._changed.fire()

    async def _post_to_webhook(self, session: aiohttp.ClientSession, entry: _PendingUpdate) -> bool:
        headers = {}
        if self._webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self._webhook["secret_token"])
        error: str | None = None
        try:
            async with session.post(
                str(self._webhook["url"]), json=entry.update, headers=headers
            ) as response:
                if not 200 <= response.status < 300:
                    error = f"Wrong response from the webhook: {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"Connection failed: {type(exc).__name__}"
        if error is None:
            return True
        self.webhook_failures += 1
        self._webhook["last_error_date"] = int(time.time())
        self._webhook["last_error_message"] = error
        return False

    def _take_for_webhook(self, in_flight: set[int | None]) -> _PendingUpdate | None:
        """The oldest undelivered update whose chat has none on the way."""
        self._take_deliverable(0)  # drops types the bot did not allow
        blocked = set(in_flight)
        for entry in self._pending:
            chat = _update_chat(entry.update)
            if entry.delivered or chat in blocked:
                blocked.add(chat)  # keep a chat's order: nothing overtakes its first
                continue
            entry.delivered = True
            return entry
        return None

    def _take_deliverable(self, limit: int) -> list[_PendingUpdate]:
        """Next updates for the bot, in queue order; types it did not allow are dropped."""
        taken: list[_PendingUpdate] = []
        kept: list[_PendingUpdate] = []
        for entry in self._pending:
            allowed = (
                entry.update_type in self._allowed_updates
                if self._allowed_updates
                else entry.update_type not in _OPT_IN_UPDATE_TYPES
            )
            if not allowed:
                continue
            kept.append(entry)
            if len(taken) < limit and (not entry.delivered or not self._webhook.get("url")):
                taken.append(entry)
        self._pending = kept
        for entry in taken:
            entry.delivered = True
        if taken:
            self._changed.fire()
        return taken

    # ------------------------------------------------------------------ Bot API methods

    def _method_table(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._return_true,
            "close": self._return_true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_bot_text("description"),
            "getMyDescription": self._get_bot_text("description"),
            "setMyShortDescription": self._set_bot_text("short_description"),
            "getMyShortDescription": self._get_bot_text("short_description"),
            "setMyName": self._set_bot_text("name"),
            "getMyName": self._get_bot_text("name"),
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "pinChatMessage": self._pin_or_unpin,
            "unpinChatMessage": self._pin_or_unpin,
        }

    async def _return_true(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any], files: Any, seq: int) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> list[dict[str, Any]]:
        if self._webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._changed.fire()  # a long poll still waiting from before now ends with 409
        offset = _int_param(params, "offset")
        limit = min(max(_int_param(params, "limit", 100) or 100, 1), 100)
        timeout = max(float(params.get("timeout", 0) or 0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if offset is not None:
            if offset < 0:
                self._pending = self._pending[offset:]
            else:
                self._pending = [
                    entry
                    for entry in self._pending
                    if not (entry.delivered and int(entry.update.get("update_id", 0)) < offset)
                ]
            self._changed.fire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed.current()
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            taken = self._take_deliverable(limit)
            if taken:
                return [copy.deepcopy(entry.update) for entry in taken]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await _wait(event, remaining)

    async def _set_webhook(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: invalid webhook URL specified")
        await self._stop_webhook_delivery()
        if _bool_param(params, "drop_pending_updates"):
            self._pending.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        self._webhook = {"url": url}
        if url:
            self._webhook["secret_token"] = secret
            self._webhook["max_connections"] = _int_param(params, "max_connections", 40)
            for entry in self._pending:
                entry.delivered = False
            self._http_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10.0))
            self._webhook_task = asyncio.create_task(self._deliver_webhook_updates())
        return True

    async def _delete_webhook(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        await self._stop_webhook_delivery()
        self._webhook = {"url": ""}
        if _bool_param(params, "drop_pending_updates"):
            self._pending.clear()
            self._changed.fire()
        return True

    async def _get_webhook_info(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self._webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        for key in ("max_connections", "last_error_date", "last_error_message"):
            if self._webhook.get(key) is not None:
                info[key] = self._webhook[key]
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    async def _set_my_commands(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 commands")
        stored: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _BOT_COMMAND_NAME_RE.fullmatch(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name, "description": description})
        key = self._command_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = stored
        return True

    async def _get_my_commands(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> list[dict[str, str]]:
        key = self._command_key(params.get("scope"), params.get("language_code"))
        return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        key = self._command_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True

    def _set_bot_text(self, name: str) -> Handler:
        async def handler(params: dict[str, Any], files: Any, seq: int) -> bool:
            key = (name, str(params.get("language_code") or ""))
            value = params.get(name)
            if value:
                self._bot_texts[key] = str(value)
            else:
                self._bot_texts.pop(key, None)
            return True

        return handler

    def _get_bot_text(self, name: str) -> Handler:
        async def handler(params: dict[str, Any], files: Any, seq: int) -> dict[str, str]:
            key = (name, str(params.get("language_code") or ""))
            default = str(self.bot_user["first_name"]) if name == "name" else ""
            return {name: self._bot_texts.get(key, default)}

        return handler

    async def _set_chat_menu_button(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        button = params.get("menu_button") or {"type": "default"}
        self._menu_buttons[_int_param(params, "chat_id")] = button
        return True

    async def _get_chat_menu_button(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> dict[str, Any]:
        chat_id = _int_param(params, "chat_id")
        button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None)
        return button or {"type": "commands"}

    # -- sending

    def _target_chat(self, params: Mapping[str, Any]) -> _ChatState:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(raw, str) and not raw.lstrip("-").isdigit():
            raise ApiError(400, "Bad Request: chat not found")
        chat_id = _int_param(params, "chat_id")
        assert chat_id is not None
        if chat_id == 0:
            raise ApiError(400, "Bad Request: chat not found")
        return self._chat(chat_id)

    def _ensure_reachable(self, chat: _ChatState) -> None:
        if chat.chat["id"] in self._blocked:
            raise ApiError(403, _BLOCKED)

    @staticmethod
    def _checked_markup(raw: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            rows = raw["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array')
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                        raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
                    if "callback_data" in button:
                        size = len(str(button["callback_data"]).encode("utf-8"))
                        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                    elif "url" in button and not str(button["url"]):
                        raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
            return raw
        if inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if any(key in raw for key in ("keyboard", "remove_keyboard", "force_reply")):
            return raw
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    def _checked_text(
        self, params: Mapping[str, Any], name: str, limit: int, *, required: bool
    ) -> FormattedText | None:
        raw = params.get(name)
        if raw is None or raw == "":
            if required:
                raise ApiError(400, "Bad Request: message text is empty")
            return None
        entities_key = "entities" if name == "text" else "caption_entities"
        entities = params.get(entities_key)
        formatted = self._formatted(
            str(raw), params.get("parse_mode"), entities if isinstance(entities, list) else None
        )
        if not formatted.text.strip():
            if required:
                raise ApiError(400, "Bad Request: message text is empty")
            return formatted
        if len(formatted.text) > limit:
            if name == "text":
                raise ApiError(400, "Bad Request: message is too long")
            raise ApiError(400, "Bad Request: message caption is too long")
        return formatted

    def _check_reply_target(self, chat: _ChatState, params: Mapping[str, Any]) -> None:
        reply = params.get("reply_parameters")
        target: Any = None
        allow_missing = _bool_param(params, "allow_sending_without_reply")
        if isinstance(reply, dict):
            target = reply.get("message_id")
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            target = _int_param(params, "reply_to_message_id")
        if target is None or allow_missing:
            return
        if target not in chat.user_message_ids and (
            target not in chat.messages or chat.messages[target].deleted
        ):
            raise ApiError(400, "Bad Request: message to be replied not found")

    def _store_message(self, chat: _ChatState, seq: int, **fields: Any) -> SentMessage:
        message = SentMessage(
            message_id=chat.allocate_message_id(),
            chat_id=int(chat.chat["id"]),
            seq=seq,
            updated_seq=seq,
            date=int(time.time()),
            **fields,
        )
        chat.messages[message.message_id] = message
        return message

    async def _send_message(self, params: dict[str, Any], files: Any, seq: int) -> dict[str, Any]:
        chat = self._target_chat(params)
        self._ensure_reachable(chat)
        self._checked_text(params, "text", MAX_TEXT_LENGTH, required=True)
        markup = self._checked_markup(params.get("reply_markup"))
        self._check_reply_target(chat, params)
        entities = params.get("entities")
        message = self._store_message(
            chat,
            seq,
            text=str(params["text"]),
            reply_markup=markup,
            kind="text",
            document=None,
            caption=None,
            parse_mode=params.get("parse_mode"),
            entities=entities if isinstance(entities, list) else None,
        )
        return self._message_json(message)

    def _resolve_upload(
        self, params: Mapping[str, Any], files: Mapping[str, UploadedFile], name: str
    ) -> UploadedFile:
        value = params.get(name)
        upload: UploadedFile | None
        if value is None:
            upload = files.get(name)
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        elif isinstance(value, str) and value in self._files_by_id:
            upload = self._files_by_id[value].upload
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            filename = value.rstrip("/").rsplit("/", 1)[-1] or "file"
            upload = UploadedFile(name, filename, "application/octet-stream", b"")
            return upload  # Telegram would download it; the sandbox records the reference only
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if upload is None:
            raise ApiError(400, f"Bad Request: there is no {name} in the request")
        if not upload.data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if len(upload.data) > _MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        return upload

    def _store_file(
        self, upload: UploadedFile, folder: str, width: int = 0, height: int = 0
    ) -> _StoredFile:
        known = self._files_by_upload.get(id(upload))
        if known is not None and known.upload is upload:
            return known
        number = self._next_file_number
        self._next_file_number += 1
        suffix = upload.filename.rsplit(".", 1)[-1] if "." in upload.filename else "bin"
        stored = _StoredFile(
            file_id=f"BQACAgIAAx{number:08d}{random.getrandbits(32):08x}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"{folder}/file_{number}.{suffix}",
            upload=upload,
            width=width,
            height=height,
        )
        self._files_by_id[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        self._files_by_upload[id(upload)] = stored
        return stored

    async def _send_file(
        self, params: dict[str, Any], files: dict[str, UploadedFile], seq: int, kind: str
    ) -> dict[str, Any]:
        chat = self._target_chat(params)
        self._ensure_reachable(chat)
        upload = self._resolve_upload(params, files, kind)
        width = height = 0
        if kind == "photo" and upload.data:  # an empty upload is a URL reference
            if len(upload.data) > _MAX_PHOTO_BYTES:
                raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
            size = _image_size(upload.data)
            if size is None:
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            width, height = size
        self._checked_text(params, "caption", MAX_CAPTION_LENGTH, required=False)
        markup = self._checked_markup(params.get("reply_markup"))
        self._check_reply_target(chat, params)
        stored = self._store_file(
            upload, "documents" if kind == "document" else "photos", width, height
        )
        entities = params.get("caption_entities")
        message = self._store_message(
            chat,
            seq,
            text=None,
            reply_markup=markup,
            kind=kind,
            document=upload,
            caption=str(params["caption"]) if params.get("caption") else None,
            parse_mode=params.get("parse_mode"),
            entities=entities if isinstance(entities, list) else None,
        )
        chat.files[message.message_id] = stored
        return self._message_json(message)

    async def _send_document(
        self, params: dict[str, Any], files: dict[str, UploadedFile], seq: int
    ) -> dict[str, Any]:
        return await self._send_file(params, files, seq, "document")

    async def _send_photo(
        self, params: dict[str, Any], files: dict[str, UploadedFile], seq: int
    ) -> dict[str, Any]:
        return await self._send_file(params, files, seq, "photo")

    async def _send_chat_action(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        chat = self._target_chat(params)
        self._ensure_reachable(chat)
        if params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    # -- editing and deleting

    def _message_to_edit(self, params: Mapping[str, Any]) -> SentMessage:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._target_chat(params)
        self._ensure_reachable(chat)
        message_id = _int_param(params, "message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        if message_id in chat.user_message_ids:
            raise ApiError(400, "Bad Request: message can't be edited")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _apply_edit(self, message: SentMessage, seq: int) -> None:
        message.edits += 1
        message.updated_seq = seq
        message.edit_date = int(time.time())

    @staticmethod
    def _markup_after_edit(message: SentMessage, new_markup: dict[str, Any] | None) -> Any:
        """Edits replace the inline keyboard (omitted = removed); reply keyboards stay."""
        if new_markup is not None or _inline_markup(message.reply_markup) is not None:
            return new_markup
        return message.reply_markup

    async def _edit_message_text(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> dict[str, Any]:
        message = self._message_to_edit(params)
        if message.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        formatted = self._checked_text(params, "text", MAX_TEXT_LENGTH, required=True)
        markup = self._checked_markup(params.get("reply_markup"), inline_only=True)
        current = self._formatted(message.text or "", message.parse_mode, message.entities)
        if formatted == current and markup == _inline_markup(message.reply_markup):
            raise ApiError(400, _NOT_MODIFIED)
        entities = params.get("entities")
        message.text = str(params["text"])
        message.parse_mode = params.get("parse_mode")
        message.entities = entities if isinstance(entities, list) else None
        message.reply_markup = self._markup_after_edit(message, markup)
        self._apply_edit(message, seq)
        return self._message_json(message)

    async def _edit_message_caption(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> dict[str, Any]:
        message = self._message_to_edit(params)
        if message.kind == "text":
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        formatted = self._checked_text(params, "caption", MAX_CAPTION_LENGTH, required=False)
        markup = self._checked_markup(params.get("reply_markup"), inline_only=True)
        current = (
            self._formatted(message.caption, message.parse_mode, message.entities)
            if message.caption
            else None
        )
        if formatted == current and markup == _inline_markup(message.reply_markup):
            raise ApiError(400, _NOT_MODIFIED)
        entities = params.get("caption_entities")
        message.caption = str(params["caption"]) if params.get("caption") else None
        message.parse_mode = params.get("parse_mode")
        message.entities = entities if isinstance(entities, list) else None
        message.reply_markup = self._markup_after_edit(message, markup)
        self._apply_edit(message, seq)
        return self._message_json(message)

    async def _edit_message_reply_markup(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> dict[str, Any]:
        message = self._message_to_edit(params)
        markup = self._checked_markup(params.get("reply_markup"), inline_only=True)
        if markup == _inline_markup(message.reply_markup):
            raise ApiError(400, _NOT_MODIFIED)
        message.reply_markup = self._markup_after_edit(message, markup)
        self._apply_edit(message, seq)
        return self._message_json(message)

    def _delete_one(self, chat: _ChatState, message_id: int, seq: int) -> bool:
        if message_id in chat.user_message_ids:
            chat.user_message_ids.discard(message_id)
            return True
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            return False
        message.deleted = True
        message.updated_seq = seq
        return True

    async def _delete_message(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        chat = self._target_chat(params)
        message_id = _int_param(params, "message_id")
        if message_id is None or not self._delete_one(chat, message_id, seq):
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _delete_messages(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        chat = self._target_chat(params)
        message_ids = params.get("message_ids")
        if not isinstance(message_ids, list) or not 1 <= len(message_ids) <= 100:
            raise ApiError(400, "Bad Request: message_ids must contain 1-100 identifiers")
        for message_id in message_ids:
            self._delete_one(chat, int(message_id), seq)
        return True

    async def _answer_callback_query(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._callback_owner or query_id in self._answered_callbacks:
            raise ApiError(400, _QUERY_TOO_OLD)
        if len(str(params.get("text") or "")) > _MAX_CALLBACK_ANSWER_LENGTH:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._answered_callbacks.add(query_id)
        return True

    async def _get_file(self, params: dict[str, Any], files: Any, seq: int) -> dict[str, Any]:
        stored = self._files_by_id.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.upload.data),
            "file_path": stored.file_path,
        }

    # -- chats and members

    async def _get_chat(self, params: dict[str, Any], files: Any, seq: int) -> dict[str, Any]:
        chat = self._target_chat(params)
        return {
            **copy.deepcopy(chat.chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _status_in(self, chat: _ChatState, user_id: int) -> str:
        chat_id = int(chat.chat["id"])
        if chat.chat["type"] == "private":
            if user_id == self.bot_user["id"]:
                return self._bot_status_in_private.get(chat_id, "member")
            return "member" if user_id == chat_id else "left"
        return self._group_members.get((chat_id, user_id), "member")

    async def _get_chat_member(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> dict[str, Any]:
        chat = self._target_chat(params)
        user_id = _int_param(params, "user_id")
        if user_id is None:
            raise ApiError(400, "Bad Request: user not found")
        return self._member_json(self._status_in(chat, user_id), self._user_json(user_id))

    async def _get_chat_administrators(
        self, params: dict[str, Any], files: Any, seq: int
    ) -> list[dict[str, Any]]:
        chat = self._target_chat(params)
        chat_id = int(chat.chat["id"])
        if chat.chat["type"] == "private":
            return [self._member_json("creator", self._user_json(chat_id))]
        return [
            self._member_json(status, self._user_json(user_id))
            for (group_id, user_id), status in self._group_members.items()
            if group_id == chat_id and status in ("creator", "administrator")
        ]

    async def _get_chat_member_count(self, params: dict[str, Any], files: Any, seq: int) -> int:
        chat = self._target_chat(params)
        chat_id = int(chat.chat["id"])
        if chat.chat["type"] == "private":
            return 2
        members = {
            user_id
            for (group_id, user_id), status in self._group_members.items()
            if group_id == chat_id and status not in ("left", "kicked")
        }
        return len(members | {int(self.bot_user["id"])})

    async def _pin_or_unpin(self, params: dict[str, Any], files: Any, seq: int) -> bool:
        chat = self._target_chat(params)
        self._ensure_reachable(chat)
        return True


def _message_summary(message: SentMessage) -> dict[str, Any]:
    """JSON view of a bot message for the control API (file bytes left out)."""
    summary: dict[str, Any] = {
        "message_id": message.message_id,
        "chat_id": message.chat_id,
        "kind": message.kind,
        "text": message.text,
        "plain_text": message.plain_text,
        "caption": message.caption,
        "reply_markup": message.reply_markup,
        "buttons": [[list(button) for button in row] for row in message.buttons()],
        "edits": message.edits,
        "deleted": message.deleted,
        "seq": message.seq,
        "updated_seq": message.updated_seq,
    }
    if message.document is not None:
        summary["document"] = {
            "filename": message.document.filename,
            "content_type": message.document.content_type,
            "size": len(message.document.data),
        }
    return summary
