"""The Dockerfile and docker-compose.yml say what the README promises: pinned dependencies
installed at build time, a non-root user, exec form, a health-checked database, migrations as
their own step, the bot after both with a readiness check. Docker cannot run here, so the
files are checked as data (and by `docker compose config` where the CLI has compose)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def dockerfile_lines() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_image_installs_pinned_dependencies_at_build_time_and_runs_as_non_root() -> None:
    lines = dockerfile_lines()
    assert lines[0].startswith("FROM python:3.11-slim")
    run = next(line for line in lines if line.startswith("RUN pip install"))
    assert "-c constraints.txt ." in run
    # Every package pyproject installs is copied in, and every runtime dependency is pinned.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    copied = {line.split()[1] for line in lines if line.startswith("COPY")}
    assert set(packages) <= copied
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for requirement in project["project"]["dependencies"]:
        name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} has no pinned version in constraints.txt"
    user = next(line for line in lines if line.startswith("USER"))
    assert user.split()[1] not in {"root", "0"}
    assert (
        next(line for line in lines if line.startswith("ENTRYPOINT"))
        == 'ENTRYPOINT ["twitchcheck"]'
    )
    assert next(line for line in lines if line.startswith("CMD")) == 'CMD ["run"]'


def test_compose_runs_a_healthy_database_then_migrations_once_then_the_bot() -> None:
    services = compose()["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    bot = services["bot"]
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(bot["healthcheck"]["test"])
    assert bot["environment"]["HTTP_HOST"] == "0.0.0.0"
    # A missing .env must not stop the database: the bot explains the missing token itself.
    assert bot["env_file"] == [{"path": ".env", "required": False}]
    # Nothing is mounted from the checkout, so nothing is written into it.
    for service in services.values():
        for volume in service.get("volumes", []):
            assert not str(volume).startswith((".", "/")), volume
    url = bot["environment"]["DATABASE_URL"]
    assert url == migrate["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://") and "@db:5432/" in url


def _compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no docker compose CLI on this machine")
    result = subprocess.run(
        [*cli, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
