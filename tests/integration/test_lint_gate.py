"""The engine's lint gate: unallowed findings refuse before any change; allowed ones are recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from db_init import engine, lint
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import LintError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.postgres import MIGRATIONS, RELEASED, REPO, SEEDS, add_migration, query, snapshot

BACKFILL = "UPDATE orders SET net_revenue = gross_revenue - discount_amount;\n"
MARKER = (
    "-- allow: update-without-where reason: backfill of a derived column, all rows on purpose\n"
)


def _allowed(target: ConnectionSettings, version: int) -> object:
    rows = query(
        target,
        "SELECT allowed FROM shoppulse_meta.schema_history "
        "WHERE kind = 'migration' AND version = :v",
        v=version,
    )
    return rows[0][0]


def test_unallowed_finding_in_a_pending_migration_refuses_before_any_change(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    before = snapshot(pg_server, target)
    add_migration(sql_dir, "V902__backfill.sql", "SELECT 1;\n" + BACKFILL)

    with pytest.raises(LintError) as raised:
        engine.apply(target, options, deadline)

    line = raised.value.one_line()
    assert line.startswith(
        "LintError: migrations/V902__backfill.sql:2 update-without-where UPDATE orders:"
    )
    assert "-- allow: update-without-where reason:" in line
    assert raised.value.outcome.value == "refused"
    assert snapshot(pg_server, target) == before


def test_refusal_happens_on_a_dry_run_and_on_a_fresh_database_too(
    admin: ConnectionSettings, target: ConnectionSettings, sql_dir: Path, deadline: Deadline
) -> None:
    # GIVEN an empty database and a migration set whose V902 drops a table V001 created
    query(admin, f"CREATE DATABASE {target.database}")
    add_migration(sql_dir, "V902__drop.sql", "DROP TABLE orders CASCADE;\n")

    with pytest.raises(LintError, match=r"V902__drop\.sql:1 drop-table"):
        engine.apply(target, ApplyOptions(sql_dir=sql_dir, dry_run=True), deadline)
    with pytest.raises(LintError, match=r"V902__drop\.sql:1 drop-table"):
        engine.apply(target, ApplyOptions(sql_dir=sql_dir, connect_budget_s=5), deadline)

    assert query(
        target, "SELECT to_regclass('tenants'), to_regclass('shoppulse_meta.schema_history')"
    ) == [(None, None)]


def test_allowed_finding_applies_and_the_marker_is_recorded_in_the_history(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    engine.apply(target, options, deadline)
    add_migration(sql_dir, "V902__backfill.sql", MARKER + BACKFILL)

    result = engine.apply(target, options, deadline)

    assert result.applied_versions == ["V902"]
    assert _allowed(target, 902) == [
        {
            "rule": "update-without-where",
            "reason": "backfill of a derived column, all rows on purpose",
            "line": 1,
        }
    ]
    assert _allowed(target, 1) is None  # V001 carries no marker


def test_history_from_before_the_allowed_column_is_upgraded_in_the_same_transaction(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    # GIVEN a ledger created before the allowed/baseline columns existed
    engine.apply(target, options, deadline)
    query(
        target,
        "ALTER TABLE shoppulse_meta.schema_history DROP COLUMN allowed, DROP COLUMN baseline",
    )
    add_migration(sql_dir, "V902__backfill.sql", MARKER + BACKFILL)

    engine.apply(target, options, deadline)

    assert _allowed(target, 902) == [
        {
            "rule": "update-without-where",
            "reason": "backfill of a derived column, all rows on purpose",
            "line": 1,
        }
    ]
    assert query(
        target,
        "SELECT version, baseline FROM shoppulse_meta.schema_history "
        "WHERE kind = 'migration' ORDER BY version",
    ) == [(m.version, False) for m in RELEASED.migrations] + [(902, False)]


def test_without_pglast_the_engine_applies_and_still_records_markers(
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Lambda has no pglast: it trusts the synth-time lint over the same bytes."""
    monkeypatch.setattr(lint, "available", lambda: False)
    add_migration(sql_dir, "V902__backfill.sql", MARKER + BACKFILL)

    result = engine.apply(target, options, deadline)

    assert result.applied_versions == [*MIGRATIONS, "V902", *SEEDS]
    assert isinstance(_allowed(target, 902), list)


def test_package_imports_and_lints_nothing_without_pglast() -> None:
    # GIVEN pglast cannot be imported (as in the Lambda bundle)
    code = (
        "import sys; sys.modules['pglast'] = None\n"
        "import db_init.engine, db_init.drift, db_init.baseline, db_init.lint\n"
        "assert not db_init.lint.available()\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "lambda"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_cli_lint_exit_codes_and_json(sql_dir: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "db_init", "lint", *args],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(REPO / "lambda"), "PATH": "/usr/bin:/bin"},
            check=False,
        )

    clean = cli("--sql-dir", str(sql_dir))
    assert clean.returncode == 0  # the released migrations' findings all carry allow markers
    assert all(" allowed: " in line for line in clean.stdout.splitlines())
    bad = add_migration(sql_dir, "V902__backfill.sql", BACKFILL)

    found = cli("--sql-dir", str(sql_dir))
    as_json = cli("--json", str(bad))

    assert found.returncode == 3
    assert found.stdout.startswith(f"{bad}:1 update-without-where UPDATE orders: ")
    assert " -> add a WHERE clause" in found.stdout
    body = json.loads(as_json.stdout)
    assert as_json.returncode == 3 and body["ok"] is False
    assert [(f["rule"], f["line"]) for f in body["findings"]] == [("update-without-where", 1)]
