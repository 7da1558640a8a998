"""Hostile names are refused before any SQL; values travel as bind parameters."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest

from db_init import engine, ledger, scripts
from db_init.db import quote_identifier
from db_init.deadline import Deadline
from db_init.errors import AuthenticationError, SettingsError
from db_init.settings import ApplyOptions, ConnectionSettings, database_name, parse_database_url
from tests.faults.relay import Relay
from tests.postgres import REPO, query, session

EXIT_USAGE = 2
HOSTILE_NAMES = [
    'x"; DROP TABLE tenants; --',
    "x'; DROP TABLE tenants; --",
    "shoppulse; DROP DATABASE postgres",
    'a"b',
    "a'b",
    "tenants--",
    "shöppulse",
    "ｓｈｏｐｐｕｌｓｅ",  # noqa: RUF001 - full-width look-alikes
    "shop\u202epulse",  # right-to-left override
    "shop\x00pulse",
    "Shoppulse",  # upper case would need quoting to keep its meaning
    "1shoppulse",
    "shop pulse",
    "x" * 64,
    "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_database_names_are_refused_by_settings(
    name: str, admin: ConnectionSettings
) -> None:
    # GIVEN a hostile database name / WHEN it reaches settings / THEN it is refused
    with pytest.raises(SettingsError):
        database_name(name)
    with pytest.raises(SettingsError):
        admin.with_database(name)
    if name:  # an empty URL path means the default database, shoppulse
        with pytest.raises(SettingsError):
            parse_database_url(f"postgresql://app:pw@127.0.0.1/{quote(name)}?sslmode=disable")


@pytest.mark.parametrize("name", HOSTILE_NAMES[:3])
def test_hostile_database_name_on_the_cli_is_refused_before_connecting(
    name: str, admin: ConnectionSettings, sql_dir: Path
) -> None:
    # GIVEN a server endpoint that counts connections
    with Relay(admin.port) as counter:
        url = f"postgresql://{admin.user}:{admin.password}@127.0.0.1:{counter.port}/postgres"
        # WHEN the CLI is given a hostile --database
        result = subprocess.run(
            [sys.executable, "-m", "db_init", "apply", "--database", name, "--sql-dir", sql_dir],
            env=os.environ
            | {"DATABASE_URL": url + "?sslmode=disable", "PYTHONPATH": str(REPO / "lambda")},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    # THEN it exits with "usage" and never opened a connection
    assert result.returncode == EXIT_USAGE
    assert "SettingsError" in result.stderr
    assert counter.accepted == 0


def test_quoting_keeps_a_hostile_identifier_one_identifier(admin: ConnectionSettings) -> None:
    # GIVEN validation bypassed: a hostile name quoted by the one quoting function
    hostile = 'x"; DROP DATABASE postgres; --'
    # WHEN it is used in DDL
    query(admin, f"CREATE DATABASE {quote_identifier(hostile)}")
    try:
        # THEN it named exactly one database, verbatim, and nothing else ran
        assert query(admin, "SELECT datname FROM pg_database WHERE datname = :n", n=hostile) == [
            (hostile,)
        ]
        assert query(admin, "SELECT count(*) FROM pg_database WHERE datname = 'postgres'") == [(1,)]
    finally:
        query(admin, f"DROP DATABASE {quote_identifier(hostile)}")


def test_history_values_travel_as_bind_parameters(
    applied_target: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN a script whose recorded name and description are SQL text
    hostile = "x'); DROP TABLE tenants; --"
    path = tmp_path / "V009__probe.sql"
    path.write_text("SELECT 1;\n")
    script = replace(
        scripts.parse(path, scripts.Kind.MIGRATION, 9, hostile),
        path=tmp_path / f"{hostile}.sql",
    )
    # WHEN the ledger records it
    with closing(session(applied_target)) as db, db.transaction():
        ledger.record(db, ledger.Applied(script, 1))
    # THEN the values are stored verbatim and tenants is still there
    assert query(
        applied_target,
        "SELECT description, script FROM shoppulse_meta.schema_history WHERE version = 9",
    ) == [(hostile, f"{hostile}.sql")]
    assert query(applied_target, "SELECT count(*) FROM tenants") == [(3,)]


def test_hostile_user_name_is_only_a_failed_login(
    applied_target: ConnectionSettings, options: ApplyOptions
) -> None:
    # GIVEN a user name that is SQL text (it travels in the startup packet, never in SQL)
    hostile = applied_target.with_credentials("postgres'; DROP TABLE tenants; --", "pw")
    # WHEN it is used / THEN it is just a failed login, and tenants is still there
    with pytest.raises(AuthenticationError):
        engine.apply(hostile, replace(options, connect_budget_s=0.5), Deadline.after(10))
    assert query(applied_target, "SELECT count(*) FROM tenants") == [(3,)]


@pytest.fixture
def applied_target(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> ConnectionSettings:
    """A database with the schema and seeds applied."""
    engine.apply(target, options, deadline)
    return target
