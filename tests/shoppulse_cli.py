"""Run the installed `shoppulse-db` as a user would: its own process, in a project directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from db_init.settings import ConnectionSettings
from tests.postgres import copy_sql_tree, database_url

# the console script pip installed next to the interpreter running the tests (.venv/bin)
EXECUTABLE = Path(sys.executable).parent / "shoppulse-db"


def user_env(**extra: str) -> dict[str, str]:
    """A plain user environment: no DATABASE_URL, no AWS settings, a private HOME."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    return keep | {"HOME": extra.pop("HOME", "/nonexistent")} | extra


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`shoppulse-db ARGS` in `cwd`; returns the finished process (never raises on exit code)."""
    return subprocess.run(
        [str(EXECUTABLE), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env if env is not None else user_env(),
        timeout=timeout,
        check=False,
    )


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`shoppulse-db ARGS` started in the background (stderr line-buffered for progress)."""
    return subprocess.Popen(
        [str(EXECUTABLE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        cwd=cwd,
        env=env if env is not None else user_env(),
    )


def make_project(directory: Path) -> Path:
    """A project directory: a copy of the repository's sql/ and nothing else."""
    directory.mkdir(parents=True, exist_ok=True)
    copy_sql_tree(directory / "sql")
    return directory


def url_env(settings: ConnectionSettings) -> dict[str, str]:
    """The user environment with DATABASE_URL pointing at `settings`."""
    return user_env(DATABASE_URL=database_url(settings))


def last_line(text: str) -> str:
    """The last non-empty line (where the one-line error is)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
