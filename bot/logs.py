"""Logging that cannot carry message text, names, health values or the token, at any level.

Libraries decide for themselves what they log: at DEBUG SQLAlchemy and aiosqlite write every
statement with its parameters (user ids, check-in values), python-telegram-bot writes whole
updates and API calls, and "Error while parsing updates" writes the raw update at CRITICAL;
exception messages quote whatever value failed. So rather than hoping each library stays
quiet, every log record is made safe when it is created (a log-record factory, so it holds
for every handler — console, file, pytest's capture):

- a record from a library (any logger outside this project's own packages) keeps its
  message template and loses its arguments: "Received data was %r" becomes "Received data
  was <…>";
- a traceback keeps its frames (file, line, code) but an exception's message is shown only
  for types whose messages are known not to quote data (Bot API errors, OS errors, this
  project's own errors); a database error is shown by its driver's error code.

Our own log calls pass only ids, counts and type names; the e2e tests check that at DEBUG.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from sqlalchemy.exc import DBAPIError
from telegram.error import TelegramError

OWN_PACKAGES = ("bot", "handlers", "benchmarks", "migrations")
# Libraries whose log arguments are harmless (Alembic: revision ids and their titles).
TRUSTED_LIBRARIES = ("alembic",)
# Loggers kept at WARNING or above whatever LOG_LEVEL says: their DEBUG/INFO output is
# request URLs (with the token), SQL with parameters, or connection chatter.
QUIET_LIBRARIES = ("httpx", "httpcore", "sqlalchemy", "aiosqlite", "asyncpg")
WITHHELD = "<…>"
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_SAFE_MESSAGE_TYPES: tuple[type[BaseException], ...] = (TelegramError, OSError)
_FACTORY_MARK = "_twitchcheck_safe_records"


def configure_logging(level: str) -> None:
    """Plain logs on stderr at `level`, with noisy libraries pinned and every record made safe."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # python-telegram-bot's DEBUG traces every API call and update: never below INFO.
    numeric = logging.getLevelName(level)
    telegram_level = max(logging.INFO, numeric if isinstance(numeric, int) else logging.INFO)
    logging.getLogger("telegram").setLevel(telegram_level)
    install_safe_records()


def install_safe_records() -> None:
    """Wrap the log-record factory once so every record is made safe as it is created."""
    current = logging.getLogRecordFactory()
    if getattr(current, _FACTORY_MARK, False):
        return

    def safe_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        make_safe(record)
        return record

    setattr(safe_record, _FACTORY_MARK, True)
    logging.setLogRecordFactory(safe_record)


def is_own_logger(name: str) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in OWN_PACKAGES)


def _trusted(name: str) -> bool:
    return any(name == lib or name.startswith(f"{lib}.") for lib in TRUSTED_LIBRARIES)


def make_safe(record: logging.LogRecord) -> None:
    """Drop a library record's arguments; replace every traceback by a message-free one."""
    if not is_own_logger(record.name) and not _trusted(record.name):
        record.msg = template_only(record.msg)
        record.args = ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = safe_traceback(record.exc_info[1])


def template_only(message: object) -> str:
    """A %-style log message with every argument placeholder replaced by <…>."""
    if not isinstance(message, str):  # e.g. an exception or a dict logged as the message
        return f"{type(message).__name__} {WITHHELD}"
    return _PLACEHOLDER.sub(lambda match: "%" if match.group() == "%%" else WITHHELD, message)


def describe_exception(error: BaseException) -> str:
    """Type and, when it cannot quote data, message: 'OSError: [Errno 13] Permission denied'."""
    kind = f"{type(error).__module__}.{type(error).__qualname__}".removeprefix("builtins.")
    if isinstance(error, DBAPIError):
        return f"{kind} ({database_error_code(error)})"
    if isinstance(error, _SAFE_MESSAGE_TYPES) or is_own_logger(type(error).__module__):
        text = str(error)
        return f"{kind}: {text}" if text else kind
    return f"{kind}: {WITHHELD}" if str(error) else kind


def database_error_code(error: DBAPIError) -> str:
    """The driver's error name or SQLSTATE (SQLITE_READONLY, 23505, …), never its text,
    which for PostgreSQL quotes the offending values."""
    original: Any = error.orig
    for attribute in ("sqlite_errorname", "sqlstate", "pgcode"):
        value = getattr(original, attribute, None)
        if value:
            return str(value)
    cause: Any = getattr(original, "__cause__", None)
    for attribute in ("sqlstate", "sqlite_errorname"):
        value = getattr(cause, attribute, None)
        if value:
            return str(value)
    return type(original).__name__


def safe_traceback(error: BaseException) -> str:
    """The traceback as Python prints it, each exception described by describe_exception."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "direct cause"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "context"
        else:
            current = None
    parts: list[str] = []
    for index, (exc, _link) in enumerate(reversed(chain)):
        if index:
            # The link printed is the one from the later exception to this earlier one.
            later_link = chain[len(chain) - index][1]
            parts.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
                if later_link == "direct cause"
                else "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        if exc.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(exc.__traceback__))
        parts.append(describe_exception(exc) + "\n")
    return "".join(parts).rstrip("\n")
