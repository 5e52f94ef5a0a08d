"""The terminal chat loop against the sandbox and a tiny real PTB bot, with scripted input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox import SandboxServer, SentMessage, chat_in_terminal
from bot.sandbox.terminal import render_changes

TOKEN = "123456:" + "B" * 35
USER = 31337


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("None", callback_data="twitch:none"),
                InlineKeyboardButton("Mild", callback_data="twitch:mild"),
            ],
            [InlineKeyboardButton("Strong", callback_data="twitch:strong")],
        ]
    )
    await update.effective_message.reply_text(
        "How much did you <b>twitch</b> today?", parse_mode="HTML", reply_markup=keyboard
    )


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer("Saved")
    await query.edit_message_text(f"Twitching: {query.data.split(':')[1]}")
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, "Sleep hours last night?\nType them.")


async def _file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_document(
        b"notes", filename="notes.txt", caption="Your notes"
    )


async def _water(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = ReplyKeyboardMarkup([["1 l", "2 l"]], one_time_keyboard=True)
    await update.effective_message.reply_text("How much water?", reply_markup=keyboard)


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    if update.effective_message.text != "ignored":
        await update.effective_message.reply_text(f"You said: {update.effective_message.text}")


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as server:
        app = Application.builder().token(TOKEN).base_url(server.api_url).build()
        app.add_handler(CommandHandler("start", _start))
        app.add_handler(CommandHandler("file", _file))
        app.add_handler(CommandHandler("water", _water))
        app.add_handler(CallbackQueryHandler(_pressed))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield server
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()


def _script(*lines: str | None) -> Callable[[], Awaitable[str | None]]:
    remaining = list(lines)

    async def read_line() -> str | None:
        return remaining.pop(0) if remaining else None

    return read_line


async def _run(server: SandboxServer, *lines: str | None, **kwargs: Any) -> list[str]:
    output: list[str] = []
    await chat_in_terminal(
        server, user_id=USER, read_line=_script(*lines), write=output.append, **kwargs
    )
    return output[1:]  # without the help text


async def test_buttons_are_numbered_and_a_number_presses_one(sandbox: SandboxServer) -> None:
    output = await _run(sandbox, "/start", "2", "7", "/quit", "never read")

    assert output == [
        "bot: How much did you twitch today?",
        "  [1] None  [2] Mild  [3] Strong",
        "you pressed: Mild",
        "bot (edited): Twitching: mild",
        "bot: Sleep hours last night?\n     Type them.",
        "(notice: Saved)",
        "bot: You said: 7",
    ]
    assert [m.text for m in sandbox.messages(USER)][-1] == "You said: 7"


async def test_backslash_sends_a_number_as_text_and_end_of_input_ends(
    sandbox: SandboxServer,
) -> None:
    output = await _run(sandbox, "/start", "\\3", None)

    # The newest message has no buttons, so none are offered: older ones are history.
    assert output[-1] == "bot: You said: 3"
    assert "  [1] None  [2] Mild  [3] Strong" in output


async def test_documents_and_reply_keyboards_are_shown(sandbox: SandboxServer) -> None:
    output = await _run(sandbox, "/file", "/water", "2", "/quit")

    assert output == [
        "bot: [document: notes.txt, 5 bytes]\n     Your notes",
        "bot: How much water?",
        "  [1] 1 l  [2] 2 l",
        "you: 2 l",
        "bot: You said: 2 l",
    ]


async def test_silence_is_reported_instead_of_waiting_forever(sandbox: SandboxServer) -> None:
    output = await _run(sandbox, "ignored", "/quit", reply_timeout=0.3)

    assert output == ["(no reply from the bot within 0.3 s)"]


def test_render_changes_marks_edits_and_deletions() -> None:
    def message(message_id: int, seq: int, **changes: Any) -> SentMessage:
        base = SentMessage(
            message_id=message_id,
            chat_id=USER,
            text=f"text {message_id}",
            reply_markup=None,
            kind="text",
            document=None,
            caption=None,
            seq=seq,
            updated_seq=seq,
        )
        for name, value in changes.items():
            setattr(base, name, value)
        return base

    lines = render_changes(
        [
            message(1, 3, updated_seq=12, edits=1),
            message(2, 4, deleted=True, updated_seq=11),
            message(3, 11),
            message(4, 11, deleted=True, updated_seq=12),
        ],
        shown_seq=10,
    )

    assert lines == ["bot (edited): text 1", "bot removed a message", "bot: text 3"]
