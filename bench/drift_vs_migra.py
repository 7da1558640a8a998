"""`drift` and the pre-apply gate vs migra --with-privileges on the same drifted database.

migra compares two live databases, so it gets a reference database built from the migrations
for free; `drift` builds (or reuses) its expected catalog itself. Measured side by side, rounds
interleaved: whole processes as a user runs them, and in-process calls as the gate runs them;
and `drift` without its cache (a scratch server per run, as it worked before the cache).
Needs the bench requirements (`make bench` installs requirements-bench.txt).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.local_server import REPO, SQL_DIR, median, run_sql, throwaway_server
from db_init import drift, engine, scripts
from db_init.deadline import Deadline
from db_init.settings import ApplyOptions, ConnectionSettings

ROUNDS = 7
COLD_ROUNDS = 3
OPTIONS = ApplyOptions(sql_dir=SQL_DIR, apply_seeds=True)
# A few of the hand-made changes the tests make (tests/integration/drift_cases.py).
DRIFT = (
    "ALTER TABLE orders ADD COLUMN legacy_code varchar(5)",
    "GRANT TRUNCATE ON orders TO shoppulse_app",
    "ALTER POLICY tenant_isolation ON users USING (true)",
    "ALTER TABLE orders DISABLE TRIGGER trg_orders_updated_at",
    "ALTER SEQUENCE fulfillment_fulfillment_id_seq CACHE 20",
)


def url(settings: ConnectionSettings, scheme: str = "postgresql") -> str:
    """A loopback URL (plaintext: the benchmark server listens on loopback only)."""
    return (
        f"{scheme}://{settings.user}:{settings.password}@{settings.host}:{settings.port}/"
        f"{settings.database}"
    )


def timed(action: Callable[[], object]) -> float:
    """Seconds one call of `action` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def migra_in_process(live: ConnectionSettings, reference: ConnectionSettings) -> str:
    """migra's library: the SQL that would turn live into reference, privileges included."""
    migra: Any = importlib.import_module("migra")
    sqlbag: Any = importlib.import_module("sqlbag")
    with (
        sqlbag.S(url(live, "postgresql+psycopg2")) as ours,
        sqlbag.S(url(reference, "postgresql+psycopg2")) as theirs,
    ):
        migration = migra.Migration(ours, theirs)
        migration.set_safety(False)
        migration.add_all_changes(privileges=True)
        return str(migration.sql)


def process(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a command line (exit 1 or 2 means "differences found", which is expected here)."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    if result.returncode not in (0, 1, 2):
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr[-400:]}")
    return result


def main() -> None:
    """Build live + reference databases, drift the live one, and time both tools."""
    migra_cli = Path(sys.executable).with_name("migra")
    if importlib.util.find_spec("migra") is None or not migra_cli.exists():
        print("migra is not installed: run `make bench` (installs requirements-bench.txt)")
        return
    with throwaway_server() as (_, admin), tempfile.TemporaryDirectory() as cache_root:
        live, reference = admin.with_database("live"), admin.with_database("reference")
        engine.apply(live, OPTIONS, Deadline.after(300))
        engine.apply(reference, ApplyOptions(sql_dir=SQL_DIR), Deadline.after(300))
        run_sql(live, *DRIFT)
        scratch = drift.existing_server(admin)
        pending = list(scripts.load(SQL_DIR).migrations)
        env = os.environ | {"TMPDIR": cache_root, "PYTHONPATH": str(REPO / "lambda")}
        live_url = url(live) + "?sslmode=disable"
        drift_argv = [sys.executable, "-m", "db_init", "drift", "--database-url", live_url,
                      "--sql-dir", str(SQL_DIR)]  # fmt: skip
        psycopg2 = "postgresql+psycopg2"
        migra_argv = [str(migra_cli), "--unsafe", "--with-privileges",
                      url(live, psycopg2), url(reference, psycopg2)]  # fmt: skip

        def drift_process() -> None:
            subprocess.run(drift_argv, env=env, capture_output=True, check=False, timeout=600)

        def gate() -> None:  # what engine._check_drift does: compare, then match by names
            report = drift.check(live, OPTIONS, Deadline.after(300), scratch=scratch)
            drift.owners_named_in(report, pending)

        def uncached(scratch: drift.Scratch | None = None) -> None:
            """None: a scratch embedded server per run, as before the cache."""
            with tempfile.TemporaryDirectory() as empty:
                tempfile.tempdir = empty
                try:
                    drift.check(live, OPTIONS, Deadline.after(300), scratch=scratch)
                finally:
                    tempfile.tempdir = None

        report = drift.check(live, OPTIONS, Deadline.after(300), scratch=scratch)
        found = migra_in_process(live, reference)
        print(f"drift found {report.drift_count} differences; migra {found.count(';')} statements")
        drift_process()  # builds the catalog the later drift processes reuse
        rows: dict[str, list[float]] = {
            k: [] for k in ("drift process", "migra process", "gate", "migra library")
        }
        for _ in range(ROUNDS):
            rows["drift process"].append(timed(drift_process))
            rows["migra process"].append(timed(lambda: process(*migra_argv)))
            rows["gate"].append(timed(gate))
            rows["migra library"].append(timed(lambda: migra_in_process(live, reference)))
        # the Lambda's first gate per container: a scratch database on the target server
        rows["gate, cache miss"] = [timed(lambda: uncached(scratch)) for _ in range(COLD_ROUNDS)]
        rows["drift, no cache"] = [timed(uncached) for _ in range(COLD_ROUNDS)]
        cold = [timed(lambda: drift_process_cold(drift_argv, env)) for _ in range(COLD_ROUNDS)]
        rows["drift process, no cache"] = cold
        print_figures(rows)


def print_figures(rows: dict[str, list[float]]) -> None:
    """Medians, then each comparison as a RATIO line."""
    for name, times in rows.items():
        print(f"{name:26} median {median(times) * 1000:8.1f} ms over {len(times)} runs")
    ratio = median(rows["drift process"]) / median(rows["migra process"])
    print(f"RATIO drift process / migra process: {ratio:.2f}x")
    ratio = median(rows["gate"]) / median(rows["migra library"])
    print(f"RATIO gate (in-process drift) / migra library: {ratio:.2f}x")
    ratio = median(rows["gate, cache miss"]) / median(rows["migra library"])
    print(f"RATIO gate on a cache miss (scratch database) / migra library: {ratio:.2f}x")
    ratio = median(rows["drift process, no cache"]) / median(rows["migra process"])
    print(f"RATIO drift process without cache (as before) / migra process: {ratio:.2f}x")
    ratio = median(rows["drift process, no cache"]) / median(rows["drift process"])
    print(f"RATIO drift process before / after the cache: {ratio:.2f}x")


def drift_process_cold(argv: list[str], env: dict[str, str]) -> None:
    """`shoppulse-db drift` with an empty cache: it starts a scratch server, as before."""
    with tempfile.TemporaryDirectory() as empty:
        subprocess.run(argv, env=env | {"TMPDIR": empty}, capture_output=True, check=False)


if __name__ == "__main__":
    main()
