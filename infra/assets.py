"""The initializer Lambda asset: the handler's import closure, deps, SQL and 3.13 bytecode."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from db_init.scripts import sql_tree_checksum
from infra.bytecode import (
    LAMBDA_PYTHON_VERSION,
    LAMBDA_TASK_ROOT,
    BytecodeError,
    compile_tree,
    lambda_python,
)
from infra.closure import handler_closure

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_PLATFORM = "manylinux2014_aarch64"
SEEDS = "seeds"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")


class BundlingError(RuntimeError):
    """The Lambda asset could not be assembled."""


def runtime_dependencies(requirements: Path, cache_root: Path) -> Path:
    """Pure-Python Lambda deps, pip-installed once per requirements.txt digest under build/."""
    key = hashlib.sha256(
        requirements.read_bytes() + f"{LAMBDA_PYTHON_VERSION}/{LAMBDA_PLATFORM}".encode()
    ).hexdigest()[:16]
    target = cache_root / key
    if target.is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=cache_root))
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(staging), "--only-binary=:all:",
        "--platform", LAMBDA_PLATFORM, "--python-version", LAMBDA_PYTHON_VERSION,
        "--implementation", "cp", "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundlingError(f"pip install -r {requirements} failed: {result.stderr.strip()[-500:]}")
    shutil.rmtree(staging / "bin", ignore_errors=True)
    _publish(staging, target)
    return target


def _publish(staging: Path, target: Path) -> None:
    try:
        os.replace(staging, target)  # atomic: a concurrent synth either sees all of it or none
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process won the race; use theirs


def stage_sql(sql_dir: Path, *, with_seeds: bool, build_root: Path) -> Path:
    """The SQL tree the asset ships: sql_dir, without seeds/ where the environment skips them.

    SqlChecksum is computed over this tree, so the Lambda's own check still holds, and an
    environment that never applies seeds neither ships them nor redeploys when they change.
    """
    build_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="sql.", dir=build_root))
    shutil.copytree(
        sql_dir,
        staging,
        dirs_exist_ok=True,
        ignore=_IGNORED if with_seeds else shutil.ignore_patterns(SEEDS, "__pycache__", "*.pyc"),
    )
    target = build_root / f"sql-{sql_tree_checksum(staging)[:16]}"
    if target.is_dir():
        shutil.rmtree(staging)
        return target
    _publish(staging, target)
    return target


def assemble(out: Path, *, repo_root: Path, sql_dir: Path, python: Path) -> None:
    """Write the asset into out: deps, the handler's modules, certs/, sql/, then bytecode."""
    deps = runtime_dependencies(repo_root / "requirements.txt", repo_root / "build" / "lambda-deps")
    shutil.copytree(deps, out, dirs_exist_ok=True)
    package_dir = repo_root / "lambda" / "db_init"
    for path in handler_closure(package_dir).values():
        target = out / "db_init" / path.relative_to(package_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    shutil.copytree(repo_root / "lambda" / "certs", out / "certs", ignore=_IGNORED)
    shutil.copytree(sql_dir, out / "sql", ignore=_IGNORED)
    compile_tree(out, python)


@jsii.implements(ILocalBundling)
class LocalBundling:
    """Assembles the asset without Docker (Docker only if this machine lacks Python 3.13)."""

    def __init__(self, *, repo_root: Path, sql_dir: Path, expected_sql_checksum: str) -> None:
        self._root = repo_root
        self._sql_dir = sql_dir
        self._expected_sql_checksum = expected_sql_checksum

    def try_bundle(self, output_dir: str, *, image: DockerImage, **options: object) -> bool:
        """Build the asset into output_dir; returning False would hand over to Docker."""
        del image, options  # the Docker image and command are only for the fallback
        out = Path(output_dir)
        try:
            python = lambda_python()
        except BytecodeError as error:
            if shutil.which("docker") is None:
                raise  # no fallback: the message says what to install
            print(f"local bundling impossible, trying Docker: {error}", file=sys.stderr)
            return False
        try:
            assemble(out, repo_root=self._root, sql_dir=self._sql_dir, python=python)
        except BundlingError as error:
            if shutil.which("docker") is None:
                raise  # no fallback: pip's own message is the useful one
            print(f"local bundling failed, trying Docker: {error}", file=sys.stderr)
            return False
        # The SqlChecksum property is computed from the staged tree; the Lambda recomputes it
        # from the bundle and refuses to run on a mismatch, so prove here they are the same.
        bundled = sql_tree_checksum(out / "sql")
        if bundled != self._expected_sql_checksum:
            raise BundlingError(
                f"bundled sql/ checksum {bundled} != {self._expected_sql_checksum}: sql/ changed"
                " during synth"
            )
        return True


def _docker_command(repo_root: Path, sql_dir: Path) -> str:
    package_dir = repo_root / "lambda" / "db_init"
    modules = [
        shlex.quote(path.relative_to(repo_root).as_posix())
        for path in handler_closure(package_dir).values()
    ]
    sql = shlex.quote(sql_dir.relative_to(repo_root).as_posix())
    return (
        "pip install --no-compile --only-binary=:all: -r requirements.txt -t /asset-output"
        f" && mkdir -p /asset-output/db_init && cp {' '.join(modules)} /asset-output/db_init/"
        f" && cp -r lambda/certs /asset-output/ && cp -r {sql} /asset-output/sql"
        " && find /asset-output -name __pycache__ -prune -exec rm -rf {} +"
        " && python -m compileall -q --invalidation-mode unchecked-hash"
        f" -s /asset-output -p {LAMBDA_TASK_ROOT} /asset-output"
    )


def initializer_code(*, repo_root: Path, sql_dir: Path, sql_checksum: str) -> lambda_.Code:
    """Lambda code asset for the schema initializer, hashed by its bundled output."""
    return lambda_.Code.from_asset(
        str(repo_root),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry(
                f"public.ecr.aws/sam/build-python{LAMBDA_PYTHON_VERSION}:latest-arm64"
            ),
            command=["bash", "-c", _docker_command(repo_root, sql_dir)],
            platform="linux/arm64",
            local=LocalBundling(
                repo_root=repo_root, sql_dir=sql_dir, expected_sql_checksum=sql_checksum
            ),
        ),
    )
