"""Loopback Telegram Bot API emulator: end-to-end tests, benchmarks and `twitchcheck sandbox`."""

from bot.sandbox.models import ApiCall, SentMessage, UploadedFile
from bot.sandbox.server import ApiError, SandboxServer
from bot.sandbox.terminal import chat_in_terminal, stdin_line_reader

__all__ = [
    "ApiCall",
    "ApiError",
    "SandboxServer",
    "SentMessage",
    "UploadedFile",
    "chat_in_terminal",
    "stdin_line_reader",
]
