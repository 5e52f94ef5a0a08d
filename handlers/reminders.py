"""Reminder handlers: the scheduler job, the reminder's buttons, /pause, /resume, /quiet.

Thin as the others: unpack the update, call ReminderService, render. The reminder buttons use
their own callback prefix ``rem|`` and run in group -1, before the check-in's catch-all button
handler, then stop further handling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import cast

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    ApplicationHandlerStop,
    BaseRateLimiter,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    filters,
)

from bot.config import Settings
from bot.context import BotApplication, BotContext
from bot.delivery import RetryingRateLimiter
from bot.domain.outbox import Button, Keyboard, OutboxKind, OutgoingMessage
from bot.domain.schedule import QuietHours
from bot.services import conversations as svc
from bot.services.outbox import SharedPause
from bot.services.reminders import (
    QuietHoursError,
    Refused,
    Reminder,
    ReminderResult,
    Scheduled,
    parse_quiet_hours,
)
from bot.texts import Texts
from handlers import private, render
from handlers.outbox import markup
from handlers.render import esc

log = logging.getLogger(__name__)

HANDLER_GROUP = -1
CALLBACK_PATTERN = r"^rem\|"
CHECKIN = "checkin"
SNOOZE = "snooze"
SKIP = "skip"
JOB_NAME = "reminders"

_REFUSAL_KEYS = {
    "no_reminder_time": "reminders_no_reminder_time",
    "stale_reminder": "reminders_stale",
    "already_checked_in": "reminders_already_checked_in",
    "pause_not_understood": "reminders_pause_help",
    "pause_in_past": "reminders_pause_past",
    "pause_too_far": "reminders_pause_too_far",
}


# --- callback data ---------------------------------------------------------------------


def callback_data(action: str, day: date | None = None) -> str:
    """ "rem|snooze|2026-11-23": the reminder's date travels with the button."""
    return f"rem|{action}" if day is None else f"rem|{action}|{day.isoformat()}"


def parse_callback(data: str | None) -> tuple[str, date | None] | None:
    """(action, date) from callback data; None for anything this module did not make."""
    if data is None:
        return None
    parts = data.split("|")
    if parts[0] != "rem" or len(parts) not in {2, 3}:
        return None
    action = parts[1]
    if action == CHECKIN and len(parts) == 2:
        return action, None
    if action not in {SNOOZE, SKIP} or len(parts) != 3:
        return None
    try:
        return action, date.fromisoformat(parts[2])
    except ValueError:
        return None


CHECKIN_DATA = callback_data(CHECKIN)


# --- rendering -------------------------------------------------------------------------


def reminder_buttons(texts: Texts, day: date, *, snooze: bool = True) -> Keyboard:
    """Check in now / Snooze 1 hour / Skip today (snooze left out once it was used)."""
    first_row = [Button.callback(texts("reminders_button_checkin"), CHECKIN_DATA)]
    if snooze:
        first_row.append(
            Button.callback(texts("reminders_button_snooze"), callback_data(SNOOZE, day))
        )
    skip = Button.callback(texts("reminders_button_skip"), callback_data(SKIP, day))
    return (tuple(first_row), (skip,))


def reminder_keyboard(texts: Texts, day: date, *, snooze: bool = True) -> InlineKeyboardMarkup:
    """`reminder_buttons` as PTB's keyboard, for editing a reminder already in the chat."""
    keyboard = markup(reminder_buttons(texts, day, snooze=snooze))
    assert keyboard is not None
    return keyboard


def when_label(texts: Texts, moment: datetime, today: date) -> str:
    """ "today at 10:30", "tomorrow at 09:00", "on Tue 24 Nov at 09:00"."""
    clock = moment.strftime("%H:%M")
    day = moment.date()
    if day == today:
        return texts("reminders_when_today", time=clock)
    if (day - today).days == 1:
        return texts("reminders_when_tomorrow", time=clock)
    return texts("reminders_when_later", day=render.day_label(day, today), time=clock)


def next_line(texts: Texts, scheduled: Scheduled) -> str:
    if scheduled.next_local is None:
        return texts("reminders_none_planned")
    return texts("reminders_next", when=when_label(texts, scheduled.next_local, scheduled.today))


def confirmation(texts: Texts, scheduled: Scheduled) -> str:
    """Plain text telling the person what changed and when the next reminder comes."""
    match scheduled.change:
        case "snoozed" if scheduled.next_local is not None:
            when = when_label(texts, scheduled.next_local, scheduled.today)
            return texts("reminders_snoozed", when=when)
        case "skipped":
            return texts("reminders_skipped", next=next_line(texts, scheduled))
        case "paused" if scheduled.resume_on is None:
            return texts("reminders_paused_indefinitely")
        case "paused":
            resume_on = scheduled.resume_on
            day = render.day_label(resume_on, scheduled.today) if resume_on else ""
            return texts("reminders_paused_until", day=day)
        case "resumed":
            return texts("reminders_resumed", next=next_line(texts, scheduled))
        case "quiet_set" if scheduled.quiet is not None:
            return texts(
                "reminders_quiet_set",
                start=scheduled.quiet.start.strftime("%H:%M"),
                end=scheduled.quiet.end.strftime("%H:%M"),
                next=next_line(texts, scheduled),
            )
        case "quiet_off":
            return texts("reminders_quiet_off", next=next_line(texts, scheduled))
        case _:
            return next_line(texts, scheduled)


