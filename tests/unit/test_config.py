"""Settings: the environment names are a contract, .env works, bad values are refused, and the
token gets a helpful explanation when it is missing and never shows up when printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot.config import DEFAULT_API_URL, TOKEN_HELP, Settings, TokenError

GOOD_TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ms"
SETTING_NAMES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "DATABASE_URL",
    "ADMIN_IDS",
    "DEFAULT_TIMEZONE",
    "SCHEDULER_INTERVAL_SECONDS",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the machine, and no stray .env is read."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_any_configuration() -> None:
    settings = Settings()
    assert settings.telegram_bot_token.get_secret_value() == ""
    assert settings.telegram_api_url == DEFAULT_API_URL == "https://api.telegram.org/bot"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("data/twitchcheck.sqlite3")
    assert settings.admin_ids == frozenset()
    assert settings.default_timezone == "UTC"
    assert settings.scheduler_interval_seconds > 0
    assert settings.log_level == "INFO"


def test_every_setting_is_read_from_its_environment_name(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "TELEGRAM_BOT_TOKEN": GOOD_TOKEN,
        "TELEGRAM_API_URL": "http://127.0.0.1:8081/bot",
        "DATABASE_URL": "postgresql+asyncpg://bot@db/twitchcheck",
        "ADMIN_IDS": "1, 2,3",
        "DEFAULT_TIMEZONE": "Europe/Berlin",
        "SCHEDULER_INTERVAL_SECONDS": "12.5",
        "LOG_LEVEL": "debug",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.telegram_bot_token.get_secret_value() == GOOD_TOKEN
    assert settings.telegram_api_url == "http://127.0.0.1:8081/bot"
    assert settings.database_url == "postgresql+asyncpg://bot@db/twitchcheck"
    assert settings.admin_ids == frozenset({1, 2, 3})
    assert settings.default_timezone == "Europe/Berlin"
    assert settings.scheduler_interval_seconds == 12.5
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", frozenset()), ("42", {42}), ("1,2", {1, 2}), (" 7 , 7 ,", {7}), ("1, 2,3", {1, 2, 3})],
)
def test_admin_ids_accept_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: set[int]
) -> None:
    monkeypatch.setenv("ADMIN_IDS", raw)
    assert Settings().admin_ids == frozenset(expected)


def test_admin_ids_reject_non_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, alice")
    with pytest.raises(ValidationError, match="admin_ids"):
        Settings()


def test_settings_are_read_from_a_dot_env_file_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "\n".join(
            [
                f"TELEGRAM_BOT_TOKEN={GOOD_TOKEN}",
                "TELEGRAM_API_URL=http://localhost:9000/bot",
                f"DATABASE_URL=sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
                "ADMIN_IDS=10, 20",
                "DEFAULT_TIMEZONE=America/New_York",
                "SCHEDULER_INTERVAL_SECONDS=5",
                "LOG_LEVEL=warning",
                "SOMETHING_ELSE=ignored",
            ]
        ),
        encoding="utf-8",
    )
    settings = Settings()
    assert settings.require_token() == GOOD_TOKEN
    assert settings.telegram_api_url == "http://localhost:9000/bot"
    assert settings.database_url.endswith("bot.sqlite3")
    assert settings.admin_ids == frozenset({10, 20})
    assert settings.default_timezone == "America/New_York"
    assert settings.scheduler_interval_seconds == 5.0
    assert settings.log_level == "WARNING"


def test_the_environment_wins_over_dot_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEFAULT_TIMEZONE=Asia/Tokyo\n", encoding="utf-8")
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Europe/Paris")
    assert Settings().default_timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Berlin", "Europe/Berlin"),
        ("berlin", "Europe/Berlin"),
        ("New York", "America/New_York"),
        ("UTC+2", "UTC+02:00"),
        ("GMT-3", "UTC-03:00"),
        ("Europe/Lisbon", "Europe/Lisbon"),
        ("UTC", "UTC"),
    ],
)
def test_default_timezone_takes_what_the_chat_takes(
    monkeypatch: pytest.MonkeyPatch, typed: str, stored: str
) -> None:
    monkeypatch.setenv("DEFAULT_TIMEZONE", typed)
    assert Settings().default_timezone == stored


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "nowhere at all", "UTC+25", "14:30"])
def test_unknown_default_timezone_is_refused(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("DEFAULT_TIMEZONE", zone)
    with pytest.raises(ValidationError, match="default_timezone") as caught:
        Settings()
    assert "unknown timezone" in str(caught.value)
    assert "Europe/Berlin" in str(caught.value)  # says what to write instead


def test_an_ambiguous_default_timezone_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_TIMEZONE", "CST")
    with pytest.raises(ValidationError, match="America/Chicago, Asia/Shanghai"):
        Settings()


@pytest.mark.parametrize("level", ["verbose", "TRACE", "", "20"])
def test_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", level)
    with pytest.raises(ValidationError, match="log_level"):
        Settings()


@pytest.mark.parametrize("seconds", ["0", "-5", "soon"])
def test_scheduler_interval_must_be_a_positive_number(
    monkeypatch: pytest.MonkeyPatch, seconds: str
) -> None:
    monkeypatch.setenv("SCHEDULER_INTERVAL_SECONDS", seconds)
    with pytest.raises(ValidationError, match="scheduler_interval_seconds"):
        Settings()


def _token_error(token: str) -> str:
    with pytest.raises(TokenError) as caught:
        Settings(telegram_bot_token=SecretStr(token)).require_token()
    return str(caught.value)


def test_a_missing_token_gets_an_explanation_not_a_traceback() -> None:
    message = _token_error("")
    assert message.startswith("TELEGRAM_BOT_TOKEN is not set.")
    assert "@BotFather" in message and "/newbot" in message
    assert message.endswith(TOKEN_HELP)
    assert "twitchcheck sandbox" in message  # the way to try it without a token


@pytest.mark.parametrize(
    "token",
    [
        "   ",
        "not-a-token",
        "123456789",
        "123456789:",
        "12:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ms",
        "123456789:short",
        "123456789:AAEhBOweik6ad9r QXMENQjcrGbqCr4K-ms",
        "bot123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ms",
    ],
)
def test_a_malformed_token_gets_the_same_explanation(token: str) -> None:
    message = _token_error(token)
    assert "@BotFather" in message
    assert TOKEN_HELP in message
    # One paragraph of help after a one-line headline: no traceback-like multi-line dump.
    headline, _, help_text = message.partition("\n\n")
    assert "\n" not in headline and "\n" not in help_text


def test_a_well_formed_token_is_returned_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", f"  {GOOD_TOKEN}\n")
    assert Settings().require_token() == GOOD_TOKEN


def test_the_token_never_appears_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", GOOD_TOKEN)
    settings = Settings()
    secret_part = GOOD_TOKEN.split(":", 1)[1]
    for shown in (repr(settings), str(settings), repr(settings.telegram_bot_token), f"{settings}"):
        assert secret_part not in shown
    assert secret_part not in settings.model_dump_json()
    assert isinstance(settings.telegram_bot_token, SecretStr)


def test_a_token_error_does_not_echo_a_malformed_token() -> None:
    attempt = "123456789:oops pasted the wrong thing!"
    assert "oops-pasted" not in _token_error(attempt)
