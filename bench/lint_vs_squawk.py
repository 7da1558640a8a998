"""`shoppulse-db lint` vs squawk on the same labelled cases: catches, false alarms, time per file.

Needs squawk: `pip install -r requirements-bench.txt` (squawk-cli, a wheel with the binary).
squawk is configured like this engine: each transactional case is linted with
--assume-in-transaction, the engine's timeouts count as set (the timeout rules are excluded),
and rules about style rather than danger are excluded, so its false alarms are only the ones a
user comparing the two for safety would see. Run: `.venv/bin/python -m bench.lint_vs_squawk`.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from db_init import lint
from db_init.lint_config import DEFAULT_PG_VERSION, LintSettings

CASES = Path(__file__).with_name("lint_cases.toml")
REPO = Path(__file__).resolve().parent.parent
NON_TRANSACTIONAL = "-- shoppulse:non-transactional"
SQUAWK_EXCLUDED = (
    # the engine sets lock_timeout and statement_timeout on every session
    "require-timeout-settings",
    "require-lock-timeout",
    "require-statement-timeout",
    # style, not danger
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "prefer-robust-stmts",
    "ban-char-field",
)
ROUNDS = 5


@dataclass(frozen=True)
class Case:
    """One labelled migration and the files applied before it."""

    name: str
    source: str
    dangerous: bool
    sql: str
    before: tuple[str, ...]
    pg_version: int

    @property
    def transactional(self) -> bool:
        """Whether the engine would run the case's file in a transaction."""
        return not self.sql.lstrip().startswith(NON_TRANSACTIONAL)

    def files(self, setup: str) -> list[tuple[Path, str]]:
        """The case as a migration set: setup, its earlier files, then the case itself."""
        bodies = [setup, *self.before, self.sql]
        return [(Path(f"V{i:03d}__{self.name}.sql"), body) for i, body in enumerate(bodies, 1)]


def load_cases(path: Path = CASES) -> tuple[str, list[Case]]:
    """The shared setup schema and every case of `path`."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    cases = [
        Case(
            name=item["name"],
            source=item["source"],
            dangerous=item["label"] == "dangerous",
            sql=item["sql"].strip() + "\n",
            before=tuple(item.get("before", ())),
            pg_version=int(item.get("pg_version", DEFAULT_PG_VERSION)),
        )
        for item in document["case"]
    ]
    return document["setup"], cases


def ours_flags(case: Case, setup: str) -> bool:
    """Whether `shoppulse-db lint` reports a finding in the case's own file."""
    settings = LintSettings(pg_version=case.pg_version)
    return bool(lint.lint_texts(case.files(setup), settings=settings)[-1].errors)


def squawk_command(case: Case) -> list[str]:
    """squawk's command line for a case (without the path)."""
    command = [_squawk(), "--reporter", "json", f"--pg-version={case.pg_version}.0"]
    command += [f"--exclude={','.join(SQUAWK_EXCLUDED)}"]
    return [*command, "--assume-in-transaction"] if case.transactional else command


def squawk_flags(paths: dict[str, Path], cases: list[Case]) -> tuple[set[str], float]:
    """Names of the cases squawk reports, and the wall time of its batch runs."""
    groups: dict[tuple[str, ...], list[Case]] = {}
    for case in cases:
        groups.setdefault(tuple(squawk_command(case)), []).append(case)
    flagged: set[str] = set()
    started = time.perf_counter()
    for command, members in groups.items():
        result = subprocess.run(
            [*command, *(str(paths[c.name]) for c in members)],
            capture_output=True,
            text=True,
            check=False,
        )
        for violation in json.loads(result.stdout or "[]"):
            flagged.add(Path(violation["file"]).stem)
    return flagged, time.perf_counter() - started


def _squawk() -> str:
    found = shutil.which("squawk") or shutil.which("squawk", path=str(Path(sys.executable).parent))
    if not found:
        sys.exit("squawk not found: pip install -r requirements-bench.txt")
    return found


