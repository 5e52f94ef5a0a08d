"""Chat with the real bot in a terminal, through the sandbox: for people without Telegram.

Each typed line reaches the bot as a message, exactly as typed (numbers too); a button is
pressed only with an explicit gesture, ``#2`` or ``/press 2``. After an input the loop waits
until the bot has answered and gone quiet, then prints what changed in the chat: new messages,
edited text, deletions, the buttons now on offer. Messages the bot sends on its own (a
reminder) are printed as they arrive, while the person is still at the prompt. Files the bot
sends (the chart, the PDF report, the export) are written to a folder and their path printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.sandbox.models import ApiCall, SentMessage, UploadedFile
from bot.sandbox.server import SandboxServer

QUIT_COMMAND = "/quit"
HELP_COMMAND = "/help"
PRESS_COMMAND = "/press"
PRESS_PREFIX = "#"
# How long the watcher waits for the next call before looking whether it should stop. A
# cancellation can be lost inside asyncio.wait_for on Python 3.11 when its wait ends at the
# same moment, so the watcher also stops on a flag it checks at least this often.
_WATCH_TIMEOUT = 1.0
_PRESS_RE = re.compile(rf"^(?:{re.escape(PRESS_PREFIX)}\s*|{PRESS_COMMAND}\s+)(\d+)$")


def help_text(files_dir: Path | None) -> str:
    """What the terminal itself understands (shown at the start and on /help)."""
    files = f"Files the bot sends are saved under {files_dir}.\n" if files_dir else ""
    return (
        "You are chatting with the bot through the local sandbox. Type a message and press\n"
        "Enter: everything you type reaches the bot as text, numbers too.\n"
        "To press a button, type # and its number (#2) or /press 2.\n"
        "Messages the bot sends on its own (reminders) appear as they arrive.\n"
        f"{files}"
        "An empty line shows anything new; /help shows this and the bot's help;\n"
        "/quit or Ctrl-D leaves. Try /start."
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


_IMAGE_SUFFIXES = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF8", ".gif"))


def _file_name(message: SentMessage, upload: UploadedFile) -> str:
    """A safe name for a received file: message id, then the name the bot gave it.

    Bytes sent without a name get one from their content (PNG, JPEG, GIF), so a photo
    opens in an image viewer."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.filename).name).strip("._") or "file"
    if "." not in stem or message.kind == "photo":
        for magic, suffix in _IMAGE_SUFFIXES:
            if upload.data.startswith(magic) and not stem.lower().endswith(suffix):
                stem = f"{stem.rsplit('.', 1)[0] if '.' in stem else stem}{suffix}"
                break
    return f"{message.message_id}-{stem}"


def _describe(message: SentMessage, saved: Path | None = None) -> str:
    if message.kind == "text" or message.document is None:
        return message.plain_text
    upload = message.document
    if saved is not None:
        label = f"[{message.kind} saved to {saved}, {len(upload.data)} bytes]"
    else:
        label = f"[{message.kind}: {upload.filename}, {len(upload.data)} bytes]"
    caption = message.plain_text
    return f"{label}\n{caption}" if caption else label


def render_changes(
    messages: list[SentMessage],
    shown_seq: int,
    printed: dict[int, str] | None = None,
    saved: dict[int, Path] | None = None,
) -> list[str]:
    """Lines for messages changed since ``shown_seq``: new, edited or deleted.

    With ``printed`` (message id → what was last printed for it, kept up to date here), an
    edit that changed only the buttons prints nothing for the message — the caller shows the
    new buttons instead of the whole message again. ``saved`` maps messages to the files
    written for them.
    """
    lines: list[str] = []
    for message in messages:
        known = message.seq <= shown_seq if printed is None else message.message_id in printed
        if message.deleted:
            if known:
                lines.append("bot removed a message")
            if printed is not None:
                printed.pop(message.message_id, None)
            continue
        body = _describe(message, (saved or {}).get(message.message_id))
        shown = body
        if printed is not None:
            before = printed.get(message.message_id)
            if before == body:
                continue
            printed[message.message_id] = body
            if before and body.startswith(before):  # e.g. the answer added to a question
                shown = "… " + body[len(before) :].strip()
        lines.append(_indent("bot (edited): " if known else "bot: ", shown))
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


def pressed_number(line: str) -> int | None:
    """The button number of ``#2`` / ``/press 2``; None for anything else (it is text)."""
    match = _PRESS_RE.match(line)
    return int(match.group(1)) if match else None