def reply_text(texts: Texts, result: ReminderResult) -> str | None:
    """The message for a command's result; None for a duplicate update."""
    match result:
        case svc.Duplicate():
            return None
        case svc.NeedsOnboarding():
            return texts("needs_onboarding")
        case Refused(reason=reason):
            return texts(_REFUSAL_KEYS[reason])
        case Scheduled():
            return confirmation(texts, result)
    raise AssertionError(f"unhandled result {result!r}")


# --- the scheduler job -----------------------------------------------------------------


def compose_reminder(texts: Texts, reminder: Reminder) -> OutgoingMessage:
    """The reminder as an outbox message: due at its time, dropped if hours late."""
    key = "reminders_nudge_snoozed" if reminder.snoozed else "reminders_nudge"
    return OutgoingMessage(
        chat_id=reminder.user_id,
        kind=OutboxKind.REMINDER,
        dedupe_key=reminder.dedupe_key,
        text=esc(texts(key)),
        buttons=reminder_buttons(texts, reminder.local_date),
        not_before=reminder.due_at,
        stale_after=None,  # the reminder kind's grace
    )


async def run_scheduler_tick(context: BotContext) -> None:
    """The repeating job: one tick of ReminderService at the deps clock's now."""
    deps = context.deps
    texts = deps.texts

    def compose(reminder: Reminder) -> OutgoingMessage:
        return compose_reminder(texts, reminder)

    stats = await deps.reminders.tick(now=deps.clock(), compose=compose)
    deps.metrics.reminders_due.inc(stats.claimed)
    if stats.queued and deps.outbox is not None:
        deps.outbox.wake()
    if stats.claimed or stats.scheduled:
        log.info(
            "reminder tick: claimed %d, queued %d, stale %d, suppressed %d, newly scheduled %d",
            stats.claimed,
            stats.queued,
            stats.stale,
            stats.suppressed,
            stats.scheduled,
        )


def delivery_rate_limiter(
    pause: SharedPause, on_send_attempt: Callable[[BaseException | None], None] | None = None
) -> BaseRateLimiter[None]:
    """PTB's AIORateLimiter for direct replies: 20/min per group, a 429 waits for its
    retry_after (up to 3 times) and pauses the outbox of every instance too (``pause``), a
    reply waits while such a pause lasts, each attempt is reported to ``on_send_attempt``
    (the metrics), and a 5xx or network failure is retried with
    backoff (`bot.delivery`).

    The ~30 messages/s overall budget belongs to bot-initiated sends (the outbox dispatcher),
    not to replies: a person answering a question never waits behind a reminder batch, and
    replies are paced by people typing anyway.

    Typed as taking no per-call arguments because the bot never passes any; that keeps the
    application's ``ExtBot[None]`` type that every handler is written against.
    """
    return cast(
        "BaseRateLimiter[None]",
        RetryingRateLimiter(
            overall_max_rate=0, max_retries=3, pause=pause, on_send_attempt=on_send_attempt
        ),
    )


def start_scheduler(application: BotApplication, settings: Settings) -> None:
    """Run the tick every SCHEDULER_INTERVAL_SECONDS on PTB's job queue (APScheduler).

    The first tick waits one interval, so a test that never sets a short interval sees none.
    """
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError(
            'reminders need the job queue: pip install "python-telegram-bot[job-queue]"'
        )
    interval = settings.scheduler_interval_seconds
    job_queue.run_repeating(
        run_scheduler_tick,
        interval=interval,
        first=interval,
        name=JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True},
    )


# --- handlers --------------------------------------------------------------------------


def _ids(update: Update) -> tuple[int, int]:
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    return user.id, update.update_id


async def _reply(update: Update, text: str | None) -> None:
    chat = update.effective_chat
    if text is None or chat is None:
        return
    await chat.send_message(esc(text), parse_mode=ParseMode.HTML)


async def pause(update: Update, context: BotContext) -> None:
    """/pause, /pause 3 days, /pause 2026-12-01."""
    user_id, update_id = _ids(update)
    request = " ".join(context.args or [])
    result = await context.deps.reminders.pause(user_id, update_id, request)
    await _reply(update, reply_text(context.deps.texts, result))


async def resume(update: Update, context: BotContext) -> None:
    """/resume: reminders back on."""
    user_id, update_id = _ids(update)
    result = await context.deps.reminders.resume(user_id, update_id)
    await _reply(update, reply_text(context.deps.texts, result))


