"""Cold start as Lambda runs it: the handler's import cost over boto3, on the built asset.

The asset is built by the same code synth uses (infra.assets.assemble: the handler's import
closure, the vendored deps, certs/, the prod SQL tree, bytecode for Python 3.13), then
imported with the Lambda's Python version from a read-only copy with no writable bytecode
cache (-B), boto3 beside it as the runtime provides it (compiled). Side by side, the same
asset without its bytecode: what shipped before, when every import compiled from source.
Targets: handler import at most +50 ms over boto3; asset <= 1 MB zipped.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from bench.local_server import REPO, median
from infra.assets import assemble, stage_sql
from infra.bytecode import LAMBDA_PYTHON_VERSION, compile_tree, lambda_python

ROUNDS = 15
HANDLER = "db_init.handler"
# One fresh interpreter: boto3 first (the runtime's own import), then the handler on top;
# wall and CPU seconds of each (CPU time is the steadier figure on a shared machine).
PROBE = (
    "import sys, time; sys.path[:0] = {paths!r}; w0, c0 = time.perf_counter(), time.process_time();"
    " import boto3; w1, c1 = time.perf_counter(), time.process_time(); import {module};"
    " w2, c2 = time.perf_counter(), time.process_time(); print(w1 - w0, w2 - w1, c1 - c0, c2 - c1)"
)
Costs = tuple[float, float, float, float]  # wall boto3, wall handler, cpu boto3, cpu handler


# boto3 and what it imports, at the versions this virtualenv has (boto3 is pinned there).
BOTO3_CLOSURE = ("boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil", "six")


def runtime_boto3(python: Path, cache: Path) -> Path:
    """boto3/botocore at the pinned version for the Lambda's Python, compiled, cached."""
    pins = [f"{name}=={metadata.version(name)}" for name in BOTO3_CLOSURE]
    target = cache / f"boto3-{metadata.version('boto3')}-py{LAMBDA_PYTHON_VERSION}"
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(dir=cache))
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--no-deps", "--only-binary=:all:", "--target", str(staging),
            "--python-version", LAMBDA_PYTHON_VERSION, "--implementation", "cp", *pins,
        ],
        check=True,
    )  # fmt: skip
    compile_tree(staging, python)
    os.replace(staging, target)
    return target


def read_only_copy(source: Path, into: Path, *, with_bytecode: bool) -> Path:
    """A copy of the asset with every write bit removed (and its bytecode, if asked)."""
    ignore = None if with_bytecode else shutil.ignore_patterns("__pycache__")
    shutil.copytree(source, into, ignore=ignore)
    for path in [into, *into.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return into


def import_costs(python: Path, assets: dict[str, list[str]]) -> dict[str, Costs]:
    """Per variant, medians over fresh interpreters, the variants interleaved round by round."""
    samples: dict[str, list[list[float]]] = {label: [] for label in assets}
    for _ in range(ROUNDS):
        for label, paths in assets.items():
            out = subprocess.run(
                # -I: no user site or PYTHON* variables; -B: no bytecode is ever written.
                [str(python), "-I", "-B", "-c", PROBE.format(paths=paths, module=HANDLER)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            samples[label].append([float(value) for value in out])
    return {
        label: (
            median([row[0] for row in rows]),
            median([row[1] for row in rows]),
            median([row[2] for row in rows]),
            median([row[3] for row in rows]),
        )
        for label, rows in samples.items()
    }


def zipped_size(root: Path) -> tuple[int, int]:
    """(files, bytes of a deflate zip) of a directory, as the CDK asset is uploaded."""
    buffer = io.BytesIO()
    files = sorted(path for path in root.rglob("*") if path.is_file())
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return len(files), len(buffer.getvalue())


def main() -> None:
    """Build, measure and print."""
    python = lambda_python()
    build = REPO / "build"
    work = Path(tempfile.mkdtemp(prefix="cold-start."))
    try:
        built = work / "built"
        built.mkdir()
        sql = stage_sql(REPO / "sql", with_seeds=False, build_root=build)  # prod's tree
        assemble(built, repo_root=REPO, sql_dir=sql, python=python)
        boto3_dir = str(runtime_boto3(python, build))
        shipped = read_only_copy(built, work / "shipped", with_bytecode=True)
        before = read_only_copy(built, work / "sources-only", with_bytecode=False)
        results = import_costs(
            python,
            {
                "as built (3.13 .pyc)": [str(shipped), boto3_dir],
                "sources only (before)": [str(before), boto3_dir],
            },
        )
        if list(before.rglob("__pycache__")):
            raise SystemExit("a bytecode cache was written into the read-only asset")
        files, zipped = zipped_size(built)
    finally:
        for path in work.rglob("*"):
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        work.chmod(work.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(work)
    print(
        f"cold_start: Python {python} ({LAMBDA_PYTHON_VERSION}), read-only asset, -B,"
        f" median of {ROUNDS} fresh interpreters"
    )
    for label, (boto3_s, handler_s, boto3_cpu, handler_cpu) in results.items():
        print(
            f"  {label:22} import boto3 {boto3_s * 1000:6.1f} ms, then {HANDLER}"
            f" {handler_s * 1000:+6.1f} ms (CPU: {boto3_cpu * 1000:.1f}, {handler_cpu * 1000:+.1f})"
        )
    built_boto3, built_handler, _, built_cpu = results["as built (3.13 .pyc)"]
    _, before_handler, _, before_cpu = results["sources only (before)"]
    print(f"bundle: {files} files, {zipped / 1024:.0f} KiB zipped")
    print(
        f"RATIO cold_start (handler import over boto3, as built): {built_handler * 1000:+.1f} ms"
        f" wall, {built_cpu * 1000:+.1f} ms CPU"
        f" ({(built_boto3 + built_handler) / built_boto3:.2f}x boto3 alone; target <= +50 ms)"
    )
    print(
        f"RATIO cold_start (as built / sources only): {built_handler / before_handler:.2f}x wall"
        f" ({before_handler * 1000:+.1f} ms before), {built_cpu / before_cpu:.2f}x CPU"
        f" ({before_cpu * 1000:+.1f} ms before)"
    )
    print(f"RATIO bundle size (zipped / 1 MB target): {zipped / 1_000_000:.2f}x ({zipped} bytes)")


if __name__ == "__main__":
    main()