@dataclass
class _ChatView:
    """What the terminal has shown of one chat, so each change is printed once."""

    server: SandboxServer
    user_id: int
    write: Callable[[str], None]
    files_dir: Path | None
    shown_seq: int = -1
    printed: dict[int, str] = field(default_factory=dict)
    saved: dict[int, Path] = field(default_factory=dict)
    choices: list[_Choice] = field(default_factory=list)
    used_one_time: set[int] = field(default_factory=set)

    def _save_files(self, messages: list[SentMessage]) -> None:
        if self.files_dir is None:
            return
        for message in messages:
            upload = message.document
            if message.deleted or upload is None or message.message_id in self.saved:
                continue
            if not upload.data:  # a URL reference: nothing to write
                continue
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / _file_name(message, upload)
            path.write_bytes(upload.data)
            self.saved[message.message_id] = path

    def flush(self, calls: list[ApiCall], *, show_choices: bool) -> bool:
        """Print what changed since the last flush; True when anything was printed."""
        seen_up_to = self.server.last_seq
        changed = self.server.new_messages_since(self.user_id, self.shown_seq)
        self._save_files(changed)
        lines = render_changes(changed, self.shown_seq, self.printed, self.saved)
        lines += _notices(calls)
        self.shown_seq = seen_up_to
        for line in lines:
            self.write(line)
        choices = current_choices(self.server, self.user_id, frozenset(self.used_one_time))
        buttons_changed = [c.label for c in choices] != [c.label for c in self.choices]
        self.choices = choices
        if choices and (show_choices or lines or buttons_changed):
            self.write("  " + format_choices(choices))
            return True
        return bool(lines)

    def has_news(self) -> bool:
        return bool(self.server.calls_for(self.user_id, after_seq=self.shown_seq))


async def chat_in_terminal(
    server: SandboxServer,
    *,
    user_id: int,
    read_line: Callable[[], Awaitable[str | None]],
    write: Callable[[str], None],
    reply_timeout: float = 10.0,
    quiet: float = 0.5,
    files_dir: Path | None = None,
    after_unprompted: Callable[[], None] = lambda: None,
) -> None:
    """Run the conversation until /quit or end of input.

    After each input the bot counts as done once it has been silent in the chat for ``quiet``
    seconds. Anything it sends later (a reminder) is printed as it comes by a watcher task,
    followed by ``after_unprompted`` (the terminal shows its prompt again).
    """
    view = _ChatView(server, user_id, write, files_dir, shown_seq=server.last_seq)
    write(help_text(files_dir))
    turn = asyncio.Lock()  # the input path and the watcher print in turns, never interleaved
    stop = asyncio.Event()
    watcher = asyncio.create_task(
        _watch(view, turn, stop, quiet=quiet, reply_timeout=reply_timeout, then=after_unprompted)
    )
    try:
        while True:
            line = await read_line()
            if line is None:
                return
            line = line.strip()
            if line == QUIT_COMMAND:
                return
            async with turn:
                await _handle(view, line, reply_timeout=reply_timeout, quiet=quiet)
    finally:
        stop.set()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _handle(view: _ChatView, line: str, *, reply_timeout: float, quiet: float) -> None:
    """One typed line: a press, the terminal's help, or text for the bot."""
    server, user_id = view.server, view.user_id
    if line == HELP_COMMAND:
        view.write(help_text(view.files_dir))
    mark = server.last_seq
    calls: list[ApiCall] = []
    number = pressed_number(line)
    if number is not None:
        sent = _press(view, number)
    else:
        sent = bool(line)
        if sent:
            server.send_text(user_id, line)
    if sent:
        try:
            calls = await server.settle(user_id, after_seq=mark, quiet=quiet, timeout=reply_timeout)
        except TimeoutError:
            view.write(f"(no reply from the bot within {reply_timeout:g} s)")
    # After an input (or an empty line, a refresh) the buttons on offer are shown again; after
    # a press that could not be made, the hint already said what there is.
    view.flush(calls, show_choices=sent or not line)


def _press(view: _ChatView, number: int) -> bool:
    """Press button ``number`` of the current choices; False (and a hint) when there is none."""
    choices = view.choices
    if not choices:
        view.write("(there is no button to press right now)")
        return False
    if not 0 < number <= len(choices):
        view.write(
            f"(no button {number} here: type {PRESS_PREFIX}1 to {PRESS_PREFIX}{len(choices)})"
        )
        return False
    choice = choices[number - 1]
    if choice.callback_data is not None:
        view.write(f"you pressed: {choice.label}")
        view.server.press_button(view.user_id, choice.message_id, choice.callback_data)
        return True
    view.write(f"you: {choice.label}")
    if choice.one_time:
        view.used_one_time.add(choice.message_id)
    view.server.send_text(view.user_id, choice.label)
    return True


async def _watch(
    view: _ChatView,
    turn: asyncio.Lock,
    stop: asyncio.Event,
    *,
    quiet: float,
    reply_timeout: float,
    then: Callable[[], None],
) -> None:
    """Print what the bot sends while nobody typed anything (reminders, summaries)."""
    server, user_id = view.server, view.user_id
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await server.wait_for_call(
                lambda call: server.is_for_chat(call, user_id),
                after_seq=view.shown_seq,
                timeout=_WATCH_TIMEOUT,
            )
        async with turn:
            if stop.is_set() or not view.has_news():  # the input path already printed it
                continue
            calls: list[ApiCall] = []
            with contextlib.suppress(TimeoutError):
                calls = await server.settle(
                    user_id, after_seq=view.shown_seq, quiet=quiet, timeout=reply_timeout
                )
            if not stop.is_set() and view.flush(calls, show_choices=False):
                then()


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
