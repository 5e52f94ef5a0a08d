"""`twitchcheck sandbox`: the real bot and the loopback Bot API in one process, chat here."""

from __future__ import annotations

from bot.app import build_application, polling
from bot.config import Settings
from bot.sandbox.server import SandboxServer
from bot.sandbox.terminal import chat_in_terminal, stdin_line_reader

INTRO = (
    "twitchcheck sandbox — you are chatting with the real bot through a local Telegram Bot API\n"
    "emulator. Type messages or commands (/start, /checkin, /help); type a number to press a\n"
    "button; /quit ends the session. Data goes to {database}."
)


async def run_sandbox_chat(settings: Settings, *, token: str, user_id: int) -> None:
    """Start the sandbox and the bot, then relay the terminal until /quit or end of input."""
    async with SandboxServer() as sandbox:
        settings = settings.model_copy(update={"telegram_api_url": sandbox.api_url})
        async with polling(build_application(settings, token=token)):
            print(INTRO.format(database=settings.database_url), flush=True)
            await chat_in_terminal(
                sandbox,
                user_id=user_id,
                read_line=stdin_line_reader,
                write=lambda line: print(line, flush=True),
            )
