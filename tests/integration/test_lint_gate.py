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
from tests.postgres import (
    MIGRATIONS,
    RELEASED,
    REPO,
    SEEDS,
    add_migration,
    database_url,
    query,
    snapshot,
)

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
        "LintError: migrations/V902__backfill.sql:2:1 update-without-where UPDATE orders:"
    )
    assert "-- allow: update-without-where reason:" in line
    assert raised.value.outcome.value == "refused"
    assert snapshot(pg_server, target) == before


def test_refusal_happens_on_a_dry_run_and_on_a_fresh_database_too(
    admin: ConnectionSettings, target: ConnectionSettings, sql_dir: Path, deadline: Deadline
) -> None:
    # GIVEN an empty database and a migration set whose V902 carries a marker naming no rule
    query(admin, f"CREATE DATABASE {target.database}")
    add_migration(sql_dir, "V902__typo.sql", f"-- allow: drop-colum reason: typo\n{BACKFILL}")

    with pytest.raises(LintError, match=r"V902__typo\.sql:1:1 unknown-rule .*did you mean"):
        engine.apply(target, ApplyOptions(sql_dir=sql_dir, dry_run=True), deadline)
    with pytest.raises(LintError, match=r"V902__typo\.sql:1:1 unknown-rule"):
        engine.apply(target, ApplyOptions(sql_dir=sql_dir, connect_budget_s=5), deadline)

    assert query(
        target, "SELECT to_regclass('tenants'), to_regclass('shoppulse_meta.schema_history')"
    ) == [(None, None)]


# An existing history whose later migrations index, constrain and rename what earlier ones create.
JOBS = "CREATE TABLE jobs (id bigint PRIMARY KEY, queue text, state text);\n"
ON_JOBS = (
    "CREATE INDEX jobs_queue ON jobs (queue);\n"
    "ALTER TABLE jobs ADD COLUMN run_at timestamptz NOT NULL;\n"
    "ALTER TABLE jobs RENAME COLUMN state TO status;\n"
)


def test_first_deploy_is_not_refused_for_changes_to_tables_created_in_the_same_run(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    # GIVEN an empty database and V901 creating a table that V902 indexes and alters
    add_migration(sql_dir, "V901__jobs.sql", JOBS)
    add_migration(sql_dir, "V902__jobs_index.sql", ON_JOBS)
    # WHEN everything is applied in one run THEN nothing is refused: the table is brand new
    result = engine.apply(target, options, deadline)
    assert result.applied_versions == [*MIGRATIONS, "V901", "V902", *SEEDS]
    assert query(target, "SELECT to_regclass('jobs_queue')::text") == [("jobs_queue",)]


def test_the_same_change_is_refused_once_the_table_was_applied_earlier(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    # GIVEN V901 applied (its table may hold rows) and V902 pending
    add_migration(sql_dir, "V901__jobs.sql", JOBS)
    engine.apply(target, options, deadline)
    before = snapshot(pg_server, target)
    add_migration(sql_dir, "V902__jobs_index.sql", ON_JOBS)
    # WHEN applied THEN refused on the index, and nothing changed
    with pytest.raises(LintError, match=r"V902__jobs_index\.sql:1:1 create-index .*\(\+2 more"):
        engine.apply(target, options, deadline)
    assert snapshot(pg_server, target) == before


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
    assert found.stdout.startswith(f"{bad}:1:1 update-without-where UPDATE orders: ")
    assert " -> add a WHERE clause" in found.stdout
    body = json.loads(as_json.stdout)
    assert as_json.returncode == 3 and body["ok"] is False
    assert [(f["rule"], f["line"]) for f in body["findings"]] == [("update-without-where", 1)]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "db_init", "lint", *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "lambda"), "PATH": "/usr/bin:/bin"},
        cwd=cwd,
        check=False,
    )


def test_cli_lint_against_a_database_treats_pending_tables_as_new_and_says_so(
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
    tmp_path: Path,
) -> None:
    # GIVEN V901 creating a table and V902 indexing it, against an empty database
    add_migration(sql_dir, "V901__jobs.sql", JOBS)
    add_migration(sql_dir, "V902__jobs_index.sql", ON_JOBS)
    url = database_url(target)

    without = _cli("--sql-dir", str(sql_dir))
    fresh = _cli("--sql-dir", str(sql_dir), "--against", url, "--format", "json")
    # and once V901 alone has been applied, with V902 still to come
    second = (sql_dir / "migrations" / "V902__jobs_index.sql").rename(tmp_path / "V902.sql")
    engine.apply(target, options, deadline)
    second.rename(sql_dir / "migrations" / "V902__jobs_index.sql")
    later = _cli("--sql-dir", str(sql_dir), "--against", url)

    # THEN without a database V902 is flagged, and the output says what was assumed
    assert without.returncode == 3
    assert "V902__jobs_index.sql:1:1 create-index" in without.stdout
    assert "no database given" in without.stderr
    # against the empty database everything is pending: clean
    body = json.loads(fresh.stdout)
    assert (fresh.returncode, body["ok"], body["findings"]) == (0, True, [])
    assert "V902__jobs_index.sql" in body["context"]["pending"]
    # once V901 is applied, V902 alone is pending and reported, applied files are not
    assert later.returncode == 3
    assert {line.split(":")[0] for line in later.stdout.splitlines()} == {
        str(sql_dir / "migrations" / "V902__jobs_index.sql")
    }
    assert "1 pending migration(s)" in later.stderr


def test_cli_lint_reads_pyproject_and_writes_github_annotations(
    sql_dir: Path, tmp_path: Path
) -> None:
    # GIVEN a project whose pyproject switches one rule off and names the paths to lint
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[tool.shoppulse-db.lint]\npg-version = 10\ndisable = ['add-column-json']\n"
        f"paths = ['{sql_dir / 'migrations'}']\n"
    )
    add_migration(
        sql_dir,
        "V902__channel.sql",
        "ALTER TABLE orders ADD COLUMN extra json;\n"
        "ALTER TABLE orders ADD COLUMN channel text DEFAULT 'web';\n",
    )

    found = _cli("--sql-dir", str(sql_dir), "--format", "github", cwd=project)
    sarif = _cli("--sql-dir", str(sql_dir), "--format", "sarif", "--pg-version", "16", cwd=project)

    # THEN only the PostgreSQL 10 verdict on the default is reported, as a workflow command
    errors = [line for line in found.stdout.splitlines() if line.startswith("::error")]
    assert found.returncode == 3
    assert len(errors) == 1
    assert errors[0].startswith(
        f"::error file={sql_dir / 'migrations' / 'V902__channel.sql'},line=2,col=1,"
        "title=add-column-volatile-default::"
    )
    assert "PostgreSQL 10" in found.stderr
    # and --pg-version 16 overrides it: the constant default is free there
    assert sarif.returncode == 0
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    assert all("suppressions" in r for r in results)  # only the released, allowed findings


def test_cli_lint_reports_a_bad_pyproject_as_a_usage_error(sql_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.shoppulse-db.lint]\ndisable = ['truncat']\n")

    result = _cli("--sql-dir", str(sql_dir), cwd=tmp_path)

    assert result.returncode == 2
    assert "did you mean 'truncate'?" in result.stderr
