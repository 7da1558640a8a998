"""The engine against a real PostgreSQL: apply, no-op, new migrations, refusals, rollbacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import (
    ChecksumMismatchError,
    MigrationFailedError,
    MissingMigrationError,
    VerificationFailedError,
)
from db_init.settings import ApplyOptions, ConnectionSettings
from tests import postgres
from tests.postgres import (
    LATEST,
    MIGRATIONS,
    RELEASED,
    SEEDS,
    add_migration,
    database_url,
    query,
    snapshot,
)

ADD_CHANNEL = """ALTER TABLE orders ADD COLUMN sales_channel varchar(20);
-- allow: create-index reason: orders holds test rows only; the build takes milliseconds
CREATE INDEX idx_orders_sales_channel ON orders (sales_channel);
"""


def _declare_sales_channel(sql_dir: Path) -> None:
    path = sql_dir / "expected_schema.toml"
    text = path.read_text()
    text = text.replace(
        "[tables.orders.columns]\n",
        '[tables.orders.columns]\nsales_channel = "character varying(20)"\n',
    )
    text = text.replace(
        'indexes = ["idx_orders_order_date"',
        'indexes = ["idx_orders_order_date", "idx_orders_sales_channel"',
    )
    path.write_text(text)


def _history(target: ConnectionSettings) -> list[tuple[str, int]]:
    return [
        (kind, version)
        for kind, version in query(
            target, "SELECT kind, version FROM shoppulse_meta.schema_history ORDER BY kind, version"
        )
    ]


def test_fresh_apply_creates_database_schema_seeds_and_history(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    result = engine.apply(target, options, deadline)

    assert result.applied_versions == MIGRATIONS + SEEDS
    assert (result.schema_version, result.table_count, result.trigger_count) == (LATEST, 8, 7)
    assert result.undeclared == ()
    assert _history(target) == [("migration", m.version) for m in RELEASED.migrations] + [
        ("seed", 1),
        ("seed", 2),
    ]
    assert query(target, "SELECT tenant_id FROM tenants ORDER BY 1") == [
        ("T001",),
        ("T002",),
        ("T003",),
    ]
    roles = query(target, "SELECT DISTINCT tenant_id, role FROM role_metric_visibility")
    assert len(roles) == 12  # four roles for each of three tenants
    applied_by, duration = query(
        target,
        "SELECT applied_by, duration_ms FROM shoppulse_meta.schema_history WHERE version = 1 AND kind = 'migration'",
    )[0]
    assert applied_by == target.user and duration >= 0


def test_second_apply_is_a_verified_no_op(
    pg_server: LocalServer, target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    engine.apply(target, options, deadline)
    before = snapshot(pg_server, target)

    again = engine.apply(target, options, deadline)

    assert again.applied == ()
    assert again.recorded == tuple(MIGRATIONS + SEEDS)
    assert (again.table_count, again.trigger_count) == (8, 7)
    assert snapshot(pg_server, target) == before


def test_seeds_twice_change_nothing_even_when_forced_to_rerun(
    pg_server: LocalServer, target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    engine.apply(target, options, deadline)
    rows_before = snapshot(pg_server, target).split("COPY shoppulse_meta")[0]
    # Forget the seeds so the engine runs them again over the existing rows.
    query(target, "DELETE FROM shoppulse_meta.schema_history WHERE kind = 'seed'")

    result = engine.apply(target, options, deadline)

    assert result.applied_versions == ["S001", "S002"]
    assert snapshot(pg_server, target).split("COPY shoppulse_meta")[0] == rows_before


def test_new_migration_on_top_applies_only_itself(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    engine.apply(target, options, deadline)
    add_migration(sql_dir, "V902__orders_sales_channel.sql", ADD_CHANNEL)
    _declare_sales_channel(sql_dir)

    result = engine.apply(target, options, deadline)

    assert result.applied_versions == ["V902"]
    assert result.schema_version == 902
    assert query(
        target,
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'sales_channel'",
    ) == [(1,)]


def test_changed_applied_migration_is_refused_and_nothing_changes(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    before = snapshot(pg_server, target)
    first = sql_dir / "migrations" / "V001__initial_schema.sql"
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")

    with pytest.raises(
        ChecksumMismatchError, match=r"migrations/V001__initial_schema\.sql changed"
    ):
        engine.apply(target, options, deadline)

    assert snapshot(pg_server, target) == before


def test_missing_applied_migration_is_refused(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    add_migration(sql_dir, "V902__orders_sales_channel.sql", ADD_CHANNEL)
    _declare_sales_channel(sql_dir)
    engine.apply(target, options, deadline)
    before = snapshot(pg_server, target)
    # A gap: V902 gone from below the newest file (were V902 the newest, it would be "future").
    add_migration(sql_dir, "V903__later.sql", "SELECT 1;\n")
    (sql_dir / "migrations" / "V902__orders_sales_channel.sql").unlink()

    with pytest.raises(MissingMigrationError, match=r"V902__orders_sales_channel\.sql was applied"):
        engine.apply(target, options, deadline)

    assert snapshot(pg_server, target) == before


def test_broken_migration_names_file_line_and_sqlstate_and_leaves_everything_as_it_was(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    before = snapshot(pg_server, target)
    add_migration(
        sql_dir,
        "V902__good_then_bad.sql",
        ADD_CHANNEL + "\nALTER TABLE orders\n  ADD COLUMN broken intgr;\n",
    )
    _declare_sales_channel(sql_dir)

    with pytest.raises(MigrationFailedError) as raised:
        engine.apply(target, options, deadline)

    line = raised.value.one_line()
    assert line.startswith("MigrationFailedError [42704]: migrations/V902__good_then_bad.sql:6:")
    assert 'type "intgr" does not exist' in line
    assert "\n" not in line
    assert snapshot(pg_server, target) == before  # the good first statements were rolled back too


def test_syntax_error_points_at_the_line_within_a_multi_line_statement(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    add_migration(
        sql_dir,
        "V902__typo.sql",
        "SELECT 1;\n\nCREATE TABLE t (\n  a int,\n  b int,,\n  c int\n);\n",
    )

    with pytest.raises(MigrationFailedError) as raised:
        engine.apply(target, options, deadline)

    assert raised.value.sqlstate == "42601"
    assert "migrations/V902__typo.sql:5:" in str(raised.value)
    # the database was created (outside any transaction) but holds nothing of ours
    assert query(
        target, "SELECT to_regclass('shoppulse_meta.schema_history'), to_regclass('tenants')"
    ) == [(None, None)]


def test_failing_verification_leaves_schema_and_history_as_they_were(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    before = snapshot(pg_server, target)
    add_migration(
        sql_dir,
        "V902__drop_index.sql",
        "-- allow: drop-index reason: dropped so that verification fails\n"
        "DROP INDEX idx_orders_order_date;\n",
    )

    with pytest.raises(
        VerificationFailedError, match=r"missing index orders\.idx_orders_order_date"
    ):
        engine.apply(target, options, deadline)

    assert snapshot(pg_server, target) == before


def test_failing_verification_on_first_create_leaves_an_empty_database(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    expected = sql_dir / "expected_schema.toml"
    expected.write_text(
        expected.read_text().replace('"set_updated_at"', '"set_updated_at", "not_created"')
    )

    with pytest.raises(VerificationFailedError, match=r"missing function not_created\(\)"):
        engine.apply(target, options, deadline)

    assert query(
        target, "SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'shoppulse_meta')"
    ) == [(0,)]


def test_dry_run_rehearses_and_rolls_back(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    before = snapshot(pg_server, target)
    add_migration(sql_dir, "V902__orders_sales_channel.sql", ADD_CHANNEL)
    _declare_sales_channel(sql_dir)
    rehearsal = ApplyOptions(sql_dir=sql_dir, apply_seeds=True, dry_run=True)

    result = engine.apply(target, rehearsal, deadline)

    assert result.applied_versions == ["V902"] and result.dry_run
    assert result.pending == ("V902__orders_sales_channel.sql",)
    assert snapshot(pg_server, target) == before


def test_non_transactional_migration_runs_alone_and_is_recorded(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    engine.apply(target, options, deadline)
    add_migration(
        sql_dir,
        "V902__orders_sales_channel.sql",
        "ALTER TABLE orders ADD COLUMN sales_channel varchar(20);",
    )
    add_migration(
        sql_dir,
        "V903__index_sales_channel.sql",
        "-- shoppulse:non-transactional\nCREATE INDEX CONCURRENTLY idx_orders_sales_channel ON orders (sales_channel);\n",
    )
    _declare_sales_channel(sql_dir)

    result = engine.apply(target, options, deadline)

    assert result.applied_versions == ["V902", "V903"]
    assert query(
        target,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_orders_sales_channel'::regclass",
    ) == [(True,)]


def test_plan_and_status_change_nothing(
    admin: ConnectionSettings, target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    assert [s.label for s in engine.plan(target, options, deadline)] == MIGRATIONS + SEEDS
    assert (target.database,) not in query(admin, "SELECT datname FROM pg_database")
    engine.apply(target, options, deadline)
    assert engine.plan(target, options, deadline) == []
    states = {(r.script, r.state) for r in engine.status(target, options, deadline)}
    assert states == {(s.name, "applied") for s in RELEASED.migrations + RELEASED.seeds}


def test_declared_expectations_match_the_catalog_exactly(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    """sql/expected_schema.toml must list every object the migrations create, and no other."""
    result = engine.apply(target, options, deadline)
    assert result.undeclared == ()
    assert engine.check(target, options, deadline).undeclared == ()


def test_two_appliers_at_once_one_applies_the_other_finds_nothing(
    target: ConnectionSettings, sql_dir: Path
) -> None:
    url = database_url(target)
    # Slow the migration down so the two runs really overlap on the lock.
    add_migration(sql_dir, "V902__slow.sql", "SELECT pg_sleep(1.5);\n")
    command = [
        sys.executable,
        "-m",
        "db_init",
        "apply",
        "--seeds",
        "--json",
        "-q",
        "--sql-dir",
        str(sql_dir),
        "--database-url",
        url,
    ]
    env = {"PYTHONPATH": str(postgres.REPO / "lambda"), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    applied = sorted(len(json.loads(out)["result"]["applied"]) for out, _ in outputs)
    assert applied == [0, len(MIGRATIONS + SEEDS) + 1]
    assert _history(target) == [("migration", m.version) for m in RELEASED.migrations] + [
        ("migration", 902),
        ("seed", 1),
        ("seed", 2),
    ]
