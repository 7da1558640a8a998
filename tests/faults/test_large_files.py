"""Very large migration and seed files: memory stays bounded, a late failure still rolls back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from db_init.embedded import LocalServer
from db_init.settings import ConnectionSettings
from tests.faults.conftest import REPORT
from tests.postgres import MIGRATIONS, REPO, SEEDS, add_migration, database_url, query, snapshot

SEED_ROWS = 50_000
MIGRATION_ROWS = 100_000
# Bytes of peak RSS growth allowed per byte of SQL; more would be a leak or a quadratic copy.
# The Lambda bundle keeps each file and its statements (a few bytes per byte). The CLI also
# lints with pglast, whose parse trees of a whole file cost ~30 bytes per byte.
RSS_PER_SQL_BYTE = {"lambda": 12, "cli": 40}

# Runs in a fresh interpreter so that the peak is this apply's alone. It reads VmHWM: ru_maxrss
# (resource.getrusage) keeps the pytest parent's peak across vfork+exec on Linux.
MEASURE = """
import json, os, sys
if sys.argv[2] == "lambda":
    sys.modules["pglast"] = None  # as in the Lambda bundle, which has no pglast
from pathlib import Path
from db_init import engine
from db_init.deadline import Deadline
from db_init.errors import DbInitError
from db_init.settings import ApplyOptions, parse_database_url
def peak_kib():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])
baseline = peak_kib()
target = parse_database_url(os.environ["DATABASE_URL"])
options = ApplyOptions(sql_dir=Path(sys.argv[1]), apply_seeds=True, connect_budget_s=5)
try:
    outcome = engine.apply(target, options, Deadline.after(60)).applied_versions
except DbInitError as error:
    outcome = error.one_line()
peak = peak_kib()
print(json.dumps({"baseline_kib": baseline, "peak_kib": peak, "outcome": outcome}))
"""


def _bulk_seed(sql_dir: Path, *, duplicate_last: bool) -> Path:
    """S003: one INSERT of SEED_ROWS tenants (the last one clashing with T001 if asked)."""
    ids = [f"B{i:06d}" for i in range(SEED_ROWS)]
    if duplicate_last:
        ids[-1] = "T001"
    rows = ",\n".join(
        f"('{t}', 'Bulk ''tenant'' {t}', 'Retail', 'Standard', 'Nowhere')" for t in ids
    )
    path = sql_dir / "seeds" / "S003__bulk_tenants.sql"
    path.write_text(
        "-- 50k tenants in one statement\n"
        f"INSERT INTO tenants (tenant_id, tenant_name, industry, plan_tier, country) VALUES\n{rows};\n"
    )
    return path


def _bulk_migration(sql_dir: Path) -> Path:
    """V902: a reference table and MIGRATION_ROWS rows in INSERTs of 1,000."""
    batches = []
    for start in range(0, MIGRATION_ROWS, 1_000):
        values = ",".join(
            f"({i}, 'code-{i:07d}', 'reference code number {i}')"
            for i in range(start, start + 1_000)
        )
        batches.append(f"INSERT INTO reference_codes VALUES {values};")
    body = "\n".join(batches)
    return add_migration(
        sql_dir,
        "V902__reference_codes.sql",
        "CREATE TABLE reference_codes (id integer PRIMARY KEY, code text NOT NULL, label text);\n"
        f"{body}\n",
    )


def _measure(target: ConnectionSettings, sql_dir: Path, mode: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(sql_dir), mode],
        env=os.environ | {"DATABASE_URL": database_url(target), "PYTHONPATH": str(REPO / "lambda")},
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


@pytest.mark.parametrize("mode", ["lambda", "cli"])
def test_large_migration_and_seed_apply_with_bounded_memory(
    target: ConnectionSettings, sql_dir: Path, mode: str
) -> None:
    # GIVEN a 100k-row migration and a 50k-row single-statement seed
    sql_bytes = (
        _bulk_migration(sql_dir).stat().st_size
        + _bulk_seed(sql_dir, duplicate_last=False).stat().st_size
    )
    # WHEN a fresh process applies them, as the Lambda (no lint) or the CLI (pglast lint) does
    figures = _measure(target, sql_dir, mode)
    # THEN everything is applied and the peak RSS grows by a bounded multiple of the SQL size
    assert figures["outcome"] == [*MIGRATIONS, "V902", *SEEDS, "S003"]
    assert query(target, "SELECT count(*) FROM reference_codes") == [(MIGRATION_ROWS,)]
    assert query(target, "SELECT count(*) FROM tenants") == [(SEED_ROWS + 3,)]
    growth = (figures["peak_kib"] - figures["baseline_kib"]) * 1024
    REPORT.append(
        f"large files ({mode}): {sql_bytes / 2**20:.1f} MiB of SQL; peak RSS {figures['peak_kib'] / 1024:.0f}"
        f" MiB (+{growth / 2**20:.0f} MiB over the {figures['baseline_kib'] / 1024:.0f} MiB "
        f"after imports; {growth / sql_bytes:.1f} bytes per SQL byte)"
    )
    assert growth < RSS_PER_SQL_BYTE[mode] * sql_bytes, REPORT[-1]


def test_large_seed_failing_on_its_last_row_leaves_nothing_applied(
    pg_server: LocalServer, applied: ConnectionSettings, sql_dir: Path
) -> None:
    # GIVEN a 50k-row seed whose last row (line 50,002 of the file) clashes with T001
    before = snapshot(pg_server, applied)
    _bulk_seed(sql_dir, duplicate_last=True)
    # WHEN it is applied
    figures = _measure(applied, sql_dir, "lambda")
    # THEN it fails with 23505 naming the file, and nothing changed
    assert figures["outcome"].startswith(
        "MigrationFailedError [23505]: seeds/S003__bulk_tenants.sql:"
    )
    assert snapshot(pg_server, applied) == before
