"""Private-chat handlers: unpack the update, call a service, render the result."""

from __future__ import annotations

import logging
from typing import Literal

from telegram import Message, MessageOriginUser, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.domain import conversation as conv
from bot.domain.checkin import CheckinAnswers
from bot.services import conversations as svc
from bot.services.guidance import DoctorSeen, EscalationNotice
from handlers import render
from handlers.render import esc
from handlers.render import send_html as _send

log = logging.getLogger(__name__)


async def without_sender(update: Update, _context: BotContext) -> None:
    """Stop updates that name no person (a message without ``from``, a channel-style post):
    every handler works on someone's own data, so there is nobody to answer or store for."""
    if update.effective_user is None:
        log.debug("update %s has no sender: ignored", update.update_id)
        raise ApplicationHandlerStop


def _ids(update: Update) -> tuple[int, int]:
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    return user.id, update.update_id


def _question_in(result: svc.Result | None) -> svc.Ask | None:
    """The question a result ends with (after any escalation), if it asks one."""
    while isinstance(result, svc.Escalated):
        result = result.then
    return result if isinstance(result, svc.Ask) else None


async def _reply(update: Update, context: BotContext, result: svc.Result) -> None:
    """Show a committed result. If its question cannot be delivered (even after the
    retries), remember what the person last saw, so their next message is not taken for a
    question they never got."""
    try:
        await _show(update, context, result)
    except Exception:
        ask = _question_in(result)
        user = update.effective_user
        if ask is not None and user is not None:
            await context.deps.conversations.question_undelivered(user.id, ask)
        raise


async def _show(update: Update, context: BotContext, result: svc.Result) -> None:
    """Send whatever a result means for a person who typed or used a command."""
    deps = context.deps
    texts = deps.texts
    match result:
        case svc.Duplicate():
            return
        case svc.NeedsOnboarding():
            await _send(update, esc(texts("needs_onboarding")))
        case svc.Ask():
            await _send_question(update, context, result)
        case svc.Escalated(escalation=notice, then=then):
            await send_escalation(update, context, notice)
            if then is not None:
                await _show(update, context, then)
        case svc.CheckAsked(check=check, token=token, then=then):
            text, keyboard = render.check_question(texts, check, token)
            await _send(update, text, keyboard)
            if then is not None:
                await _show(update, context, then)
        case svc.Told(key=told, then=then):
            await _send(update, esc(texts(told)))
            if then is not None:
                await _show(update, context, then)
        case svc.CheckinSaved(local_date=day, answers=answers, updated=updated, snippets=snippets):
            key = "checkin_updated" if updated else "checkin_saved"
            summary = render.checkin_summary(answers)
            await _send(update, esc(texts(key, day=render.day_label(day), summary=summary)))
            for text in render.snippet_messages(snippets):
                await _send(update, text)
        case svc.Answered(snippets=snippets):
            for text in render.snippet_messages(snippets):
                await _send(update, text)
            await _send(update, esc(texts("answer_more")))
        case svc.SettingsSaved():
            await _send_settings_saved(update, context, result)
        case svc.Welcome(timezone=timezone, reminder=reminder):
            label = render.reminder_label(texts, reminder)
            await _send(update, esc(texts("welcome_back", timezone=timezone, reminder=label)))
        case svc.Simple(key=key):
            await _send(update, esc(texts(key)))
        case DoctorSeen(reasons=reasons, until=until):
            listed = "\n".join(f"• {reason}" for reason in reasons)
            label = render.day_label(until)
            await _send(update, esc(texts("doctor_seen_noted", until=label, reasons=listed)))


async def send_escalation(update: Update, context: BotContext, notice: EscalationNotice) -> None:
    """The escalation message, with "I've seen a doctor about this" when it offers it."""
    keyboard = render.escalation_keyboard(context.deps.texts, notice.doctor_token)
    await _send(update, notice.text, keyboard)
    context.deps.metrics.count_escalation(notice.tier.name.lower())


