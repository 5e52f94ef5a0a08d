"""/announce in the admin's private chat: text → preview (Telegram's own HTML parser checks
it) → audience → count → confirm → the outbox; a progress message that updates and
/announce cancel. Thin: the admin check, unpacking, the service call, rendering.

Everyone not in ADMIN_IDS gets exactly the unknown-command reply, audited
(handlers.admin.not_admin). The sending itself is the outbox dispatcher's job.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotApplication, BotContext, Deps
from bot.domain.announcements import (
    AUDIENCE_LABELS,
    AnnouncementState,
    Audience,
    Progress,
    progress_text,
    text_problem,
)
from bot.services import announcements as svc
from bot.services.content_admin import Action
from bot.services.kernel import Duplicate
from handlers.admin import not_admin
from handlers.render import esc, send_html

log = logging.getLogger(__name__)

CALLBACK_PATTERN = r"^ann\|"
_CALLBACK = re.compile(r"^ann\|(aud|go|no|stop)\|(\d{1,9})(?:\|([a-z_]{1,16}))?$")
# How often the progress messages are brought up to date (and finished ones closed).
PROGRESS_SECONDS = 2.0
PROGRESS_JOB = "announce-progress"
# Entities that are formatting the admin applied in their Telegram app (not commands etc.).
_FORMATTING = {
    MessageEntity.BOLD,
    MessageEntity.ITALIC,
    MessageEntity.UNDERLINE,
    MessageEntity.STRIKETHROUGH,
    MessageEntity.SPOILER,
    MessageEntity.CODE,
    MessageEntity.PRE,
    MessageEntity.TEXT_LINK,
    MessageEntity.BLOCKQUOTE,
}
NOT_MODIFIED = "message is not modified"

PROMPT = (
    "Send the announcement as your next message. Write HTML (<b>bold</b>, <i>italic</i>, "
    '<a href="https://…">a link</a>) or use Telegram\'s own formatting. You will see it '
    "exactly as people will before anything is sent. /announce cancel stops."
)


def _ids(update: Update) -> tuple[int, int]:
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    return user.id, update.update_id


def _n(value: int) -> str:
    return f"{value:,}"


def announcement_html(message: Message) -> str:
    """What the admin wrote as Telegram HTML: their app's formatting, if they used it, turned
    into tags (PTB's text_html); otherwise the text itself is the HTML."""
    text = message.text or ""
    if any(entity.type in _FORMATTING for entity in message.entities):
        return message.text_html
    return text


# --- /announce ---------------------------------------------------------------------


async def announce_command(update: Update, context: BotContext) -> None:
    if await not_admin(update, context, "announce"):
        return
    user_id, update_id = _ids(update)
    service = context.deps.announcements
    args = context.args or []
    if args and args[0].lower() == "cancel":
        number = args[1].removeprefix("#") if len(args) > 1 else None
        if number is not None and not (number.isascii() and number.isdigit() and len(number) < 10):
            await send_html(update, esc("Usage: /announce cancel [NUMBER]"))
            return
        await _cancel(update, context, int(number) if number else None)
        return
    if args:
        await send_html(update, esc("Usage: /announce, then the text; /announce cancel [NUMBER]."))
        return
    result = await service.begin(user_id, update_id)
    match result:
        case Duplicate():
            return
        case svc.Busy(id=busy):
            await send_html(
                update,
                esc(
                    f"Announcement #{busy} is still being sent. Wait for its final tally, or "
                    f"stop it with /announce cancel {busy}."
                ),
            )
        case svc.AwaitingText(id=draft):
            await send_html(update, f"<b>Announcement #{draft}</b>\n{esc(PROMPT)}")


async def _cancel(update: Update, context: BotContext, number: int | None) -> None:
    user_id, update_id = _ids(update)
    result = await context.deps.announcements.cancel(user_id, update_id, number)
    match result:
        case Duplicate():
            return
        case svc.NotPossible(id=item):
            which = f"#{item} " if item is not None else ""
            await send_html(update, esc(f"No announcement {which}is open: nothing to cancel."))
        case svc.Cancelled(id=item, progress=None):
            await send_html(update, esc(f"Announcement #{item} dropped; nothing was sent."))
        case svc.Cancelled(id=item, withdrawn=withdrawn, progress=progress):
            assert progress is not None
            await send_html(
                update,
                esc(
                    f"Announcement #{item} cancelled: {_n(withdrawn)} not yet sent were withdrawn; "
                    f"{_n(progress.sent)} had been sent. The final tally follows once the "
                    "messages already on their way are done."
                ),
            )


# --- the text ----------------------------------------------------------------------


def audience_keyboard(ready: svc.Ready) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                f"{AUDIENCE_LABELS[audience]} ({_n(count)})",
                callback_data=f"ann|aud|{ready.id}|{audience}",
            )
        ]
        for audience, count in ready.counts.items()
    ]
    rows.append([InlineKeyboardButton("Cancel", callback_data=f"ann|no|{ready.id}")])
    return InlineKeyboardMarkup(rows)


