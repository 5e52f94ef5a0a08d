"""The terminal chat loop against the sandbox and a tiny real PTB bot, with scripted input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
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
# A 1×1 PNG, as the chart would be (the sandbox checks that photos are images).
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
REMINDER_GO = "reminder_go"


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


async def _photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_photo(TINY_PNG, caption="Your chart")


async def _boxes(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Where?", reply_markup=_box_keyboard(False))


def _box_keyboard(ticked: bool) -> InlineKeyboardMarkup:
    label = "☑ Eyelid" if ticked else "☐ Eyelid"
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data="box:tick")],
            [InlineKeyboardButton("Done", callback_data="box:done")],
        ]
    )


async def _ticked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(_box_keyboard(True))


async def _later(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Acknowledge, then send a message of the bot's own once the test says so."""
    assert update.effective_message is not None and update.effective_chat is not None
    chat_id = update.effective_chat.id
    go: asyncio.Event = context.bot_data[REMINDER_GO]
    await update.effective_message.reply_text("I'll remind you.")

    async def remind() -> None:
        await go.wait()
        await context.bot.send_message(chat_id, "Time for your check-in")

    context.application.create_task(remind())


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("7 h", callback_data="sleep:7")]])
    await update.effective_message.reply_text(
        "Sleep?\nLong text of the question.", reply_markup=keyboard
    )


async def _answered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Like the bot: the question stays, with the answer added below and no buttons."""
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    await query.answer()
    await query.edit_message_text(f"{query.message.text}\n\n→ 7 h")


async def _help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("The bot's own help")


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
        app.bot_data[REMINDER_GO] = asyncio.Event()
        app.add_handler(CommandHandler("start", _start))
        app.add_handler(CommandHandler("file", _file))
        app.add_handler(CommandHandler("photo", _photo))
        app.add_handler(CommandHandler("boxes", _boxes))
        app.add_handler(CommandHandler("later", _later))
        app.add_handler(CommandHandler("water", _water))
        app.add_handler(CommandHandler("help", _help))
        app.add_handler(CommandHandler("answer", _answer))
        app.add_handler(CallbackQueryHandler(_ticked, pattern="^box:tick$"))
        app.add_handler(CallbackQueryHandler(_answered, pattern="^sleep:"))
        app.add_handler(CallbackQueryHandler(_pressed))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        server.bot_data = app.bot_data  # type: ignore[attr-defined]
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


async def _run(
    server: SandboxServer, *lines: str | None, files_dir: Path | None = None, **kwargs: Any
) -> list[str]:
    output: list[str] = []
    await chat_in_terminal(
        server,
        user_id=USER,
        read_line=_script(*lines),
        write=output.append,
        files_dir=files_dir,
        **kwargs,
    )
    return output[1:]  # without the help text


async def test_hash_and_press_press_buttons(sandbox: SandboxServer) -> None:
    output = await _run(sandbox, "/start", "#2", "/start", "/press 3", "/quit", "never read")

    assert output[:6] == [
        "bot: How much did you twitch today?",
        "  [1] None  [2] Mild  [3] Strong",
        "you pressed: Mild",
        "bot (edited): Twitching: mild",
        "bot: Sleep hours last night?\n     Type them.",
        "(notice: Saved)",
    ]
    assert "you pressed: Strong" in output
    assert "bot (edited): Twitching: strong" in output


async def test_a_typed_number_is_always_text_even_with_buttons_shown(
    sandbox: SandboxServer,
) -> None:
    output = await _run(sandbox, "/start", "2", "7", None)

    assert "you pressed: Mild" not in output
    assert output[-2:] == ["bot: You said: 2", "bot: You said: 7"]
    assert not sandbox.calls_of("answerCallbackQuery"), "no button was pressed"


async def test_a_press_needs_a_button_to_press(sandbox: SandboxServer) -> None:
    output = await _run(sandbox, "#1", "/start", "#9", "/quit")

    assert output[0] == "(there is no button to press right now)"
    assert output[-1] == "(no button 9 here: type #1 to #3)"
    assert not sandbox.calls_of("answerCallbackQuery")


async def test_help_shows_how_to_press_and_asks_the_bot_too(sandbox: SandboxServer) -> None:
    output: list[str] = []
    await chat_in_terminal(
        sandbox, user_id=USER, read_line=_script("/help", "/quit"), write=output.append
    )

    intro, *rest = output
    assert "#2" in intro and "/press 2" in intro
    assert rest == [intro, "bot: The bot's own help"]


def _files_in(folder: Path) -> list[Path]:
    """The files in ``folder`` in the order the bot sent them (names start with message ids)."""
    return sorted(folder.iterdir(), key=lambda path: int(path.name.split("-", 1)[0]))


async def test_files_are_saved_and_their_path_printed(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    output = await _run(sandbox, "/file", "/photo", "/quit", files_dir=tmp_path)

    document, photo = output
    saved = _files_in(tmp_path)
    assert [path.read_bytes() for path in saved] == [b"notes", TINY_PNG]
    assert saved[0].name.endswith("notes.txt") and saved[1].suffix == ".png"
    assert document == f"bot: [document saved to {saved[0]}, 5 bytes]\n     Your notes"
    assert photo == f"bot: [photo saved to {saved[1]}, {len(TINY_PNG)} bytes]\n     Your chart"


async def test_reply_keyboards_send_their_label(sandbox: SandboxServer) -> None:
    output = await _run(sandbox, "/water", "#2", "/quit")

    assert output == [
        "bot: How much water?",
        "  [1] 1 l  [2] 2 l",
        "you: 2 l",
        "bot: You said: 2 l",
    ]


async def test_an_edit_that_adds_a_line_prints_only_that_line(sandbox: SandboxServer) -> None:
    output = await _run(sandbox, "/answer", "#1", "/quit")

    assert output == [
        "bot: Sleep?\n     Long text of the question.",
        "  [1] 7 h",
        "you pressed: 7 h",
        "bot (edited): … → 7 h",
    ]


async def test_a_buttons_only_edit_shows_the_new_buttons_not_the_message(
    sandbox: SandboxServer,
) -> None:
    output = await _run(sandbox, "/boxes", "#1", "/quit")

    assert output == [
        "bot: Where?",
        "  [1] ☐ Eyelid  [2] Done",
        "you pressed: ☐ Eyelid",
        "  [1] ☑ Eyelid  [2] Done",
    ]


async def test_a_message_the_bot_sends_on_its_own_appears_without_input(
    sandbox: SandboxServer,
) -> None:
    output: list[str] = []
    printed = asyncio.Event()
    go: asyncio.Event = sandbox.bot_data[REMINDER_GO]  # type: ignore[attr-defined]
    lines = ["/later"]

    def write(line: str) -> None:
        output.append(line)
        if line == "bot: Time for your check-in":
            printed.set()

    async def read_line() -> str | None:
        if lines:
            return lines.pop(0)
        # The person types nothing: the reminder must show up while this read is pending.
        go.set()
        await asyncio.wait_for(printed.wait(), timeout=10)
        return "/quit"

    try:
        await chat_in_terminal(sandbox, user_id=USER, read_line=read_line, write=write)
    finally:
        go.set()  # never leave the bot's task waiting, whatever happened

    assert output[1:] == ["bot: I'll remind you.", "bot: Time for your check-in"]


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