async def _send_question(update: Update, context: BotContext, ask: svc.Ask) -> None:
    deps = context.deps
    texts = deps.texts
    lines: list[str] = []
    if ask.redelivered:
        lines.append(esc(texts("redelivered")))
    elif ask.resumed:
        lines.append(esc(texts("resumed")))
    if ask.invalid_reason:
        questions = deps.content_for(ask.draft).questions
        lines.append(render.retry(texts, questions, ask.draft, ask.invalid_reason))
    if ask.notice == "fixed_offset":
        lines.append(esc(texts("fixed_offset_notice")))
    if ask.draft.kind is conv.Kind.ONBOARDING and ask.draft.step == "consent":
        lines.append(esc(texts("welcome")))
    rendered = _render_question(context, ask.draft, summary=ask.summary)
    lines.append(rendered.text)
    await _send(update, "\n\n".join(lines), rendered.keyboard)


def _render_question(
    context: BotContext, draft: conv.Draft, *, summary: CheckinAnswers | None = None
) -> render.Rendered:
    deps = context.deps
    content = deps.content_for(draft)
    catalog = content.catalog
    options = [(option.id, option.label) for option in catalog.screen_options]
    return render.question(
        deps.texts,
        content.questions,
        draft,
        default_timezone=deps.settings.default_timezone,
        screen_options=options,
        summary=summary,
    )


async def _send_settings_saved(
    update: Update, context: BotContext, saved: svc.SettingsSaved
) -> None:
    texts = context.deps.texts
    label = render.reminder_label(texts, saved.reminder)
    key = "onboarding_done" if saved.first_time else "settings_saved"
    lines = [esc(texts(key, timezone=saved.timezone, reminder=label))]
    if saved.notice == "fixed_offset":
        lines.append(esc(texts("fixed_offset_notice")))
    await _send(update, "\n\n".join(lines))


async def start(update: Update, context: BotContext) -> None:
    """/start: privacy notice and consent for newcomers, a welcome for the others."""
    user_id, update_id = _ids(update)
    await _reply(update, context, await context.deps.conversations.start(user_id, update_id))


async def checkin(update: Update, context: BotContext) -> None:
    """/checkin: today's questions."""
    user_id, update_id = _ids(update)
    result = await context.deps.conversations.begin_checkin(user_id, update_id)
    await _reply(update, context, result)


async def settings(update: Update, context: BotContext) -> None:
    """/settings: show what is set, with buttons to change it."""
    user_id, update_id = _ids(update)
    deps = context.deps
    result = await deps.conversations.open_settings(user_id, update_id, None)
    if isinstance(result, svc.Welcome):
        texts = deps.texts
        label = render.reminder_label(texts, result.reminder)
        text = esc(texts("settings_menu", timezone=result.timezone, reminder=label))
        keyboard = render.settings_keyboard(texts)
        await _send(update, text, keyboard)
        return
    await _reply(update, context, result)


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel: drop the open conversation."""
    user_id, update_id = _ids(update)
    await _reply(update, context, await context.deps.conversations.cancel(user_id, update_id))


async def help_command(update: Update, context: BotContext) -> None:
    """/help: what the bot does."""
    await _send(update, esc(context.deps.texts("help")))


async def privacy(update: Update, context: BotContext) -> None:
    """/privacy: what is stored and why."""
    await _send(update, esc(context.deps.texts("privacy")))


async def text_message(update: Update, context: BotContext) -> None:
    """Typed text: the answer to the open question."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    user_id, update_id = _ids(update)
    result = await context.deps.conversations.answer_text(user_id, update_id, message.text)
    await _reply(update, context, result)


