"""`twitchcheck` command line: run, migrate, sandbox, content check, content publish."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.app import build_application, file_url_for
from bot.config import Settings, TokenError
from bot.logs import configure_logging
from bot.runner import serve
from bot.startup import StartupError, prepare_database, wait_for_bot_api

SANDBOX_TOKEN = "123456789:SANDBOX-not-a-real-token-000000000"
SANDBOX_DATABASE_URL = "sqlite+aiosqlite:///data/sandbox.sqlite3"
SANDBOX_FILES_DIR = "data/sandbox-files"


def load_settings() -> Settings:
    """Settings from the environment and .env, with a readable error instead of a traceback."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']).upper() or 'settings'}: "
            f"{item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        )
        raise SystemExit(f"twitchcheck: invalid settings — {problems}") from None


async def apply_migrations(
    database_url: str, *, remember_data: bool = True, migrate: bool = True
) -> None:
    """Check the database location and bring its schema up to date (StartupError when a
    person has to fix something first). With `migrate` off, PostgreSQL must already be at
    head (SQLite is always migrated)."""
    await prepare_database(database_url, remember_data=remember_data, migrate=migrate)


def command_migrate(_args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    asyncio.run(apply_migrations(settings.database_url))
    print("twitchcheck: database is up to date")
    return 0


def command_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        token = settings.require_token()
    except TokenError as error:
        print(f"twitchcheck: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    # A fatal signal (SIGBUS from a bad -shm mapping, SIGSEGV) then leaves its name and a
    # traceback on stderr instead of a silent exit.
    faulthandler.enable()
    asyncio.run(apply_migrations(settings.database_url, migrate=args.migrate))
    asyncio.run(
        wait_for_bot_api(
            token,
            settings.telegram_api_url,
            base_file_url=file_url_for(settings.telegram_api_url),
            budget_seconds=settings.startup_retry_seconds,
        )
    )
    application = build_application(settings, token=token)
    return asyncio.run(serve(settings, application))


def command_sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.session import run_sandbox_chat

    settings = load_settings()
    database_url = args.database_url or SANDBOX_DATABASE_URL
    settings = settings.model_copy(update={"database_url": database_url, "log_level": "WARNING"})
    configure_logging("WARNING")
    asyncio.run(apply_migrations(database_url, remember_data=False))  # throwaway data
    asyncio.run(
        run_sandbox_chat(
            settings,
            token=SANDBOX_TOKEN,
            user_id=args.user_id,
            files_dir=Path(args.files_dir),
        )
    )
    return 0


def command_content_check(args: argparse.Namespace) -> int:
    from bot.content_check import check_content

    return check_content(args.path)


def command_content_publish(args: argparse.Namespace) -> int:
    from bot.content_publish import publish_path

    settings = load_settings()
    configure_logging(settings.log_level)
    asyncio.run(apply_migrations(settings.database_url))
    return asyncio.run(publish_path(settings, Path(args.path), confirm_weaker=args.confirm_weaker))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twitchcheck", description="Daily check-ins about benign muscle twitching."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="start the bot (SQLite: migrates first; PostgreSQL: needs `migrate` or --migrate)",
    )
    run.add_argument(
        "--migrate",
        action="store_true",
        help="apply pending migrations first (PostgreSQL; SQLite always does)",
    )
    run.set_defaults(handler=command_run)
    commands.add_parser("migrate", help="apply pending database migrations").set_defaults(
        handler=command_migrate
    )
    sandbox = commands.add_parser("sandbox", help="chat with the bot in this terminal")
    sandbox.add_argument("--user-id", type=int, default=1001, help="the simulated Telegram user")
    sandbox.add_argument("--database-url", default=None, help=f"default {SANDBOX_DATABASE_URL}")
    sandbox.add_argument(
        "--files-dir",
        default=SANDBOX_FILES_DIR,
        help=f"where files the bot sends are saved (default {SANDBOX_FILES_DIR})",
    )
    sandbox.set_defaults(handler=command_sandbox)
    content = commands.add_parser("content", help="content pack tools")
    content_commands = content.add_subparsers(dest="content_command", required=True)
    check = content_commands.add_parser("check", help="validate a content pack folder")
    check.add_argument("path", help="the content folder, e.g. content/")
    check.set_defaults(handler=command_content_check)
    publish = content_commands.add_parser(
        "publish", help="validate a content pack and make it live for every instance"
    )
    publish.add_argument(
        "path", help="a content folder, a .zip of one, or one .yaml file replacing the live one's"
    )
    publish.add_argument(
        "--confirm-weaker",
        action="store_true",
        help="publish even if its red-flag set is weaker than the live one",
    )
    publish.set_defaults(handler=command_content_publish)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of `python -m bot`."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except StartupError as error:
        print(f"twitchcheck: {error}", file=sys.stderr)
        return 2
