"""Chat with the real bot in a terminal, through the sandbox: for people without Telegram.

Each typed line becomes a message from the user (or a button press when it is the number of a
shown button); the loop then waits until the bot has answered and gone quiet, and prints what
changed in the chat: new messages, edits, deletions, the note of a pressed button.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.sandbox.models import ApiCall, SentMessage
from bot.sandbox.server import SandboxServer

QUIT_COMMAND = "/quit"
HELP_TEXT = (
    "You are chatting with the bot through the local sandbox. Type a message and press Enter;\n"
    "type a button's number to press it (start with \\ to send a number as text, e.g. \\5);\n"
    "an empty line shows anything new; /quit or Ctrl-D leaves. Try /start."
)


@dataclass(frozen=True)
class _Choice:
    """A numbered button of message ``message_id``: an inline button (pressed with its
    callback data) or a reply-keyboard button (``callback_data`` None: sends its label)."""

    label: str
    message_id: int
    callback_data: str | None
    one_time: bool = False


def _indent(prefix: str, body: str) -> str:
    lines = body.splitlines() or [""]
    padding = " " * len(prefix)
    return "\n".join([prefix + lines[0], *(padding + line for line in lines[1:])])


def _describe(message: SentMessage) -> str:
    if message.kind == "text" or message.document is None:
        return message.plain_text
    upload = message.document
    label = f"[{message.kind}: {upload.filename}, {len(upload.data)} bytes]"
    caption = message.plain_text
    return f"{label}\n{caption}" if caption else label


def render_changes(messages: list[SentMessage], shown_seq: int) -> list[str]:
    """Lines for messages changed since ``shown_seq``: new, edited or deleted."""
    lines: list[str] = []
    for message in messages:
        is_new = message.seq > shown_seq
        if message.deleted:
            if not is_new:
                lines.append("bot removed a message")
            continue
        prefix = "bot: " if is_new else "bot (edited): "
        lines.append(_indent(prefix, _describe(message)))
    return lines


def current_choices(
    server: SandboxServer, user_id: int, used_one_time: frozenset[int] = frozenset()
) -> list[_Choice]:
    """Inline buttons of the newest message, else the open reply keyboard.

    Only the newest message counts for inline buttons: older ones (an answered question) are
    history, and offering them as the current choice would mislead. A one-time reply keyboard
    closes once used (its message id is in ``used_one_time``).
    """
    messages = [m for m in server.messages(user_id) if not m.deleted]
    if messages and (rows := messages[-1].buttons()):
        newest = messages[-1]
        return [_Choice(text, newest.message_id, data) for row in rows for text, data in row]
    for message in reversed(messages):
        markup = message.reply_markup or {}
        if markup.get("remove_keyboard"):
            return []
        keyboard = message.reply_keyboard()
        if keyboard:
            if message.message_id in used_one_time:
                return []
            one_time = bool(markup.get("one_time_keyboard"))
            return [
                _Choice(text, message.message_id, None, one_time)
                for row in keyboard
                for text in row
            ]
    return []


def format_choices(choices: list[_Choice]) -> str:
    return "  ".join(f"[{number}] {choice.label}" for number, choice in enumerate(choices, 1))


def _notices(calls: list[ApiCall]) -> list[str]:
    """Toasts and alerts the bot showed in answer to a button press."""
    notices = []
    for call in calls:
        text = call.params.get("text")
        if call.method == "answerCallbackQuery" and text:
            kind = "alert" if call.params.get("show_alert") else "notice"
            notices.append(f"({kind}: {text})")
    return notices


async def chat_in_terminal(
    server: SandboxServer,
    *,
    user_id: int,
    read_line: Callable[[], Awaitable[str | None]],
    write: Callable[[str], None],
    reply_timeout: float = 10.0,
    quiet: float = 0.5,
) -> None:
    """Run the conversation until /quit or end of input.

    After each input the bot counts as done once it has been silent in the chat for ``quiet``
    seconds; anything later shows up after the next input (an empty line just refreshes).
    """
    write(HELP_TEXT)
    shown_seq = server.last_seq
    choices: list[_Choice] = []
    used_one_time: set[int] = set()
    while True:
        line = await read_line()
        if line is None:
            return
        line = line.strip()
        if line == QUIT_COMMAND:
            return
        mark = server.last_seq
        calls: list[ApiCall] = []
        if line:
            choice = (
                choices[int(line) - 1] if line.isdigit() and 0 < int(line) <= len(choices) else None
            )
            if choice is not None and choice.callback_data is not None:
                write(f"you pressed: {choice.label}")
                server.press_button(user_id, choice.message_id, choice.callback_data)
            elif choice is not None:
                write(f"you: {choice.label}")
                if choice.one_time:
                    used_one_time.add(choice.message_id)
                server.send_text(user_id, choice.label)
            else:
                server.send_text(user_id, line.removeprefix("\\"))
            try:
                calls = await server.settle(
                    user_id, after_seq=mark, quiet=quiet, timeout=reply_timeout
                )
            except TimeoutError:
                write(f"(no reply from the bot within {reply_timeout:g} s)")
        seen_up_to = server.last_seq
        for rendered in render_changes(server.new_messages_since(user_id, shown_seq), shown_seq):
            write(rendered)
        for notice in _notices(calls):
            write(notice)
        shown_seq = seen_up_to
        choices = current_choices(server, user_id, frozenset(used_one_time))
        if choices:
            write("  " + format_choices(choices))


async def stdin_line_reader(prompt: str = "> ") -> str | None:
    """One line from stdin without blocking the event loop; None at end of input.

    A daemon thread does the blocking read, so an abandoned read never delays shutdown.
    """
    loop = asyncio.get_running_loop()
    result: asyncio.Future[str | None] = loop.create_future()

    def deliver(line: str | None) -> None:
        if not result.done():
            result.set_result(line)

    def read() -> None:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        line = sys.stdin.readline()
        # RuntimeError: the loop closed while the user was still typing.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, line.rstrip("\r\n") if line else None)

    threading.Thread(target=read, name="sandbox-stdin", daemon=True).start()
    return await result
