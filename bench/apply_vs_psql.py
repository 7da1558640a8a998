"""Our apply (connect + migrate + seeds + verify) vs `psql -1 -f` of the same files, same server.

Each round creates two fresh databases (untimed), applies with each tool in alternating order,
and prints both times; the headline is the median of the per-round ratios (target <= 1.0x).
A second figure times the whole `shoppulse-db` process against the psql process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from bench.local_server import (
    REPO,
    SQL_DIR,
    create_database,
    median,
    run_client,
    throwaway_server,
)
from db_init import engine, ledger, lint, scripts, verify
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.settings import ApplyOptions, ConnectionSettings

ROUNDS = 15
FILES = sorted((SQL_DIR / "migrations").glob("*.sql")) + sorted((SQL_DIR / "seeds").glob("*.sql"))
OPTIONS = ApplyOptions(sql_dir=SQL_DIR, apply_seeds=True)


def ours(target: ConnectionSettings, *, with_lint: bool = False) -> tuple[float, dict[str, int]]:
    """engine.apply in this process, as the Lambda runs it (its lint ran at synth time) or, with
    `with_lint`, as the CLI runs it (pglast lints the pending migrations first)."""
    original = lint.available
    lint.available = (lambda: True) if with_lint else (lambda: False)
    try:
        started = time.perf_counter()
        result = engine.apply(target, OPTIONS, Deadline.never())
        elapsed = time.perf_counter() - started
    finally:
        lint.available = original
    assert result.applied_versions, "nothing applied: the database was not fresh"
    return elapsed, result.timings_ms


def psql(server: LocalServer, target: ConnectionSettings) -> float:
    """psql -1 -v ON_ERROR_STOP=1 -f each file, as one process; seconds."""
    files = [arg for path in FILES for arg in ("-f", str(path))]
    started = time.perf_counter()
    run_client(server, "psql", target, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", *files)
    return time.perf_counter() - started


def cli(target: ConnectionSettings) -> float:
    """The whole `shoppulse-db apply --seeds` process; seconds."""
    url = (
        f"postgresql://{target.user}:{target.password}@{target.host}:{target.port}/"
        f"{target.database}?sslmode=disable"
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "db_init", "apply", "--seeds", "-q", "--sql-dir", str(SQL_DIR)],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def where_the_time_goes(admin: ConnectionSettings, rounds: int = 5) -> str:
    """Median ms per run of each step of ours, from instrumented runs (steps beyond the SQL)."""
    steps: dict[str, tuple[object, str]] = {
        "read+parse+checksum sql/": (scripts, "load"),
        "connect (scram) + timeouts": (engine, "_session"),
        "history table": (ledger, "ensure"),
        "run the files + history rows": (engine, "_run_script"),
        "verify catalog": (verify, "check"),
    }
    spent: dict[str, list[float]] = {name: [0.0] * rounds for name in steps}
    current = [0]
    originals = {name: getattr(module, attr) for name, (module, attr) in steps.items()}

    def timed(name: str, original: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name][current[0]] += time.perf_counter() - started

        return run

    for name, (module, attr) in steps.items():
        setattr(module, attr, timed(name, originals[name]))
    totals = []
    try:
        for n in range(rounds):
            current[0] = n
            totals.append(ours(create_database(admin, f"bench_profile_{n}"))[0])
    finally:
        for name, (module, attr) in steps.items():
            setattr(module, attr, originals[name])
    parts = [f"{name} {median(times) * 1000:.1f}" for name, times in spent.items()]
    return f"{'; '.join(parts)}; total {median(totals) * 1000:.1f} (ms, median)"


def main() -> None:
    """Run the rounds and print the figures."""
    with throwaway_server() as (server, admin):
        engine.apply(create_database(admin, "bench_warmup"), OPTIONS, Deadline.never())
        run_client(server, "psql", admin, "-X", "-q", "-c", "SELECT 1")
        print(f"apply_vs_psql: {len(FILES)} files, {ROUNDS} rounds, {server.version()}")
        print("round   ours ms   psql ms   ratio   +lint ms  ratio   cli ms  psql ms   ratio")
        ratios, lint_ratios, cli_ratios, phases = [], [], [], []
        for n in range(ROUNDS):
            a, b, c, d, e = (create_database(admin, f"bench_{k}_{n}") for k in "abcde")
            if n % 2:
                theirs = psql(server, b)
                mine, timings = ours(a)
            else:
                mine, timings = ours(a)
                theirs = psql(server, b)
            linted = ours(e, with_lint=True)[0]
            whole, theirs_again = cli(c), psql(server, d)
            ratios.append(mine / theirs)
            lint_ratios.append(linted / theirs)
            cli_ratios.append(whole / theirs_again)
            phases.append(timings)
            print(
                f"{n + 1:5}  {mine * 1000:8.1f}  {theirs * 1000:8.1f}  {ratios[-1]:5.2f}x"
                f"  {linted * 1000:8.1f}  {lint_ratios[-1]:5.2f}x"
                f"  {whole * 1000:7.1f}  {theirs_again * 1000:7.1f}  {cli_ratios[-1]:5.2f}x"
            )
        breakdown = ", ".join(
            f"{phase} {median([p.get(phase, 0) for p in phases]):.0f} ms"
            for phase in ("connect", "apply", "total")
        )
        print(f"ours by phase (median): {breakdown}")
        print(f"ours, step by step: {where_the_time_goes(admin)}")
        print(
            "RATIO apply_vs_psql (engine.apply as in the Lambda / psql -1 -f, median): "
            f"{median(ratios):.2f}x"
        )
        print(
            "RATIO apply_vs_psql (engine.apply + pglast lint, as the CLI / psql -1 -f, median): "
            f"{median(lint_ratios):.2f}x"
        )
        print(
            f"RATIO apply_vs_psql (shoppulse-db process / psql process, median): "
            f"{median(cli_ratios):.2f}x"
        )


if __name__ == "__main__":
    main()