async def announce_text(update: Update, context: BotContext) -> None:
    """The admin's next text message after /announce: checked, previewed, stored."""
    user = update.effective_user
    message = update.effective_message
    if user is None or message is None or message.text is None:
        return
    service = context.deps.announcements
    draft = await service.awaiting_text(user.id)
    if draft is None:
        return  # not writing an announcement: the message goes on to the usual handlers
    user_id, update_id = _ids(update)
    text = announcement_html(message)
    problem = text_problem(text)
    if problem is not None:
        if await service.reject_text(user_id, update_id, draft, "invalid_text"):
            await send_html(update, esc(f"{problem} Send the text again, or /announce cancel."))
        raise ApplicationHandlerStop
    chat = update.effective_chat
    assert chat is not None
    try:
        # The preview is the check: Telegram's own parser reads it exactly as it will for
        # everyone, entities, links and length included.
        await chat.send_message(text, parse_mode=ParseMode.HTML)
    except BadRequest as refused:
        if await service.reject_text(user_id, update_id, draft, "invalid_html"):
            await send_html(
                update,
                esc(
                    f"Telegram could not show that: {refused.message}. Correct it and send it "
                    "again (write &lt; for a plain <), or /announce cancel."
                ),
            )
        raise ApplicationHandlerStop from None
    result = await service.set_text(user_id, update_id, draft, text)
    match result:
        case svc.Ready() as ready:
            await send_html(
                update,
                f"<b>Announcement #{ready.id}</b>: the message above is exactly what people "
                "will get. Who should get it?",
                audience_keyboard(ready),
            )
        case svc.NotPossible():
            await send_html(update, esc("That announcement is no longer open: /announce again."))
    raise ApplicationHandlerStop


# --- buttons -----------------------------------------------------------------------


def stop_keyboard(number: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("Stop sending", callback_data=f"ann|stop|{number}")]]
    )


async def button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    match = _CALLBACK.match(query.data or "")
    action: Action = "cancel" if match and match[1] in {"no", "stop"} else "announce"
    if await not_admin(update, context, action):
        return
    await query.answer()
    if match is None:
        return
    user_id, update_id = _ids(update)
    number = int(match[2])
    deps = context.deps
    service = deps.announcements
    if match[1] in {"no", "stop"}:
        await _cancel(update, context, number)
        return
    if match[1] == "aud":
        try:
            audience = Audience(match[3] or "")
        except ValueError:
            return
        counted = await service.choose_audience(user_id, update_id, number, audience)
        await _counted(update, counted)
        return
    await _confirmed(update, deps, await service.confirm(user_id, update_id, number))


async def _counted(update: Update, result: svc.AudienceResult | Duplicate) -> None:
    match result:
        case Duplicate():
            return
        case svc.NotPossible():
            await send_html(update, esc("That announcement is no longer open: /announce again."))
        case svc.Counted(id=number, audience=audience, recipients=recipients):
            keyboard = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            f"Send to {_n(recipients)}", callback_data=f"ann|go|{number}"
                        )
                    ],
                    [InlineKeyboardButton("Cancel", callback_data=f"ann|no|{number}")],
                ]
            )
            await send_html(
                update,
                esc(
                    f"Announcement #{number} goes to {_n(recipients)} "
                    f"({AUDIENCE_LABELS[audience].lower()}), at most ~30 a second. Send it?"
                ),
                keyboard,
            )


async def _confirmed(update: Update, deps: Deps, result: svc.ConfirmResult | Duplicate) -> None:
    match result:
        case Duplicate():
            return
        case svc.NotPossible(reason="no_recipients"):
            await send_html(update, esc("Nobody is in that audience right now: nothing was sent."))
        case svc.NotPossible(reason="stale", id=busy):
            await send_html(
                update, esc(f"Announcement #{busy} is still being sent; wait for its tally.")
            )
        case svc.NotPossible():
            await send_html(update, esc("That announcement is no longer open: /announce again."))
        case svc.Confirmed(id=number, recipients=recipients):
            if deps.outbox is not None:
                deps.outbox.wake()
            progress = Progress(recipients, 0, 0, 0, 0, recipients)
            sent = await send_html(
                update,
                esc(progress_text(number, progress, AnnouncementState.SENDING)),
                stop_keyboard(number),
            )
            if sent is not None:
                await deps.announcements.attach_progress(number, sent.chat_id, sent.message_id)


# --- progress ----------------------------------------------------------------------


class ProgressEditor:
    """Brings the progress messages up to date; remembers what it showed, so an unchanged
    count costs no Bot API call (another instance may still edit: "not modified" is fine)."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._shown: dict[int, str] = {}

    async def tick(self, application: BotApplication) -> None:
        views = await self._deps.announcements.progress_round()
        for view in views:
            if view.finished_now and self._deps.outbox is not None:
                self._deps.outbox.wake()  # the final tally was just queued
            if view.chat_id is None or view.message_id is None:
                continue
            text = esc(progress_text(view.id, view.progress, view.state))
            if self._shown.get(view.id) == text:
                continue
            keyboard = None if view.progress.finished else stop_keyboard(view.id)
            try:
                await application.bot.edit_message_text(
                    text,
                    chat_id=view.chat_id,
                    message_id=view.message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard,
                )
            except BadRequest as error:
                if NOT_MODIFIED not in error.message.lower():
                    log.warning("announcement %d progress not edited (bad request)", view.id)
            except TelegramError as error:
                name = type(error).__name__
                log.warning("announcement %d progress not edited: %s", view.id, name)
                continue
            self._shown[view.id] = text
            if view.progress.finished:
                self._shown.pop(view.id, None)


def start_progress_job(application: BotApplication, deps: Deps) -> None:
    jobs = application.job_queue
    if jobs is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    editor = ProgressEditor(deps)

    async def tick(_context: BotContext) -> None:
        await editor.tick(application)

    jobs.run_repeating(tick, interval=PROGRESS_SECONDS, first=PROGRESS_SECONDS, name=PROGRESS_JOB)


def register(application: BotApplication) -> None:
    """/announce, the admin's text after it (before the check-in's text handler, which it
    stops), and the announcement buttons."""
    private_chat = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("announce", announce_command, filters=private_chat))
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & private_chat,
            announce_text,
        ),
        group=-1,
    )
    application.add_handler(CallbackQueryHandler(button, pattern=CALLBACK_PATTERN), group=-1)
