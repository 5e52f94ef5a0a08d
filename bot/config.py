"""Settings, built once at start-up and passed down (never read from a module global)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.timezones import timezone_setting_name

DEFAULT_API_URL = "https://api.telegram.org/bot"
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
WEBHOOK_PATH = "/telegram"

TOKEN_HELP = (
    "twitchcheck needs a Telegram bot token in TELEGRAM_BOT_TOKEN (environment or .env). "
    "To get one, open Telegram, start a chat with @BotFather, send /newbot, pick a name and "
    "a username ending in 'bot', and copy the token it replies with (it looks like "
    "123456789:AAE...); then put TELEGRAM_BOT_TOKEN=<token> in a .env file next to the "
    "Makefile, or export it, and run `make run` again. To try the bot without Telegram, "
    "run `twitchcheck sandbox` instead."
)


class TokenError(ValueError):
    """The bot token is missing or does not look like one from @BotFather."""


def default_database_url() -> str:
    """A SQLite file under ./data/ relative to where the bot is started."""
    return f"sqlite+aiosqlite:///{Path('data') / 'twitchcheck.sqlite3'}"


class Settings(BaseSettings):
    """Every knob of the bot; the names are a contract deployments rely on (README "Settings")."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = DEFAULT_API_URL
    database_url: str = Field(default_factory=default_database_url)
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_timezone: str = "UTC"
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    log_level: str = "INFO"
    startup_retry_seconds: float = Field(default=120.0, ge=0)
    content_poll_seconds: float = Field(default=2.0, gt=0)
    # Production (README "Run it in production").
    # Loopback by default: on a laptop the health server is not reachable from outside.
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    shutdown_timeout_seconds: float = Field(default=20.0, gt=0)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: object) -> object:
        """Accept "1, 2,3" from the environment as well as a real collection."""
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",")]
            return frozenset(int(part) for part in parts if part)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        """Whatever the chat's timezone question takes ("Berlin", "UTC+2"), stored canonically."""
        return timezone_setting_name(value)

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    def require_token(self) -> str:
        """The token, or TokenError with instructions when it is missing or malformed."""
        token = self.telegram_bot_token.get_secret_value().strip()
        if not token:
            raise TokenError(f"TELEGRAM_BOT_TOKEN is not set.\n\n{TOKEN_HELP}")
        if not TOKEN_PATTERN.match(token):
            raise TokenError(f"TELEGRAM_BOT_TOKEN does not look like a bot token.\n\n{TOKEN_HELP}")
        return token
