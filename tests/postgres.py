"""A real PostgreSQL for the tests: the server, fresh databases, and exact state snapshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from db_init import scripts
from db_init.db import Session, connect_once, quote_identifier
from db_init.embedded import LocalServer
from db_init.settings import ConnectionSettings

REPO = Path(__file__).resolve().parents[1]
SQL_DIR = REPO / "sql"
# What the repository ships, so tests need no edit when a migration is added.
RELEASED = scripts.load(SQL_DIR)
MIGRATIONS = [m.label for m in RELEASED.migrations]  # V001, V002, ...
SEEDS = [s.label for s in RELEASED.seeds]  # S001, S002
LATEST = RELEASED.migrations[-1].version


def session(settings: ConnectionSettings) -> Session:
    """A plain session (no retry) to inspect or disturb the database under test."""
    return connect_once(settings, operation_timeout_s=60)


def query(settings: ConnectionSettings, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run one statement in its own connection and return the rows."""
    with closing(session(settings)) as s:
        return s.query(sql, **params)


def database_url(settings: ConnectionSettings) -> str:
    """The test server as a DATABASE_URL (plaintext: the test server is on loopback)."""
    return (
        f"postgresql://{settings.user}:{settings.password}@{settings.host}:{settings.port}/"
        f"{settings.database}?sslmode=disable"
    )


def new_database_name() -> str:
    """A unique database name for one test."""
    return f"t_{uuid.uuid4().hex[:12]}"


def drop_database(admin: ConnectionSettings, name: str) -> None:
    """Drop a test database, disconnecting whoever is still in it."""
    query(admin, f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)")


def snapshot(server: LocalServer, settings: ConnectionSettings) -> str:
    """Everything in the database (schema, history, rows) as pg_dump text, for exact comparison."""
    result = subprocess.run(
        [
            str(server.bin_dir / "pg_dump"),
            "--no-owner",
            "--no-privileges",
            "-h", settings.host,
            "-p", str(settings.port),
            "-U", settings.user,
            settings.database,
        ],
        env=os.environ | {"PGPASSWORD": settings.password},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0 and "does not exist" in result.stderr:
        return "<no database>"
    result.check_returncode()
    # pg_dump 17+ prints a random \restrict key per run; it is not database state.
    lines = [
        ln for ln in result.stdout.splitlines() if not ln.startswith(("\\restrict", "\\unrestrict"))
    ]
    return "\n".join(lines)


def copy_sql_tree(destination: Path) -> Path:
    """A private copy of the repository's sql/ that a test may change."""
    shutil.copytree(SQL_DIR, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def add_migration(sql_dir: Path, name: str, body: str) -> Path:
    """Write sql_dir/migrations/<name> and return its path."""
    path = sql_dir / "migrations" / name
    path.write_text(body)
    return path
