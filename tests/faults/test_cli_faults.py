"""The command line under faults: two appliers at once, drifted history, a syntax error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from db_init.embedded import LocalServer
from db_init.settings import ConnectionSettings
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

EXIT_FAILED, EXIT_REFUSED = 1, 3

SYNTAX_ERROR = """-- V902: a new table and its index
CREATE TABLE shipments (
    shipment_id varchar(20) PRIMARY KEY,
    tenant_id varchar(10) NOT NULL REFERENCES tenants (tenant_id)
);

CREATE INDEX idx_shipments_tenant_id
    ON shipments (tenant_id)
    WHERE shipment_id IS NOT NUL;
"""


def start_cli(settings: ConnectionSettings, sql_dir: Path, *args: str) -> subprocess.Popen[str]:
    """`shoppulse-db <args> --json` as its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "db_init", *args, "--json", "--sql-dir", str(sql_dir)],
        env=os.environ
        | {"DATABASE_URL": database_url(settings), "PYTHONPATH": str(REPO / "lambda")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cli(settings: ConnectionSettings, sql_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run the CLI to completion; (exit code, parsed --json document)."""
    process = start_cli(settings, sql_dir, *args)
    out, _ = process.communicate(timeout=60)
    return process.returncode, json.loads(out)


def test_two_cli_processes_at_once_apply_exactly_once(
    pg_server: LocalServer, target: ConnectionSettings, sql_dir: Path
) -> None:
    # GIVEN a fresh database name and a migration slow enough for the two runs to overlap
    add_migration(sql_dir, "V902__slow.sql", "SELECT pg_sleep(0.5);\n")
    # WHEN two shoppulse-db processes apply at the same moment
    processes = [start_cli(target, sql_dir, "apply", "--seeds") for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in processes]
    # THEN both succeed: one applied everything, the other waited and found nothing to do
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    applied = sorted(json.loads(out)["result"]["applied_versions"] for out, _ in outputs)
    assert applied == [[], [*MIGRATIONS, "V902", *SEEDS]]
    history = query(target, "SELECT kind, version FROM shoppulse_meta.schema_history ORDER BY 1, 2")
    assert history == [("migration", m.version) for m in RELEASED.migrations] + [
        ("migration", 902),
        ("seed", 1),
        ("seed", 2),
    ]
    assert query(target, "SELECT count(*) FROM tenants") == [(3,)]


def test_tampered_applied_migration_is_refused_naming_file_and_checksums(
    pg_server: LocalServer, applied: ConnectionSettings, sql_dir: Path
) -> None:
    # GIVEN V001 edited after it was applied
    before = snapshot(pg_server, applied)
    v001 = sql_dir / "migrations" / "V001__initial_schema.sql"
    v001.write_text(v001.read_text() + "\nALTER TABLE tenants ADD COLUMN sneaky int;\n")
    add_migration(sql_dir, "V902__probe.sql", "ALTER TABLE tenants ADD COLUMN probe int;\n")
    # WHEN the CLI applies
    code, report = run_cli(applied, sql_dir, "apply", "--seeds")
    # THEN it refuses (exit 3) naming the file and both checksums, and applies nothing
    assert code == EXIT_REFUSED
    assert report["error"]["kind"] == "ChecksumMismatchError"
    message = report["error"]["message"]
    assert "migrations/V001__initial_schema.sql changed after it was applied" in message
    assert "recorded sha256" in message and "file now" in message
    assert snapshot(pg_server, applied) == before


def test_missing_applied_migration_is_refused_naming_it(
    pg_server: LocalServer, applied: ConnectionSettings, sql_dir: Path
) -> None:
    # GIVEN V902 applied, then its file deleted, and a V903 pending
    v002 = add_migration(sql_dir, "V902__probe.sql", "ALTER TABLE tenants ADD COLUMN probe int;\n")
    assert run_cli(applied, sql_dir, "apply")[0] == 0
    before = snapshot(pg_server, applied)
    v002.unlink()
    add_migration(sql_dir, "V903__more.sql", "ALTER TABLE tenants ADD COLUMN more int;\n")
    # WHEN the CLI applies
    code, report = run_cli(applied, sql_dir, "apply")
    # THEN it refuses naming the missing file, and V903 is not applied
    assert code == EXIT_REFUSED
    assert report["error"]["kind"] == "MissingMigrationError"
    assert "migrations/V902__probe.sql was applied on" in report["error"]["message"]
    assert snapshot(pg_server, applied) == before


def test_syntax_error_names_file_line_and_sqlstate(
    pg_server: LocalServer, applied: ConnectionSettings, sql_dir: Path
) -> None:
    # GIVEN a migration whose second statement (starting on line 7) has a typo on line 9
    before = snapshot(pg_server, applied)
    add_migration(sql_dir, "V902__shipments.sql", SYNTAX_ERROR)
    # WHEN the CLI applies it
    process = start_cli(applied, sql_dir, "apply")
    out, err = process.communicate(timeout=60)
    # THEN exit 1, with file, line 9 and SQLSTATE 42601 on one line of stderr and in the JSON
    assert process.returncode == EXIT_FAILED
    error = json.loads(out)["error"]
    assert error["sqlstate"] == "42601"
    assert error["message"].startswith("migrations/V902__shipments.sql:9: syntax error")
    (line,) = err.strip().splitlines()
    assert line.startswith("failed: MigrationFailedError [42601]: migrations/V902__shipments.sql:9")
    # AND the table created by the first statement was rolled back with it
    assert snapshot(pg_server, applied) == before
