"""Our COPY loader (pg8000, streamed) vs `psql \\copy` of the same CSV files on the same server.

Each round loads the generator's CSV files into two fresh databases with the schema applied, one
with `generate.load_csv`, one with psql in a single transaction, and prints the median speed ratio
(psql time / our time; target >= 0.8). `.venv/bin/python bench/load_vs_psql_copy.py --help`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lambda"))

from db_init import engine, generate  # noqa: E402
from db_init.db import connect_once  # noqa: E402
from db_init.deadline import Deadline  # noqa: E402
from db_init.embedded import LocalServer  # noqa: E402
from db_init.settings import ApplyOptions, ConnectionSettings  # noqa: E402


def main() -> None:
    """Write the CSV once, then time both loaders round by round and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="shoppulse-bench-"))
    server = LocalServer(workdir / "pg", durable=False)
    try:
        admin = server.start(database="postgres")
        paths = generate.write_csv(
            generate.Scale(tenants=args.tenants, orders=args.orders), workdir / "csv"
        )
        rows = sum(sum(1 for _ in path.open()) for path in paths.values())
        size_mb = sum(path.stat().st_size for path in paths.values()) / 1e6
        files = f"{len(paths)} CSV files ({size_mb:.0f} MB)"
        print(f"server: {server.version()}; {rows:,} rows in {files}")
        ours, theirs = [], []
        for round_number in range(1, args.rounds + 1):
            # Alternate who goes first so background load and cache warmth favour neither.
            runs = [
                lambda n=round_number: ours.append(_time_ours(_fresh(admin, f"ours_{n}"), paths)),
                lambda n=round_number: theirs.append(
                    _time_psql(server, _fresh(admin, f"psql_{n}"), paths)
                ),
            ]
            for run in runs if round_number % 2 else reversed(runs):
                run()
            print(f"round {round_number}: ours {ours[-1]:.2f}s, psql \\copy {theirs[-1]:.2f}s")
        mine, psql = statistics.median(ours), statistics.median(theirs)
        print(
            f"median: ours {mine:.2f}s ({rows / mine:,.0f} rows/s), psql \\copy {psql:.2f}s "
            f"({rows / psql:,.0f} rows/s); speed ratio ours/psql = {psql / mine:.2f}x "
            "(target >= 0.8x)"
        )
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _fresh(admin: ConnectionSettings, name: str) -> ConnectionSettings:
    target = admin.with_database(name)
    engine.apply(target, ApplyOptions(sql_dir=REPO / "sql"), Deadline.after(120))
    return target


def _time_ours(target: ConnectionSettings, paths: dict[str, Path]) -> float:
    started = time.perf_counter()
    with closing(connect_once(target, operation_timeout_s=None)) as session:
        generate.load_csv(session, paths)
    return time.perf_counter() - started


def _time_psql(server: LocalServer, target: ConnectionSettings, paths: dict[str, Path]) -> float:
    by_name = {table.name: table for table in generate.tables(generate.Scale(tenants=1, orders=1))}
    script = "".join(
        f"\\copy {name} ({', '.join(by_name[name].columns)}) FROM '{path}' WITH (FORMAT csv)\n"
        for name, path in paths.items()
    )
    command = [
        str(server.bin_dir / "psql"), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1",
        "-h", target.host, "-p", str(target.port), "-U", target.user, "-d", target.database,
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(
        command,
        input=script,
        text=True,
        check=True,
        env=os.environ | {"PGPASSWORD": target.password},
    )
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