async def button(update: Update, context: BotContext) -> None:
    """A button press: record it, update the pressed message, show what comes next."""
    query = update.callback_query
    if query is None:
        return
    user_id, update_id = _ids(update)
    deps = context.deps
    data = query.data if isinstance(query.data, str) else None
    if data in {render.SETTINGS_TIMEZONE, render.SETTINGS_REMINDER}:
        only: Literal["timezone", "reminder"] = (
            "timezone" if data == render.SETTINGS_TIMEZONE else "reminder"
        )
        await query.answer()
        result = await deps.conversations.open_settings(user_id, update_id, only)
        await _reply(update, context, result)
        return
    result = await deps.conversations.answer_press(user_id, update_id, data)
    message = query.message if isinstance(query.message, Message) else None
    match result:
        case svc.Duplicate():
            await _answer_quietly(query.answer())
            return
        case svc.Simple(key=key) if key in {
            "already_answered",
            "stale_button",
            "forged_button",
            "consent_expired",
        }:
            await query.answer(deps.texts(key))
            return
        case svc.Ask(invalid_reason="nothing_selected" | "nothing_selected_screen" as reason):
            await query.answer(deps.texts(reason))
            return
        case svc.Ask(edited_in_place=True, draft=draft):
            await query.answer()
            if message is not None:
                rendered = _render_question(context, draft)
                await _answer_quietly(message.edit_reply_markup(rendered.keyboard))
            return
    await query.answer()
    if message is not None:
        if isinstance(result, DoctorSeen):  # keep the escalation as it was, minus the button
            await _answer_quietly(message.edit_reply_markup(None))
        else:
            await _close_question(message, data)
    await _reply(update, context, result)


async def _close_question(message: Message, data: str | None) -> None:
    """Leave the answered question in the chat with its answer and without buttons."""
    reference = conv.decode_callback(data)
    label = render.pressed_label(message, data)
    if reference is None or label is None:
        await _answer_quietly(message.edit_reply_markup(None))
        return
    body = esc(message.text or "")
    await _answer_quietly(
        message.edit_text(f"{body}\n\n<b>→ {esc(label)}</b>", parse_mode=ParseMode.HTML)
    )


async def _answer_quietly(action: object) -> None:
    """Edits of old messages may fail harmlessly (already edited, too old)."""
    try:
        await action  # type: ignore[misc]
    except BadRequest as error:
        log.debug("ignored edit failure: %s", error.message)


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have: say so, and where the list is."""
    await _send(update, esc(context.deps.texts("unknown_command")))


async def media_message(update: Update, context: BotContext) -> None:
    """A photo, sticker, voice message, file or location: never read as an answer and never
    kept; its caption is still read for red flags. Mid-question, the question comes again."""
    message = update.effective_message
    if message is None:
        return
    user_id, update_id = _ids(update)
    result = await context.deps.conversations.not_an_answer(
        user_id, update_id, text=message.caption, written_by="self"
    )
    await _show_not_an_answer(update, context, result, lead="media_not_read")


async def forwarded_message(update: Update, context: BotContext) -> None:
    """A forward is someone's earlier words, not an answer or a command; red flags in it are
    escalated — for the person who wrote it, unless that is the sender themselves."""
    message = update.effective_message
    if message is None:
        return
    user_id, update_id = _ids(update)
    origin = message.forward_origin
    own = isinstance(origin, MessageOriginUser) and origin.sender_user.id == user_id
    result = await context.deps.conversations.not_an_answer(
        user_id,
        update_id,
        text=message.text or message.caption,
        written_by="self" if own else "someone_else",
    )
    await _show_not_an_answer(update, context, result, lead="forwarded_not_answer")


async def _show_not_an_answer(
    update: Update, context: BotContext, result: svc.Result, *, lead: str, escalated: bool = False
) -> None:
    """Escalation first; then the open question again, or (without one) a pointer to /help
    unless an escalation already said everything."""
    texts = context.deps.texts
    match result:
        case svc.Escalated(escalation=notice, then=then):
            await send_escalation(update, context, notice)
            if then is not None:
                await _show_not_an_answer(update, context, then, lead=lead, escalated=True)
        case svc.NotAnAnswer(draft=None):
            if not escalated:
                await _send(update, esc(texts(f"{lead}_idle")))
        case svc.NotAnAnswer(draft=conv.Draft() as draft):
            rendered = _render_question(context, draft)
            await _send(update, f"{esc(texts(lead))}\n\n{rendered.text}", rendered.keyboard)
