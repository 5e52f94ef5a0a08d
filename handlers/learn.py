"""/learn: a topic menu, then the topic's snippets one page at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, CommandHandler, filters

from bot.contentpack import ContentPack
from bot.context import BotApplication, BotContext
from bot.domain.snippets import render_snippet
from handlers.render import esc

MENU = "learn|menu"
PAGE_DATA = re.compile(r"^learn\|([a-z0-9_]{1,40})\|(\d{1,3})$")
TOPICS_PER_ROW = 2


@dataclass(frozen=True)
class Page:
    """One snippet of a topic, with where the arrows lead."""

    text: str
    keyboard: InlineKeyboardMarkup


def menu_keyboard(pack: ContentPack) -> InlineKeyboardMarkup:
    """Every topic as a button, in the pack's order."""
    buttons = [
        InlineKeyboardButton(topic.label, callback_data=f"learn|{topic.id}|0")
        for topic in pack.topics
        if pack.snippets_for_topic(topic.id)
    ]
    rows = [buttons[i : i + TOPICS_PER_ROW] for i in range(0, len(buttons), TOPICS_PER_ROW)]
    return InlineKeyboardMarkup(rows)


def topic_page(pack: ContentPack, topic_id: str, page: int) -> Page | None:
    """The page-th snippet of a topic; None for a topic or page that does not exist."""
    if not pack.has_topic(topic_id):
        return None
    snippets = pack.snippets_for_topic(topic_id)
    if not 0 <= page < len(snippets):
        return None
    arrows = []
    if page > 0:
        arrows.append(
            InlineKeyboardButton("‹ Previous", callback_data=f"learn|{topic_id}|{page - 1}")
        )
    if page + 1 < len(snippets):
        arrows.append(InlineKeyboardButton("Next ›", callback_data=f"learn|{topic_id}|{page + 1}"))
    rows = [arrows] if arrows else []
    rows.append([InlineKeyboardButton("All topics", callback_data=MENU)])
    heading = f"<b>{esc(pack.topic(topic_id).label)}</b> · {page + 1}/{len(snippets)}"
    return Page(
        text=f"{heading}\n\n{render_snippet(snippets[page])}", keyboard=InlineKeyboardMarkup(rows)
    )


async def learn(update: Update, context: BotContext) -> None:
    """/learn: the topic menu."""
    chat = update.effective_chat
    if chat is None:
        return
    deps = context.deps
    await chat.send_message(
        esc(deps.texts("learn_menu")),
        parse_mode=ParseMode.HTML,
        reply_markup=menu_keyboard(deps.content.pack),
    )


async def learn_button(update: Update, context: BotContext) -> None:
    """Topic and page buttons edit the same message; unknown data gets a polite answer."""
    query = update.callback_query
    if query is None:
        raise ApplicationHandlerStop
    deps = context.deps
    message = query.message if isinstance(query.message, Message) else None
    data = query.data if isinstance(query.data, str) else ""
    if data == MENU:
        text, keyboard = esc(deps.texts("learn_menu")), menu_keyboard(deps.content.pack)
    else:
        match = PAGE_DATA.match(data)
        page = topic_page(deps.content.pack, match[1], int(match[2])) if match else None
        if page is None:
            await query.answer(deps.texts("forged_button"))
            raise ApplicationHandlerStop
        text, keyboard = page.text, page.keyboard
    await query.answer()
    if message is not None:
        try:
            await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
        except BadRequest:  # an old message that can no longer be edited: send a new one
            await message.chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    raise ApplicationHandlerStop


def register(application: BotApplication) -> None:
    """/learn in private chats; its buttons run before the check-in's catch-all handler."""
    application.add_handler(CommandHandler("learn", learn, filters=filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(learn_button, pattern=r"^learn\|"), group=-1)
