"""The one place that decides which updates reach the private-chat handlers.

Registered ahead of every other handler group, it stops:

- edited messages: an edit is never a fresh answer or command (PTB hands `edited_message` to
  message and command handlers by default); the person is told so once a day;
- forwarded messages: someone's earlier words, read only for red flags;
- buttons pressed on a message outside the presser's private chat (a group, an inline
  message): a short callback answer and nothing else, so a forged button in a group changes
  and reveals nothing;
- everything sent in groups and channels: private commands get one pointer to the private
  chat, at most one per group per `GROUP_POINTER_INTERVAL`; the rest gets no reply.

Whatever passes is a new message or a button press in the person's own private chat.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from telegram import CallbackQuery, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.concurrency import PerChatUpdateProcessor
from bot.context import BotApplication, BotContext
from bot.services import conversations as svc
from handlers import private
from handlers.render import esc, send_html

GATE_GROUP = -10
FLOOD_GROUP = GATE_GROUP - 1
GROUP_POINTER_INTERVAL = timedelta(hours=1)
PRUNE_AT = 10_000
OUTSIDE_PRIVATE = filters.ChatType.GROUPS | filters.ChatType.CHANNEL


class OncePerDay:
    """Remembers who was told something today; yesterday's names are forgotten wholesale."""

    def __init__(self) -> None:
        self._day: date | None = None
        self._told: set[int] = set()

    def first_today(self, key: int, today: date) -> bool:
        if today != self._day:
            self._day, self._told = today, set()
        if key in self._told:
            return False
        self._told.add(key)
        return True


class Cooldown:
    """At most one event per key per period; holds only keys seen within the last period."""

    def __init__(self, period: timedelta) -> None:
        self._period = period
        self._last: dict[int, datetime] = {}

    def allow(self, key: int, now: datetime) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self._period:
            return False
        if len(self._last) >= PRUNE_AT:
            self._last = {k: t for k, t in self._last.items() if now - t < self._period}
        self._last[key] = now
        return True


def in_own_private_chat(query: CallbackQuery) -> bool:
    """The pressed message is in the presser's private chat with the bot."""
    message = query.message
    return (
        message is not None
        and message.chat.type == ChatType.PRIVATE
        and message.chat.id == query.from_user.id
    )


class ForeignButtonHandler(CallbackQueryHandler[BotContext, None]):
    """Button presses whose message is not in the presser's private chat."""

    def check_update(self, update: object) -> bool:
        return (
            isinstance(update, Update)
            and update.callback_query is not None
            and not in_own_private_chat(update.callback_query)
        )


class Gate:
    """The gate's handlers and the little they remember (in memory: a restart forgets it,
    which at worst repeats one notice)."""

    def __init__(self) -> None:
        self._edit_notices = OncePerDay()
        self._group_pointers = Cooldown(GROUP_POINTER_INTERVAL)

    async def edited(self, update: Update, context: BotContext) -> None:
        """An edit changes nothing; its words are read for red flags; told once a day."""
        chat, user, message = update.effective_chat, update.effective_user, update.edited_message
        if chat is None or chat.type != ChatType.PRIVATE or user is None or message is None:
            raise ApplicationHandlerStop
        deps = context.deps
        result = await deps.conversations.not_an_answer(
            user.id, update.update_id, text=message.text or message.caption, written_by="self"
        )
        if isinstance(result, svc.Duplicate):
            raise ApplicationHandlerStop
        if isinstance(result, svc.Escalated):
            await private.send_escalation(update, context, result.escalation)
        if self._edit_notices.first_today(user.id, deps.clock().date()):
            await send_html(update, esc(deps.texts("edits_ignored")))
        raise ApplicationHandlerStop

    async def forwarded(self, update: Update, context: BotContext) -> None:
        await private.forwarded_message(update, context)
        raise ApplicationHandlerStop

    async def foreign_button(self, update: Update, context: BotContext) -> None:
        """Answer the press (Telegram shows a spinner until then) and do nothing else."""
        query = update.callback_query
        if query is not None:
            await query.answer(context.deps.texts("buttons_private_only"))
        raise ApplicationHandlerStop

    async def group_command(self, update: Update, context: BotContext) -> None:
        """A private command in a group: one pointer to the private chat, rarely."""
        chat = update.effective_chat
        deps = context.deps
        if chat is not None and self._group_pointers.allow(chat.id, deps.clock()):
            await chat.send_message(esc(deps.texts("private_only")), parse_mode=ParseMode.HTML)
        raise ApplicationHandlerStop

    async def stop(self, _update: Update, _context: BotContext) -> None:
        raise ApplicationHandlerStop

    async def flood(self, update: Update, context: BotContext) -> None:
        """A heavy command repeated while the same one is still pending in this chat: one
        calm "still working on it" for the first repeat, nothing for the rest."""
        processor = context.application.update_processor
        if not isinstance(processor, PerChatUpdateProcessor):
            return
        coalesced = processor.coalesced(update)
        if coalesced is None:
            return
        if coalesced == "first":
            await send_html(update, esc(context.deps.texts("still_working")))
        raise ApplicationHandlerStop


def register(application: BotApplication, *, private_commands: Iterable[str]) -> None:
    """The gate's handlers, in a group of their own that runs before all others."""
    gate = Gate()
    handlers = [
        MessageHandler(filters.UpdateType.EDITED, gate.edited),
        ForeignButtonHandler(gate.foreign_button),
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.FORWARDED,
            gate.forwarded,
        ),
        CommandHandler(
            list(private_commands),
            gate.group_command,
            filters=filters.ChatType.GROUPS & filters.UpdateType.MESSAGE,
        ),
        MessageHandler(OUTSIDE_PRIVATE, gate.stop),
    ]
    for handler in handlers:
        application.add_handler(handler, group=GATE_GROUP)
    application.add_handler(TypeHandler(Update, gate.flood), group=FLOOD_GROUP)
