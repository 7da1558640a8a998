"""ALTER TYPE ... ADD VALUE: GIVEN a migration adding an enum value and a later one using it,
THEN the run commits after the adding file, says so in the plan, and says exactly what stays
committed when a later file fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import MigrationFailedError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.postgres import REPO, add_migration, database_url, query, snapshot

CREATE_TYPE = "CREATE TYPE delivery_speed AS ENUM ('standard');\n"
ADD_VALUE = "ALTER TYPE delivery_speed ADD VALUE IF NOT EXISTS 'express';\n"
USE_VALUE = (
    "CREATE TABLE delivery_options (name text PRIMARY KEY, speed delivery_speed NOT NULL);\n"
    "INSERT INTO delivery_options VALUES ('next day', 'express');\n"
)


def _history(target: ConnectionSettings) -> list[int]:
    rows = query(
        target,
        "SELECT version FROM shoppulse_meta.schema_history WHERE kind = 'migration' "
        "ORDER BY version",
    )
    return [version for (version,) in rows]


def _add_history(sql_dir: Path, use: str = USE_VALUE) -> None:
    add_migration(sql_dir, "V901__delivery_speed.sql", CREATE_TYPE)
    add_migration(sql_dir, "V902__express_delivery.sql", ADD_VALUE)
    add_migration(sql_dir, "V903__delivery_options.sql", use)


def test_a_later_migration_uses_the_value_added_by_an_earlier_one_in_the_same_run(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    # GIVEN a type applied earlier (in the transaction creating a type its values are usable,
    # so only a type committed before the run shows the problem), then ADD VALUE and a use
    add_migration(sql_dir, "V901__delivery_speed.sql", CREATE_TYPE)
    engine.apply(target, options, deadline)
    add_migration(sql_dir, "V902__express_delivery.sql", ADD_VALUE)
    add_migration(sql_dir, "V903__delivery_options.sql", USE_VALUE)
    # WHEN both are applied in one run
    result = engine.apply(target, options, deadline)
    # THEN both applied (one transaction would fail: 55P04 unsafe use of new value)
    assert result.applied_versions == ["V902", "V903"]
    assert query(target, "SELECT speed::text FROM delivery_options") == [("express",)]


def test_plan_says_where_the_run_commits(target: ConnectionSettings, sql_dir: Path) -> None:
    _add_history(sql_dir)
    env = {
        "PYTHONPATH": str(REPO / "lambda"),
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "DATABASE_URL": database_url(target),
    }
    base = [sys.executable, "-m", "db_init", "plan", "--sql-dir", str(sql_dir)]
    text = subprocess.run(base, capture_output=True, text=True, env=env, check=True).stdout
    (line,) = [ln for ln in text.splitlines() if "V902" in ln]
    suffix = "migrations/V902__express_delivery.sql  (ALTER TYPE ... ADD VALUE: the run commits after this file)"
    assert line.endswith(suffix)
    assert suffix in (REPO / "docs" / "sql.md").read_text()
    data = json.loads(
        subprocess.run(
            [*base, "--json"], capture_output=True, text=True, env=env, check=True
        ).stdout
    )
    assert [s["label"] for s in data["scripts"] if s["commits_after"]] == ["V902"]


def test_failure_after_the_commit_says_what_stays_applied(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    # GIVEN the file after the ADD VALUE fails
    engine.apply(target, options, deadline)
    _add_history(
        sql_dir, use=USE_VALUE + "INSERT INTO delivery_options VALUES ('next day', 'express');\n"
    )
    before = snapshot(pg_server, target)
    # WHEN applied
    with pytest.raises(MigrationFailedError) as failed:
        engine.apply(target, options, deadline)
    # THEN the message names the failure and exactly what was committed before it
    message = str(failed.value)
    assert message == (
        "migrations/V903__delivery_options.sql:3: duplicate key value violates unique constraint "
        '"delivery_options_pkey" (Key (name)=(next day) already exists); fix the file; committed by '
        "this run and kept: V901 V902; not applied: V903"
    )
    assert message in (REPO / "docs" / "sql.md").read_text()
    # AND the database holds V901-V902 (recorded), nothing of V903
    assert snapshot(pg_server, target) != before
    assert _history(target)[-2:] == [901, 902]
    assert query(target, "SELECT to_regclass('delivery_options') IS NULL") == [(True,)]
    # AND a fixed V903 then applies on its own
    add_migration(sql_dir, "V903__delivery_options.sql", USE_VALUE)
    assert engine.apply(target, options, deadline).applied_versions[0] == "V903"


def test_dry_run_rehearses_up_to_the_added_value_and_changes_nothing(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    _add_history(sql_dir)
    before = snapshot(pg_server, target)
    dry = ApplyOptions(sql_dir=sql_dir, apply_seeds=True, connect_budget_s=5, dry_run=True)
    result = engine.apply(target, dry, deadline)
    assert result.applied_versions == ["V901", "V902"]
    assert result.not_rehearsed == ("V903__delivery_options.sql",)
    assert snapshot(pg_server, target) == before


def test_using_the_value_in_the_file_that_adds_it_is_refused_with_the_fix(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    # GIVEN a type committed earlier (in the transaction that creates a type, its values are usable)
    add_migration(sql_dir, "V901__speed.sql", CREATE_TYPE)
    engine.apply(target, options, deadline)
    add_migration(sql_dir, "V902__express.sql", ADD_VALUE + "SELECT 'express'::delivery_speed;\n")
    before = snapshot(pg_server, target)
    with pytest.raises(MigrationFailedError) as failed:
        engine.apply(target, options, deadline)
    assert failed.value.sqlstate == "55P04"
    assert "use it in a later file" in str(failed.value)
    assert snapshot(pg_server, target) == before
