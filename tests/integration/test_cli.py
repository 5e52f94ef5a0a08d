"""The installed `twitchcheck` command, run as a person would run it: a separate process, a
clean environment without a token, and a working directory that is not the repository."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import TOKEN_HELP
from bot.db.migrate import revisions
from bot.domain.conversation import load_questions
from bot.paths import CONTENT_DIR

BIN_DIR = Path(sys.executable).parent
TWITCHCHECK = BIN_DIR / "twitchcheck"
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
QUESTIONS = load_questions(CONTENT_DIR / "questions.yaml")


def clean_env(**extra: str) -> dict[str, str]:
    """Only what a shell needs: no TELEGRAM_BOT_TOKEN, DATABASE_URL or other setting leaks in."""
    env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def twitchcheck(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TWITCHCHECK), *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def schema_revision(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        [(version,)] = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    assert {"users", "checkins", "conversation_states", "processed_updates"} <= tables
    return str(version)


def test_the_console_script_is_installed() -> None:
    assert TWITCHCHECK.exists(), f"{TWITCHCHECK} missing: run `pip install -e .`"


# --- run without a usable token ---------------------------------------------------------


def test_run_without_a_token_explains_how_to_get_one(tmp_path: Path) -> None:
    result = twitchcheck("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr
    assert TOKEN_HELP in result.stderr and "@BotFather" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()  # nothing was started or created


@pytest.mark.parametrize("token", ["abc", "123456789:short", "123456789 AAEhBOweik6ad9r_QXMENQ"])
def test_run_with_a_malformed_token_gives_the_same_explanation(tmp_path: Path, token: str) -> None:
    result = twitchcheck("run", cwd=tmp_path, env=clean_env(TELEGRAM_BOT_TOKEN=token))
    assert result.returncode == 2
    assert "does not look like a bot token" in result.stderr
    assert TOKEN_HELP in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_token_in_dot_env_is_read_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=not-a-token\n", encoding="utf-8")
    result = twitchcheck("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "does not look like a bot token" in result.stderr
    assert "not-a-token" not in result.stderr + result.stdout


def test_invalid_settings_are_reported_without_a_traceback(tmp_path: Path) -> None:
    result = twitchcheck("migrate", cwd=tmp_path, env=clean_env(LOG_LEVEL="loud"))
    assert result.returncode == 1
    assert "LOG_LEVEL" in result.stderr and "invalid settings" in result.stderr
    assert "Traceback" not in result.stderr


# --- migrate from anywhere --------------------------------------------------------------


def test_migrate_creates_the_database_from_any_working_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "some" / "other" / "folder"
    elsewhere.mkdir(parents=True)
    database = tmp_path / "db" / "bot.sqlite3"
    env = clean_env(DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    result = twitchcheck("migrate", cwd=elsewhere, env=env)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert schema_revision(database) == revisions()[-1]
    assert list(elsewhere.iterdir()) == []

    again = twitchcheck("migrate", cwd=elsewhere, env=env)
    assert again.returncode == 0, again.stderr
    assert schema_revision(database) == revisions()[-1]


def test_migrate_defaults_to_a_sqlite_file_under_data(tmp_path: Path) -> None:
    result = twitchcheck("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert schema_revision(tmp_path / "data" / "twitchcheck.sqlite3") == revisions()[-1]


def test_python_dash_m_bot_is_the_same_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("run", "migrate", "sandbox", "content"):
        assert command in result.stdout
    assert result.stdout == twitchcheck("--help", cwd=tmp_path).stdout


# --- content check ----------------------------------------------------------------------


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A copy of the real content folder to break on purpose."""
    copy = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return copy


