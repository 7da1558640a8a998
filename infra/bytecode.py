"""Bytecode for the Lambda's Python: find that interpreter here and compile the asset with it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the asset: the paths tracebacks show
_VERSION_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


class BytecodeError(RuntimeError):
    """No interpreter of the Lambda's version, or compiling with it failed."""


def _version_of(python: Path) -> str | None:
    try:
        result = subprocess.run(
            [str(python), "-I", "-c", _VERSION_PROBE],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _candidates(version: str) -> list[Path]:
    found = [Path(path) for path in [shutil.which(f"python{version}")] if path]
    # pyenv's shim refuses a version that is installed but not selected: ask its tree directly.
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found += sorted(
        (pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"), reverse=True
    )
    found += [Path(f"/usr/bin/python{version}"), Path(f"/usr/local/bin/python{version}")]
    return found


def lambda_python(version: str = LAMBDA_PYTHON_VERSION) -> Path:
    """An interpreter of the Lambda's Python version on this machine."""
    for candidate in _candidates(version):
        if candidate.exists() and _version_of(candidate) == version:
            return candidate
    raise BytecodeError(
        f"no Python {version} found (python{version} on PATH, pyenv, /usr/bin): the Lambda"
        f" asset ships bytecode compiled for the Lambda's Python {version}; install it"
        f" (pyenv install {version}, or Debian 13's python{version}) and synth again"
    )


def compile_tree(root: Path, python: Path) -> None:
    """Compile every .py under root to __pycache__/*.cpython-3XX.pyc, validated by hash only.

    unchecked-hash: the asset is immutable, so the interpreter trusts the .pyc without
    hashing the source again, and the bytes do not depend on when the asset was built (a
    timestamp .pyc would compare mtimes that a zip round trip does not keep).
    """
    command = [
        str(python), "-I", "-m", "compileall", "-q", "-j", "0",
        "--invalidation-mode", "unchecked-hash",
        # Source paths as Lambda sees them, not this build directory: the bytes (and so the
        # asset hash) are the same wherever the asset is built.
        "-s", str(root), "-p", LAMBDA_TASK_ROOT, str(root),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BytecodeError(
            f"compileall with {python} failed: {(result.stdout + result.stderr).strip()[-500:]}"
        )
