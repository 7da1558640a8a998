"""Baseline: adopting a database the original shell script built, only when it really matches."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from db_init import baseline, drift, engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import BaselineRefusedError, HistoryError, SettingsError
from db_init.settings import ApplyOptions, ConnectionSettings, parse_version
from tests.postgres import MIGRATIONS, REPO, SEEDS, add_migration, database_url, query, snapshot


def _shell_script_build(
    server: LocalServer, admin: ConnectionSettings, target: ConnectionSettings, sql_dir: Path
) -> None:
    """What the original set-up script did: psql -1 -f over the schema and seeds, no ledger."""
    query(admin, f"CREATE DATABASE {target.database}")
    files = [
        sql_dir / "migrations" / "V001__initial_schema.sql",
        *sorted((sql_dir / "seeds").glob("*.sql")),
    ]
    subprocess.run(
        [
            str(server.bin_dir / "psql"),
            "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1",
            "-h", target.host, "-p", str(target.port), "-U", target.user, "-d", target.database,
            *[arg for path in files for arg in ("-f", str(path))],
        ],
        env=os.environ | {"PGPASSWORD": target.password},
        check=True,
        capture_output=True,
    )  # fmt: skip


@pytest.fixture
def scripted(
    pg_server: LocalServer, admin: ConnectionSettings, target: ConnectionSettings, sql_dir: Path
) -> ConnectionSettings:
    """The target database as the shell script left it."""
    _shell_script_build(pg_server, admin, target, sql_dir)
    return target


def _history(target: ConnectionSettings) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in query(
            target,
            "SELECT kind, version, checksum, duration_ms, baseline "
            "FROM shoppulse_meta.schema_history ORDER BY kind, version",
        )
    ]


def test_matching_database_is_baselined_and_then_applies_only_what_is_new(
    admin: ConnectionSettings,
    scripted: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    # WHEN the database built by the script is baselined at V001
    result = baseline.adopt(scripted, options, deadline, 1, scratch=drift.existing_server(admin))

    # THEN V001 is recorded as applied (duration 0, marked baseline) and was not re-run
    checksum = hashlib.sha256((sql_dir / "migrations/V001__initial_schema.sql").read_bytes())
    assert result.recorded == ("V001",) and not result.already_recorded
    assert result.object_count > 100
    assert _history(scripted) == [("migration", 1, checksum.hexdigest(), 0, True)]
    # AND a later apply runs only the seeds (idempotent), never the initial schema again
    assert engine.apply(scripted, options, deadline).applied_versions == MIGRATIONS[1:] + SEEDS


def test_baseline_twice_is_a_no_op(
    pg_server: LocalServer,
    admin: ConnectionSettings,
    scripted: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    scratch = drift.existing_server(admin)
    baseline.adopt(scripted, options, deadline, 1, scratch=scratch)
    before = snapshot(pg_server, scripted)

    again = baseline.adopt(scripted, options, deadline, 1, scratch=scratch)

    assert again.already_recorded and again.recorded == ()
    assert snapshot(pg_server, scripted) == before


def test_mismatching_database_is_refused_with_the_differences_and_left_unchanged(
    pg_server: LocalServer,
    admin: ConnectionSettings,
    scripted: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    # GIVEN the script's database was later changed by hand
    query(scripted, "ALTER TABLE users DROP COLUMN last_login_at")
    query(scripted, "CREATE INDEX idx_orders_net_revenue ON orders (net_revenue)")
    before = snapshot(pg_server, scripted)

    with pytest.raises(BaselineRefusedError) as raised:
        baseline.adopt(scripted, options, deadline, 1, scratch=drift.existing_server(admin))

    assert raised.value.differences == [
        "missing column public.users.last_login_at: timestamp with time zone",
        "unexpected index public.orders.idx_orders_net_revenue: CREATE INDEX idx_orders_net_revenue ON "
        "public.orders USING btree (net_revenue)",
    ]
    assert "nothing was recorded" in str(raised.value)
    assert raised.value.outcome.value == "refused"
    assert snapshot(pg_server, scripted) == before  # no history table either


def test_database_with_our_history_is_not_baselined_over(
    admin: ConnectionSettings,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    # GIVEN a database we built (history up to the latest release), and a newer migration V902
    engine.apply(target, options, deadline)
    add_migration(sql_dir, "V902__channel.sql", "ALTER TABLE orders ADD COLUMN channel text;\n")

    assert baseline.adopt(target, options, deadline, 1).already_recorded
    with pytest.raises(HistoryError, match=rf"already records migrations up to {MIGRATIONS[-1]}"):
        baseline.adopt(target, options, deadline, 902, scratch=drift.existing_server(admin))


def test_unknown_version_is_a_usage_error(
    scripted: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    with pytest.raises(SettingsError, match=r"no migration V009"):
        baseline.adopt(scripted, options, deadline, 9)
    with pytest.raises(SettingsError, match=r"must look like V001"):
        parse_version("latest")


def test_cli_baseline_refusal_shows_every_difference_and_exits_3(
    scripted: ConnectionSettings, sql_dir: Path
) -> None:
    query(scripted, "ALTER TABLE users DROP COLUMN last_login_at")
    url = database_url(scripted)

    result = subprocess.run(
        [
            *(sys.executable, "-m", "db_init", "baseline", "--version", "V001"),
            *("--database-url", url, "--sql-dir", str(sql_dir)),
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "lambda"), "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=180,
    )

    assert result.returncode == 3, result.stderr
    assert "  missing column public.users.last_login_at: timestamp with time zone" in result.stderr
    assert "refused: BaselineRefusedError:" in result.stderr
    assert query(scripted, "SELECT to_regclass('shoppulse_meta.schema_history')") == [(None,)]
