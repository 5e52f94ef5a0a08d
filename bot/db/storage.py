"""The SQLite files on disk: checked before the bot starts and watched while it runs.

SQLite fails badly when its files go wrong underneath it: a read-only `-shm` (the shared
memory index SQLite maps into the process) can end in SIGBUS with nothing logged; a database
folder deleted while the bot runs goes unnoticed (the open connection writes into the
deleted file) and the next start silently begins with an empty database. What can really be
detected is checked here:

- before start: the folder can be created and written, and the database file, `-wal` and
  `-shm` that exist can be opened for writing (`problems_writing`);
- "this deployment had data": a marker file beside the database (`<name>.has-data`),
  written once the schema is in place. When the marker is there but the database is
  missing or has no schema, start is refused instead of creating an empty one;
- while running: the database file still exists and is the same file (device and inode)
  as at start, and stays writable (`StorageWatch.problems`); when it is gone the marker is
  written again, so a restart is refused rather than empty.

Deleting the whole folder while the bot is stopped removes the marker too; that case cannot
be told apart from a first start, so a first start logs loudly that it creates a new database.
PostgreSQL keeps its own files; only its connection is checked (bot.services.health).
"""

from __future__ import annotations

import datetime as dtm
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

MARKER_SUFFIX = ".has-data"
MARKER_TEXT = (
    "twitchcheck wrote this file when it created the database beside it ({name}, {when}).\n"
    "While this file exists, twitchcheck refuses to start on a missing or empty database\n"
    "instead of silently beginning again with no data. Restore the database from a backup,\n"
    "or delete this file if you really want to start with an empty database.\n"
)


class StorageError(Exception):
    """The database location cannot be used; the message is a paragraph for the operator."""


@dataclass(frozen=True)
class SqliteFiles:
    """A SQLite database and the files SQLite keeps beside it."""

    database: Path

    @classmethod
    def from_url(cls, url: str) -> SqliteFiles | None:
        """The files of a file-backed SQLite URL; None for PostgreSQL or :memory:."""
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return None
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return cls(Path(database).absolute())

    @property
    def folder(self) -> Path:
        return self.database.parent

    @property
    def wal(self) -> Path:
        return self.database.with_name(self.database.name + "-wal")

    @property
    def shm(self) -> Path:
        return self.database.with_name(self.database.name + "-shm")

    @property
    def marker(self) -> Path:
        return self.database.with_name(self.database.name + MARKER_SUFFIX)


def ensure_folder(files: SqliteFiles) -> None:
    """Create the database folder, or explain why it cannot be."""
    for parent in [files.folder, *files.folder.parents]:
        if parent.exists() and not parent.is_dir():
            raise StorageError(
                f"The database path {files.database} cannot be used: {parent} is a file, not "
                "a folder. Point DATABASE_URL at a file inside a folder, e.g. "
                "sqlite+aiosqlite:///data/twitchcheck.sqlite3, or move that file away."
            )
    try:
        files.folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(
            f"The database folder {files.folder} cannot be created ({error.strerror}). Create "
            "it yourself with write access for the user running twitchcheck, or point "
            "DATABASE_URL somewhere writable."
        ) from None


def _open_for_writing(path: Path) -> OSError | None:
    """Open an existing file read-write without changing it: the only honest writability test
    (permissions, read-only mounts, immutable files, root or not)."""
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    except OSError as error:
        return error
    os.close(descriptor)
    return None


def problems_writing(files: SqliteFiles) -> list[str]:
    """Why SQLite could not write here: each existing file that cannot be opened read-write,
    and a folder where -wal and -shm cannot be created."""
    problems: list[str] = []
    for path in (files.database, files.wal, files.shm):
        error = _open_for_writing(path)
        if error is not None:
            problems.append(f"{path} cannot be opened for writing ({error.strerror})")
    if files.folder.is_dir() and not os.access(files.folder, os.W_OK | os.X_OK):
        problems.append(
            f"{files.folder} does not let this user create files (SQLite needs -wal and -shm)"
        )
    return problems