def _per_process(commands: list[list[str]]) -> float:
    started = time.perf_counter()
    for command in commands:
        subprocess.run(command, capture_output=True, check=False)
    return (time.perf_counter() - started) / len(commands)


def main() -> None:
    """Run both tools over every case and print the comparison."""
    setup, cases = load_cases()
    n = len(cases)
    with tempfile.TemporaryDirectory(prefix="lint-bench-") as tmp:
        root = Path(tmp)
        squawk_paths: dict[str, Path] = {}
        ours_dirs: dict[str, Path] = {}
        for case in cases:
            squawk_paths[case.name] = root / "squawk" / f"{case.name}.sql"
            squawk_paths[case.name].parent.mkdir(exist_ok=True)
            squawk_paths[case.name].write_text(case.sql)
            ours_dirs[case.name] = root / "ours" / case.name
            ours_dirs[case.name].mkdir(parents=True)
            for path, body in case.files(setup):
                (ours_dirs[case.name] / path).write_text(body)

        ours_times, ours_alone, squawk_times, ours = [], [], [], set()
        theirs: set[str] = set()
        for _ in range(ROUNDS):
            started = time.perf_counter()
            ours = {c.name for c in cases if ours_flags(c, setup)}
            ours_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            for case in cases:  # the very files squawk reads, each alone
                lint.lint_texts([(squawk_paths[case.name], case.sql)])
            ours_alone.append(time.perf_counter() - started)
            theirs, elapsed = squawk_flags(squawk_paths, cases)
            squawk_times.append(elapsed)
        ours_process = _per_process(
            [
                [sys.executable, "-m", "db_init", "lint", "--pg-version", str(c.pg_version),
                 str(ours_dirs[c.name])]
                for c in cases
            ]
        )  # fmt: skip
        squawk_process = _per_process(
            [[*squawk_command(c), str(squawk_paths[c.name])] for c in cases]
        )

    dangerous = [c for c in cases if c.dangerous]
    safe = [c for c in cases if not c.dangerous]
    caught = (sum(c.name in ours for c in dangerous), sum(c.name in theirs for c in dangerous))
    alarms = (sum(c.name in ours for c in safe), sum(c.name in theirs for c in safe))
    batch = (statistics.median(ours_alone) / n, statistics.median(squawk_times) / n)
    with_setup = statistics.median(ours_times) / n
    version = subprocess.run(
        [_squawk(), "--version"], capture_output=True, text=True, check=False
    ).stdout
    print(f"{n} cases ({len(dangerous)} dangerous, {len(safe)} safe); {version.strip()}")
    print(f"{'':44} {'ours':>10} {'squawk':>10} {'ratio':>8}")
    print(f"{'dangerous caught (more is better)':44} {caught[0]:>10} {caught[1]:>10} "
          f"{caught[0] / max(caught[1], 1):>7.2f}x")  # fmt: skip
    print(f"{'false alarms on safe cases (fewer is better)':44} {alarms[0]:>10} {alarms[1]:>10}")
    print(f"{'ms per file, one run over all (median of 5)':44} {batch[0] * 1e3:>10.2f} "
          f"{batch[1] * 1e3:>10.2f} {batch[0] / batch[1]:>7.2f}x")  # fmt: skip
    print(f"{'ms per file, one process per file':44} {ours_process * 1e3:>10.1f} "
          f"{squawk_process * 1e3:>10.1f} {ours_process / squawk_process:>7.2f}x")  # fmt: skip
    print(
        "(one run: ours in-process over the same files squawk reads, as `apply` lints; "
        f"squawk: its batch processes. Ours with each case's setup and earlier files: "
        f"{with_setup * 1e3:.2f} ms per case)"
    )
    for case in cases:
        mine, other = case.name in ours, case.name in theirs
        if mine != case.dangerous or other != case.dangerous:
            label = "dangerous" if case.dangerous else "safe"
            print(
                f"  {case.name:40} {label:9} ours={'flag' if mine else '-':4} "
                f"squawk={'flag' if other else '-':4} ({case.source})"
            )


if __name__ == "__main__":
    main()
