"""A throwaway PostgreSQL server for the test run: initdb, pg_ctl start, and stop at the end."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_bindir() -> Path:
    """Where initdb and pg_ctl live: $TWITCHCHECK_PG_BINDIR, pg_config, or Debian's folder."""
    configured = os.environ.get("TWITCHCHECK_PG_BINDIR")
    candidates: list[str] = [configured] if configured else []
    if shutil.which("pg_config"):
        output = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        )
        candidates.append(output.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable("initdb not found; run scripts/ensure-postgres.sh")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; `url(database)` gives an asyncpg SQLAlchemy URL."""

    root: Path
    port: int
    bindir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        _run_as_postgres(
            [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"]
        )
        shutil.rmtree(self.root, ignore_errors=True)


def _run_as_postgres(command: list[str]) -> None:
    """initdb refuses to run as root, so root runs the server as the postgres user."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, text=True)


def start_server() -> PostgresServer:
    """initdb into a temporary folder and start a server on a free loopback port."""
    bindir = server_bindir()
    root = Path(tempfile.mkdtemp(prefix="twitchcheck-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    root.chmod(0o755)
    data = root / "data"
    _run_as_postgres(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
    )
    port = _free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _run_as_postgres(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "start",
        ]
    )
    return PostgresServer(root=root, port=port, bindir=bindir)