async def quiet(update: Update, context: BotContext) -> None:
    """/quiet 22:00-07:00, /quiet off, or /quiet alone to see them and how to set them."""
    user_id, update_id = _ids(update)
    deps = context.deps
    texts = deps.texts
    request = " ".join(context.args or [])
    try:
        wanted: QuietHours | None = parse_quiet_hours(request) if request else None
    except QuietHoursError:
        wanted = None
        request = ""
    if not request:
        current = await deps.reminders.quiet_hours(user_id)
        now_line = (
            texts(
                "reminders_quiet_current",
                start=current.start.strftime("%H:%M"),
                end=current.end.strftime("%H:%M"),
            )
            if current
            else texts("reminders_quiet_current_none")
        )
        await _reply(update, texts("reminders_quiet_help", current=now_line))
        return
    result = await deps.reminders.set_quiet_hours(user_id, update_id, wanted)
    await _reply(update, reply_text(texts, result))


async def button(update: Update, context: BotContext) -> None:
    """A reminder button; always stops here so the check-in's button handler does not run."""
    query = update.callback_query
    if query is None:
        raise ApplicationHandlerStop
    deps = context.deps
    texts = deps.texts
    message = query.message if isinstance(query.message, Message) else None
    parsed = parse_callback(query.data if isinstance(query.data, str) else None)
    if parsed is None:
        await _quietly(query.answer(texts("forged_button")))
        raise ApplicationHandlerStop
    action, day = parsed
    if action == CHECKIN or day is None:
        await _quietly(query.answer())
        if message is not None:
            await _quietly(message.edit_reply_markup(None))
        await private.checkin(update, context)
        raise ApplicationHandlerStop
    user_id, update_id = _ids(update)
    if action == SNOOZE:
        result = await deps.reminders.snooze(user_id, update_id, day)
    else:
        result = await deps.reminders.skip_today(user_id, update_id, day)
    match result:
        case svc.Duplicate():
            await _quietly(query.answer())
        case svc.NeedsOnboarding():
            await _quietly(query.answer(texts("needs_onboarding")))
        case Refused(reason=reason):
            await _quietly(query.answer(texts(_REFUSAL_KEYS[reason])))
            if reason == "stale_reminder" and message is not None:
                await _quietly(message.edit_reply_markup(None))
        case Scheduled():
            await _quietly(query.answer())
            if message is not None:
                # After a snooze the person may still check in or skip the rest of the day.
                keyboard = reminder_keyboard(texts, day, snooze=False) if action == SNOOZE else None
                await _close_reminder(message, confirmation(texts, result), keyboard)
    raise ApplicationHandlerStop


async def _close_reminder(
    message: Message, outcome: str, keyboard: InlineKeyboardMarkup | None
) -> None:
    """Leave the reminder in the chat with what was chosen written under it."""
    body = esc(message.text or "")
    await _quietly(
        message.edit_text(
            f"{body}\n\n<b>→ {esc(outcome)}</b>", parse_mode=ParseMode.HTML, reply_markup=keyboard
        )
    )


async def _quietly(action: object) -> None:
    """Answering or editing an old message may fail harmlessly (too old, already edited)."""
    try:
        await action  # type: ignore[misc]
    except BadRequest as error:
        log.debug("ignored reminder edit failure: %s", error.message)


class PrivateChatMemberHandler(ChatMemberHandler[BotContext, None]):
    """my_chat_member of private chats only, so group-membership handlers are not shadowed."""

    def check_update(self, update: object) -> bool:
        return (
            bool(super().check_update(update))
            and isinstance(update, Update)
            and update.effective_chat is not None
            and update.effective_chat.type == ChatType.PRIVATE
        )


async def member_changed(update: Update, context: BotContext) -> None:
    """The person blocked the bot (kicked) or unblocked it (member) in their private chat."""
    change = update.my_chat_member
    if change is None:
        return
    status = change.new_chat_member.status
    if status == ChatMemberStatus.BANNED:
        blocked = True
    elif status == ChatMemberStatus.MEMBER:
        blocked = False
    else:
        return
    await context.deps.reminders.chat_member_changed(
        change.chat.id, update.update_id, blocked=blocked
    )


def register(application: BotApplication) -> None:
    """Commands for private chats; buttons and membership changes in group -1."""
    private_chat = filters.ChatType.PRIVATE
    for name, callback in {"pause": pause, "resume": resume, "quiet": quiet}.items():
        application.add_handler(CommandHandler(name, callback, filters=private_chat))
    application.add_handler(
        CallbackQueryHandler(button, pattern=CALLBACK_PATTERN), group=HANDLER_GROUP
    )
    application.add_handler(
        PrivateChatMemberHandler(member_changed, ChatMemberHandler.MY_CHAT_MEMBER),
        group=HANDLER_GROUP,
    )
