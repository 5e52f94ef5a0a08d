"""The sandbox Bot API against the real python-telegram-bot Application and Bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.sandbox import SandboxServer

AnyApp = Application[Any, Any, Any, Any, Any, Any]
TOKEN = "123456:" + "A" * 35
USER = 4242
CSV_BYTES = b"date,twitching\n2024-05-01,mild\n"


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _echo_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Yes", callback_data="yes")],
            [InlineKeyboardButton("No", callback_data="no")],
        ]
    )


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        f"echo: {update.effective_message.text}", reply_markup=_echo_keyboard()
    )


async def _on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    context.bot_data.setdefault("pressed", []).append(query.data)
    await query.answer(f"got {query.data}")
    if query.message is not None and query.message.is_accessible:
        await query.edit_message_text(f"you chose {query.data}")


async def _send_export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_document(
        document=CSV_BYTES, filename="export.csv", caption="Your <b>export</b>", parse_mode="HTML"
    )


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("welcome")


async def _remember_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    context.bot_data.setdefault("seen", []).append(update.update_id)


async def _remember_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.my_chat_member is not None
    context.bot_data.setdefault("member", []).append(update.my_chat_member.new_chat_member.status)
    if "member_seen" in context.bot_data:
        context.bot_data["member_seen"].set()


async def _remember_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    context.bot_data.setdefault("errors", []).append(context.error)


def _build_app(server: SandboxServer) -> AnyApp:
    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(server.api_url)
        .base_file_url(server.file_url)
        .build()
    )
    app.add_handler(TypeHandler(Update, _remember_update), group=-1)
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("doc", _send_export))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    app.add_handler(CallbackQueryHandler(_on_press))
    app.add_handler(ChatMemberHandler(_remember_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(_remember_error)
    return app


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(first_update_id=5000) as server:
        yield server


@pytest.fixture
async def app(sandbox: SandboxServer) -> AsyncIterator[AnyApp]:
    application = _build_app(sandbox)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


@pytest.fixture
async def bot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=sandbox.api_url, base_file_url=sandbox.file_url) as direct:
        yield direct


# ---------------------------------------------------------------- through the Application


async def test_text_round_trip_with_inline_keyboard(sandbox: SandboxServer, app: AnyApp) -> None:
    calls = await sandbox.exchange_text(USER, "hello there")

    assert [call.method for call in calls] == ["sendMessage"]
    assert calls[0].params["chat_id"] == USER
    message = sandbox.last_message(USER)
    assert message.text == "echo: hello there"
    assert message.kind == "text"
    assert message.buttons() == [[("Yes", "yes")], [("No", "no")]]
    assert message.reply_markup is not None and "inline_keyboard" in message.reply_markup
    assert len(sandbox.calls_of("getMe")) == 1


async def test_press_answers_and_edits(sandbox: SandboxServer, app: AnyApp) -> None:
    await sandbox.exchange_text(USER, "question")
    mark = sandbox.last_seq

    calls = await sandbox.exchange_press(USER, "No")

    assert sorted(call.method for call in calls) == ["answerCallbackQuery", "editMessageText"]
    answer = next(call for call in calls if call.method == "answerCallbackQuery")
    assert answer.params["text"] == "got no"
    edited = sandbox.last_message(USER)
    assert edited.text == "you chose no"
    assert edited.edits == 1
    assert edited.buttons() == []  # editing without reply_markup removes the keyboard
    assert [m.message_id for m in sandbox.new_messages_since(USER, mark)] == [edited.message_id]
    with pytest.raises(LookupError):
        sandbox.press(USER, "Yes")


async def test_command_with_bot_username_gets_command_entity(
    sandbox: SandboxServer, app: AnyApp
) -> None:
    update = sandbox.send_text(USER, "/start@twitchcheck_sandbox_bot")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 30}]

    await sandbox.settle(USER, after_seq=-1)

    assert sandbox.last_message(USER).text == "welcome"


async def test_document_is_recorded_with_its_bytes(sandbox: SandboxServer, app: AnyApp) -> None:
    calls = await sandbox.exchange_text(USER, "/doc")

    assert [call.method for call in calls] == ["sendDocument"]
    assert calls[0].files["document"].data == CSV_BYTES
    message = sandbox.last_message(USER)
    assert message.kind == "document"
    assert message.document is not None
    assert (message.document.filename, message.document.data) == ("export.csv", CSV_BYTES)
    assert message.caption == "Your <b>export</b>"
    assert message.plain_text == "Your export"


async def test_offset_confirms_updates_so_nothing_is_redelivered(
    sandbox: SandboxServer, app: AnyApp
) -> None:
    first = sandbox.send_text(USER, "one")
    await sandbox.settle(USER, after_seq=-1)
    second = sandbox.send_text(USER, "two")
    await sandbox.settle(USER, after_seq=sandbox.last_seq)

    await sandbox.wait_for_call(
        lambda call: (
            call.method == "getUpdates" and call.params.get("offset") == second["update_id"] + 1
        )
    )
    assert sandbox.pending_updates() == []
    seen = app.bot_data["seen"]
    assert seen == [first["update_id"], second["update_id"]]
    assert [m.text for m in sandbox.messages(USER)] == ["echo: one", "echo: two"]


async def test_duplicate_delivery_reaches_the_bot_twice(
    sandbox: SandboxServer, app: AnyApp
) -> None:
    update = sandbox.send_text(USER, "again")
    await sandbox.settle(USER, after_seq=-1)
    await sandbox.wait_for_call(
        lambda call: (
            call.method == "getUpdates" and call.params.get("offset") == update["update_id"] + 1
        )
    )

    mark = sandbox.last_seq
    sandbox.enqueue_update(update)
    await sandbox.settle(USER, after_seq=mark)

    assert app.bot_data["seen"] == [update["update_id"], update["update_id"]]
    assert len(sandbox.calls_of("sendMessage")) == 2


async def test_blocked_user_gets_403_and_my_chat_member_reaches_bot(
    sandbox: SandboxServer, app: AnyApp
) -> None:
    await sandbox.exchange_text(USER, "hi")
    sandbox.set_member_status(USER, "kicked")
    await sandbox.wait_for_call(
        lambda call: call.method == "getUpdates" and not sandbox.pending_updates()
    )
    for _ in range(50):
        if app.bot_data.get("member"):
            break
        await asyncio.sleep(0.02)
    assert app.bot_data["member"] == ["kicked"]

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await app.bot.send_message(USER, "are you there?")
    calls = await sandbox.exchange_text(USER, "still here")
    assert [call.method for call in calls] == ["sendMessage"]
    assert any(isinstance(error, Forbidden) for error in app.bot_data["errors"])

    sandbox.set_member_status(USER, "member")
    sent = await app.bot.send_message(USER, "welcome back")
    assert sent.text == "welcome back"


async def test_forged_callback_data_and_unknown_message_are_delivered(
    sandbox: SandboxServer, app: AnyApp
) -> None:
    sandbox.press_button(USER, 987654, "admin:delete_everything")
    calls = await sandbox.settle(USER, after_seq=-1)

    assert app.bot_data["pressed"] == ["admin:delete_everything"]
    assert [call.method for call in calls] == ["answerCallbackQuery"]  # message inaccessible


# ---------------------------------------------------------------- direct Bot calls


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit_surfaces_as_retry_after(sandbox: SandboxServer, bot: Bot) -> None:
    sandbox.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 7",
        retry_after=7,
        times=2,
    )

    for _ in range(2):
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(USER, "hi")
        retry_after = raised.value.retry_after
        seconds = (
            retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after
        )
        assert seconds == 7
    assert (await bot.send_message(USER, "hi")).text == "hi"
    assert len(sandbox.calls_of("sendMessage")) == 3


async def test_text_length_is_counted_after_markup(sandbox: SandboxServer, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER, "   ")

    limit = await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)

    assert limit.text == "x" * 4096
    assert limit.entities[0].type == "bold"
    assert sandbox.last_message(USER).plain_text == "x" * 4096


async def test_html_is_parsed_like_telegram(sandbox: SandboxServer, bot: Bot) -> None:
    sent = await bot.send_message(
        USER,
        "Drink <i>water</i> &amp; <a href='https://example.org'>read</a> 💧",
        parse_mode="HTML",
    )
    assert sent.text == "Drink water & read 💧"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("italic", 6, 5),
        ("text_link", 14, 4),
    ]

    with pytest.raises(BadRequest, match='unsupported start tag "3"'):
        await bot.send_message(USER, "I <3 magnesium", parse_mode="HTML")
    with pytest.raises(BadRequest, match="can't find end tag"):
        await bot.send_message(USER, "<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(USER, "6.5 hours", parse_mode="MarkdownV2")


async def test_not_modified_edit_is_refused(sandbox: SandboxServer, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Done", callback_data="done")]])
    sent = await bot.send_message(USER, "<b>Sleep</b>", parse_mode="HTML", reply_markup=keyboard)

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<b>Sleep</b>", USER, sent.message_id, parse_mode="HTML", reply_markup=keyboard
        )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard)

    edited = await bot.edit_message_text("<b>Sleep</b>", USER, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, Message) and edited.reply_markup is None
    assert sandbox.last_message(USER).edits == 1

    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("gone", USER, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    assert sandbox.messages(USER)[0].deleted


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(USER, "pick", reply_markup=too_long)
    just_fits = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 32)]])
    assert (await bot.send_message(USER, "pick", reply_markup=just_fits)).reply_markup == just_fits


async def test_bad_token_is_unauthorized(sandbox: SandboxServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sandbox.api_url}not-a-token/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with session.post(f"{sandbox.api_url}{TOKEN}/sendTelepathy") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
    with pytest.raises(InvalidToken):
        async with Bot("12345:bad token!", base_url=sandbox.api_url):
            pass
    assert [call.method for call in sandbox.calls] == ["sendTelepathy"]


async def test_photo_document_and_file_download(sandbox: SandboxServer, bot: Bot) -> None:
    photo = await bot.send_photo(USER, _png(3, 2), caption="week", filename="chart.png")
    assert (photo.photo[-1].width, photo.photo[-1].height) == (3, 2)

    document = await bot.send_document(USER, CSV_BYTES, filename="export.csv")
    assert document.document is not None
    assert document.document.file_name == "export.csv"
    telegram_file = await document.document.get_file()
    assert bytes(await telegram_file.download_as_bytearray()) == CSV_BYTES

    again = await bot.send_document(USER, document.document.file_id)
    assert again.document is not None and again.document.file_id == document.document.file_id
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(USER, b"not an image", filename="x.png")
    kinds = [(m.kind, m.document.filename if m.document else None) for m in sandbox.messages(USER)]
    assert kinds == [
        ("photo", "chart.png"),
        ("document", "export.csv"),
        ("document", "export.csv"),
    ]


async def test_commands_are_stored_per_scope_and_language(sandbox: SandboxServer, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("checkin", "Daily check-in")])
    await bot.set_my_commands([BotCommand("checkin", "Täglicher Check-in")], language_code="de")
    await bot.set_my_commands([BotCommand("help", "Help")], scope=BotCommandScopeChat(USER))

    assert [c.command for c in await bot.get_my_commands()] == ["checkin"]
    assert (await bot.get_my_commands(language_code="de"))[0].description == "Täglicher Check-in"
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(USER))] == [
        "help"
    ]
    assert sandbox.bot_commands() == [{"command": "checkin", "description": "Daily check-in"}]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Check-In", "bad")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_chat_and_member_lookups_parse(sandbox: SandboxServer, bot: Bot) -> None:
    sandbox.send_text(USER, "hi", first_name="Ada")
    me = await bot.get_me()
    assert (me.id, me.username) == (7000000001, "twitchcheck_sandbox_bot")

    chat = await bot.get_chat(USER)
    assert (chat.type, chat.first_name) == ("private", "Ada")
    member = await bot.get_chat_member(USER, USER)
    assert member.status == "member" and member.user.first_name == "Ada"
    admins = await bot.get_chat_administrators(USER)
    assert [a.user.id for a in admins] == [USER]

    group = -1001234567890
    sandbox.set_chat_member(group, USER, "administrator")
    sandbox.set_chat_member(group, 77, "member")
    assert (await bot.get_chat_member(group, USER)).status == "administrator"
    assert [a.user.id for a in await bot.get_chat_administrators(group)] == [USER]
    assert await bot.get_chat_member_count(group) == 3
    assert await bot.send_chat_action(USER, "typing")


async def test_get_updates_offset_limit_and_long_poll(sandbox: SandboxServer, bot: Bot) -> None:
    ids = [sandbox.send_text(USER, f"m{n}")["update_id"] for n in range(3)]

    first_two = await bot.get_updates(limit=2)
    assert [u.update_id for u in first_two] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[2])] == [ids[2]]
    assert await bot.get_updates(offset=ids[2] + 1) == ()

    waiting = asyncio.create_task(bot.get_updates(offset=ids[2] + 1, timeout=30))
    await sandbox.wait_for_call(
        lambda c: c.method == "getUpdates" and c.params.get("timeout") == 30
    )
    late = sandbox.send_text(USER, "late")
    woken = await asyncio.wait_for(waiting, timeout=10)
    assert [u.update_id for u in woken] == [late["update_id"]]
    assert woken[0].message is not None and woken[0].message.text == "late"


async def test_second_poller_ends_the_first_with_conflict(sandbox: SandboxServer, bot: Bot) -> None:
    async with Bot(TOKEN, base_url=sandbox.api_url) as second_instance:
        first = asyncio.create_task(bot.get_updates(timeout=30))
        await sandbox.wait_for_call(lambda c: c.method == "getUpdates")
        assert await second_instance.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, timeout=10)


async def test_stop_releases_a_pending_long_poll() -> None:
    server = SandboxServer()
    await server.start()
    async with Bot(TOKEN, base_url=server.api_url) as direct:
        waiting = asyncio.create_task(direct.get_updates(timeout=30))
        await server.wait_for_call(lambda c: c.method == "getUpdates")
        await server.stop()
        assert await asyncio.wait_for(waiting, timeout=10) == ()


async def test_webhook_receives_updates_with_secret_token(sandbox: SandboxServer, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    status = {"code": 500}
    retried = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        if len(received) >= 2:
            retried.set()
        return web.Response(status=status["code"])

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sandbox.webhook_retry_delay = 0.01
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        update = sandbox.send_text(USER, "via webhook")
        await asyncio.wait_for(retried.wait(), timeout=10)  # refused once, then retried
        status["code"] = 200
        await sandbox.wait_until_confirmed()

        assert all(entry == ("s3cret", update) for entry in received)
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert info.last_error_message == "Wrong response from the webhook: 500"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        await runner.cleanup()


async def test_control_http_api_drives_the_bot(sandbox: SandboxServer, app: AnyApp) -> None:
    async with aiohttp.ClientSession() as session:
        mark = sandbox.last_seq
        async with session.post(
            f"{sandbox.control_url}/text", json={"user_id": USER, "text": "from outside"}
        ) as response:
            assert response.status == 200
            assert (await response.json())["update"]["message"]["text"] == "from outside"
        await sandbox.settle(USER, after_seq=mark)

        async with session.get(f"{sandbox.control_url}/chats/{USER}/messages") as response:
            messages = (await response.json())["messages"]
        assert [m["text"] for m in messages] == ["echo: from outside"]
        assert messages[0]["buttons"] == [[["Yes", "yes"]], [["No", "no"]]]

        mark = sandbox.last_seq
        async with session.post(
            f"{sandbox.control_url}/press",
            json={"user_id": USER, "message_id": messages[0]["message_id"], "data": "yes"},
        ) as response:
            assert response.status == 200
        await sandbox.settle(USER, after_seq=mark)
        async with session.post(
            f"{sandbox.control_url}/press", json={"user_id": USER, "button_text": "Nope"}
        ) as response:
            assert response.status == 404

        async with session.get(f"{sandbox.control_url}/calls", params={"after": mark}) as response:
            calls = (await response.json())["calls"]
        methods = {call["method"] for call in calls}
        assert {"answerCallbackQuery", "editMessageText"} <= methods
        assert all(call["seq"] > mark for call in calls)
    assert sandbox.last_message(USER).text == "you chose yes"


async def test_reset_records_keeps_chat_state(sandbox: SandboxServer, bot: Bot) -> None:
    old = await bot.send_message(USER, "before")
    sandbox.reset_records()
    assert sandbox.calls == [] and sandbox.messages(USER) == []

    new = await bot.send_message(USER, "after")
    assert new.message_id == old.message_id + 1
    await bot.edit_message_text("before, edited", USER, old.message_id)
    assert [m.text for m in sandbox.messages(USER)] == ["before, edited", "after"]