def test_content_check_accepts_the_shipped_content(tmp_path: Path) -> None:
    result = twitchcheck("content", "check", str(CONTENT_DIR), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


def test_content_check_accepts_an_unchanged_copy(content_copy: Path, tmp_path: Path) -> None:
    assert twitchcheck("content", "check", str(content_copy), cwd=tmp_path).returncode == 0


def _replace_once(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file.name}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def _check_fails_naming(content: Path, cwd: Path, file_name: str) -> str:
    result = twitchcheck("content", "check", str(content), cwd=cwd)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert file_name in output
    assert "Traceback" not in output
    return output


def test_content_check_names_a_broken_questions_file(content_copy: Path, tmp_path: Path) -> None:
    _replace_once(content_copy / "questions.yaml", "- id: consent", "- id: Consent!")
    _check_fails_naming(content_copy, tmp_path, "questions.yaml")


def test_content_check_names_a_missing_question(content_copy: Path, tmp_path: Path) -> None:
    _replace_once(content_copy / "questions.yaml", "- id: water", "- id: juice")
    output = _check_fails_naming(content_copy, tmp_path, "questions.yaml")
    assert "water" in output


def test_content_check_names_a_broken_redflags_file(content_copy: Path, tmp_path: Path) -> None:
    _replace_once(content_copy / "redflags.yaml", "tier: emergency", "tier: sometimes")
    _check_fails_naming(content_copy, tmp_path, "redflags.yaml")


def test_content_check_names_a_message_key_defined_twice(
    content_copy: Path, tmp_path: Path
) -> None:
    (content_copy / "messages_duplicate.yaml").write_text(
        'messages:\n  welcome: "Hello again"\n', encoding="utf-8"
    )
    output = _check_fails_naming(content_copy, tmp_path, "messages_duplicate.yaml")
    assert "welcome" in output


def test_content_check_names_a_file_that_is_not_yaml(content_copy: Path, tmp_path: Path) -> None:
    (content_copy / "questions.yaml").write_text("questions:\n  - id: [unclosed\n")
    _check_fails_naming(content_copy, tmp_path, "questions.yaml")


def test_content_check_names_a_key_repeated_inside_one_file(
    content_copy: Path, tmp_path: Path
) -> None:
    messages = content_copy / "messages.yaml"
    messages.write_text(
        messages.read_text(encoding="utf-8") + '\n  welcome: "Hello again"\n', encoding="utf-8"
    )
    _check_fails_naming(content_copy, tmp_path, "messages.yaml")


def test_content_check_refuses_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    result = twitchcheck("content", "check", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode == 2
    assert "not a folder" in result.stdout


# --- the terminal sandbox ---------------------------------------------------------------


def _button_number(question_id: str, value: str) -> str:
    """How the terminal presses a button: # and its position in the keyboard, from 1."""
    values = [option.value for option in QUESTIONS[question_id].options]
    return f"#{values.index(value) + 1}"


def test_sandbox_onboarding_through_stdin(tmp_path: Path) -> None:
    database = tmp_path / "s.sqlite3"
    script = [
        "/start",
        _button_number("consent", "yes"),
        "Berlin",
        _button_number("reminder", "09:00"),
        "/quit",
    ]
    result = twitchcheck(
        "sandbox",
        "--database-url",
        f"sqlite+aiosqlite:///{database}",
        cwd=tmp_path,
        stdin="\n".join(script) + "\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    assert "Do you agree to twitchcheck storing these answers?" in out
    consent_labels = [option.label for option in QUESTIONS["consent"].options]
    assert "  [1] " + "  [2] ".join(consent_labels) in out
    assert "you pressed: I agree" in out
    assert "Which timezone are you in?" in out
    assert "[2] 09:00" in out and "you pressed: 09:00" in out
    assert "All set: timezone Europe/Berlin, reminder 09:00" in out
    assert out.index("Do you agree") < out.index("you pressed: I agree") < out.index("All set")

    with sqlite3.connect(database) as connection:
        [(consented, timezone, reminder)] = connection.execute(
            "SELECT consented_at, timezone, reminder_time FROM users"
        ).fetchall()
    assert consented is not None and timezone == "Europe/Berlin"
    assert str(reminder).startswith("09:00")
    assert not (tmp_path / "data").exists()  # the given URL was used, not the default
