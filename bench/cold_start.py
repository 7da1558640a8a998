"""Cold start: handler import time in a fresh interpreter vs boto3 alone, and the bundle size.

The bundle is what the CDK asset ships: lambda/db_init, lambda/certs, sql/ and the pure-Python
runtime dependencies pinned in requirements.txt (their installed files, from this venv).
Targets: import at most +50 ms over boto3; bundle <= 1 MB zipped.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from bench.local_server import REPO, median

ROUNDS = 9
_SKIP = re.compile(r"(__pycache__|\.pyc$|\.dist-info/|^\.\./)")
PROBE = (
    "import time; started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)


def import_seconds(module: str, *, without_pyc: bool = False) -> float:
    """Median seconds to import `module` in a fresh interpreter (site and stdlib already up).

    without_pyc: every module is compiled from source, as on the first import from our bundle
    (built with --no-compile); pessimistic, since it recompiles boto3 and the stdlib too.
    """
    env = os.environ | {"PYTHONPATH": str(REPO / "lambda"), "PYTHONDONTWRITEBYTECODE": "1"}
    times = []
    for _ in range(ROUNDS):
        if without_pyc:  # an empty cache directory: no .pyc is found, none is written
            env["PYTHONPYCACHEPREFIX"] = tempfile.gettempdir() + "/shoppulse-no-pyc"
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return median(times)


def runtime_requirements() -> list[str]:
    """Distribution names pinned in requirements.txt."""
    names = []
    for raw in (REPO / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[=<>!~\[ ]", line, maxsplit=1)[0])
    return names


def bundle_files() -> dict[str, Path]:
    """Archive name -> file for everything the Lambda asset holds."""
    files: dict[str, Path] = {}
    for top in ("lambda/db_init", "lambda/certs", "sql"):
        root = REPO / top
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root.parent).as_posix()
            if path.is_file() and not _SKIP.search(relative):
                files[relative] = path
    for name in runtime_requirements():
        distribution = metadata.distribution(name)
        for entry in distribution.files or ():
            relative = entry.as_posix()
            path = Path(str(distribution.locate_file(entry)))
            if path.is_file() and not _SKIP.search(relative):
                files[relative] = path
    return files


def zipped_size(files: dict[str, Path]) -> int:
    """Bytes of a deflate zip of `files`, as the CDK asset is uploaded."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in files.items():
            archive.write(path, name)
    return len(buffer.getvalue())


def main() -> None:
    """Measure and print."""
    try:
        import db_init.handler  # noqa: F401, PLC0415 - only to know whether it exists yet
    except ImportError:
        module = "db_init.engine"
    else:
        module = "db_init.handler"
    boto3_s = import_seconds("boto3")
    ours_s = import_seconds(module)
    engine_s = import_seconds("db_init.engine")
    boto3_cold_s = import_seconds("boto3", without_pyc=True)
    ours_cold_s = import_seconds(module, without_pyc=True)
    files = bundle_files()
    raw = sum(path.stat().st_size for path in files.values())
    zipped = zipped_size(files)
    print(f"cold_start: import times, median of {ROUNDS} fresh interpreters (no .pyc writes)")
    print(f"  import boto3            {boto3_s * 1000:7.1f} ms")
    print(f"  import {module:17}{ours_s * 1000:7.1f} ms")
    print(f"  import db_init.engine   {engine_s * 1000:7.1f} ms")
    print(
        f"  with no .pyc at all: boto3 {boto3_cold_s * 1000:.0f} ms, {module} "
        f"{ours_cold_s * 1000:.0f} ms ({(ours_cold_s - boto3_cold_s) * 1000:+.0f} ms)"
    )
    print(f"bundle: {len(files)} files, {raw / 1024:.0f} KiB raw, {zipped / 1024:.0f} KiB zipped")
    print(
        f"RATIO cold_start ({module} import / boto3 import): {ours_s / boto3_s:.2f}x; "
        f"{(ours_s - boto3_s) * 1000:+.1f} ms (target <= +50 ms)"
    )
    print(f"RATIO bundle size (zipped / 1 MB target): {zipped / 1_000_000:.2f}x ({zipped} bytes)")


if __name__ == "__main__":
    main()
