"""`twitchcheck sandbox`: the real bot and the loopback Bot API in one process, chat here."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.app import build_application, polling
from bot.config import Settings
from bot.sandbox.server import SandboxServer
from bot.sandbox.terminal import chat_in_terminal, stdin_line_reader

PROMPT = "> "
INTRO = (
    "twitchcheck sandbox — you are chatting with the real bot through a local Telegram Bot API\n"
    "emulator. Type messages or commands (/start, /checkin, /help); press a button with #\n"
    "and its number (#2) or /press 2; /quit ends the session. Data goes to {database};\n"
    "files the bot sends go to {files}."
)


def _show_prompt_again() -> None:
    """After a message nobody asked for (a reminder), the prompt is shown again below it."""
    sys.stdout.write(PROMPT)
    sys.stdout.flush()


async def run_sandbox_chat(
    settings: Settings, *, token: str, user_id: int, files_dir: Path
) -> None:
    """Start the sandbox and the bot, then relay the terminal until /quit or end of input."""
    async with SandboxServer() as sandbox:
        settings = settings.model_copy(update={"telegram_api_url": sandbox.api_url})
        async with polling(build_application(settings, token=token)):
            print(INTRO.format(database=settings.database_url, files=files_dir), flush=True)
            await chat_in_terminal(
                sandbox,
                user_id=user_id,
                read_line=lambda: stdin_line_reader(PROMPT),
                write=lambda line: print(line, flush=True),
                files_dir=files_dir,
                after_unprompted=_show_prompt_again,
            )