def refuse_unwritable(files: SqliteFiles) -> None:
    problems = problems_writing(files)
    if problems:
        raise StorageError(
            "The database cannot be written: "
            + "; ".join(problems)
            + ". SQLite must be able to write the database file and the -wal and -shm files "
            "beside it (a read-only -shm can crash the process). Give the user running "
            "twitchcheck write access to them (for example with chown), or remove a stale "
            "-wal/-shm left by another user once no process has the database open."
        )


def lost_database_message(files: SqliteFiles, what: str) -> str:
    return (
        f"The database {files.database} {what}, but {files.marker.name} beside it says this "
        "deployment had data. twitchcheck will not start again with an empty database. "
        f"Restore the database from a backup; if you really want to begin with no data, "
        f"delete {files.marker} and start again."
    )


def refuse_if_lost(files: SqliteFiles) -> None:
    """Before any connection (connecting creates or initialises the file): refuse a missing
    or zero-byte database that the marker says had data."""
    if not files.marker.exists():
        return
    if not files.database.exists():
        raise StorageError(lost_database_message(files, "is missing"))
    if files.database.stat().st_size == 0:
        raise StorageError(lost_database_message(files, "is empty (0 bytes)"))


def refuse_if_emptied(files: SqliteFiles, revision: str | None) -> None:
    """After reading the schema version: refuse a database without one if the marker says
    it had data (an emptied or replaced file)."""
    if revision is None and files.marker.exists():
        raise StorageError(lost_database_message(files, "has no tables"))


def mark_has_data(files: SqliteFiles) -> None:
    """Leave the marker once the schema exists (also for databases made before markers)."""
    if files.marker.exists():
        return
    when = dtm.datetime.now(dtm.UTC).isoformat(timespec="seconds")
    files.marker.write_text(MARKER_TEXT.format(name=files.database.name, when=when), "utf-8")


@dataclass(frozen=True)
class FileIdentity:
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        return cls(stat.st_dev, stat.st_ino)


class StorageWatch:
    """Whether the database file the bot opened at start is still there and writable."""

    def __init__(self, files: SqliteFiles | None) -> None:
        self.files = files
        self.identity = FileIdentity.of(files.database) if files is not None else None
        self.reported: tuple[str, ...] = ()

    @classmethod
    def for_url(cls, url: str) -> StorageWatch:
        return cls(SqliteFiles.from_url(url))

    def problems(self) -> list[str]:
        """Nothing for PostgreSQL; for SQLite, a missing or replaced file, or one that
        cannot be written."""
        files = self.files
        if files is None:
            return []
        current = FileIdentity.of(files.database)
        if current is None:
            return [
                f"the database file {files.database} is gone (deleted while the bot runs?); "
                "what is written now is lost when the bot stops"
            ]
        if self.identity is not None and current != self.identity:
            return [
                f"the database file {files.database} was replaced while the bot runs; the bot "
                "still writes to the old one"
            ]
        return problems_writing(files)

    def check(self) -> list[str]:
        """problems(), logged once when they appear or change (and when they clear). A lost
        database gets its marker back, so the next start refuses instead of starting empty."""
        problems = self.problems()
        if tuple(problems) != self.reported:
            if problems:
                log.error("database storage problem: %s", "; ".join(problems))
            else:
                log.info("database storage is fine again")
            self.reported = tuple(problems)
        if problems and self.files is not None and not self.files.database.exists():
            self._keep_marker(self.files)
        return problems

    @staticmethod
    def _keep_marker(files: SqliteFiles) -> None:
        try:
            files.folder.mkdir(parents=True, exist_ok=True)
            mark_has_data(files)
        except OSError as error:
            log.error("could not leave %s: %s", files.marker.name, error.strerror)
