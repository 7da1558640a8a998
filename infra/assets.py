"""The initializer Lambda asset (local bundling, Docker only as fallback) and the SQL checksum."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from db_init.scripts import sql_tree_checksum

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
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
    try:
        os.replace(staging, target)  # atomic: a concurrent synth either sees all of it or none
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process won the race; use theirs
    return target


@jsii.implements(ILocalBundling)
class LocalBundling:
    """Assembles db_init/, certs/, sql/ and the vendored deps without Docker."""

    def __init__(self, *, repo_root: Path, sql_dir: Path, expected_sql_checksum: str) -> None:
        self._root = repo_root
        self._sql_dir = sql_dir
        self._expected_sql_checksum = expected_sql_checksum

    def try_bundle(self, output_dir: str, *, image: DockerImage, **options: object) -> bool:
        """Build the asset into output_dir; returning False would hand over to Docker."""
        del image, options  # the Docker image and command are only for the fallback
        out = Path(output_dir)
        try:
            deps = runtime_dependencies(
                self._root / "requirements.txt", self._root / "build" / "lambda-deps"
            )
        except BundlingError as error:
            # The Docker command copies the repository's own sql/, so it is no fallback for
            # another SQL tree (-c sqlRoot=...).
            if shutil.which("docker") is None or self._sql_dir != self._root / "sql":
                raise  # no fallback: pip's own message is the useful one
            print(f"local bundling failed, trying Docker: {error}", file=sys.stderr)
            return False
        shutil.copytree(deps, out, dirs_exist_ok=True)
        shutil.copytree(self._root / "lambda" / "db_init", out / "db_init", ignore=_IGNORED)
        shutil.copytree(self._root / "lambda" / "certs", out / "certs", ignore=_IGNORED)
        shutil.copytree(self._sql_dir, out / "sql", ignore=_IGNORED)
        # The SqlChecksum property is computed from the repo; the Lambda recomputes it from
        # the bundle and refuses to run on a mismatch, so prove here they are the same bytes.
        bundled = sql_tree_checksum(out / "sql")
        if bundled != self._expected_sql_checksum:
            raise BundlingError(
                f"bundled sql/ checksum {bundled} != {self._expected_sql_checksum}: sql/ changed"
                " during synth"
            )
        return True


def initializer_code(*, repo_root: Path, sql_dir: Path, sql_checksum: str) -> lambda_.Code:
    """Lambda code asset for the schema initializer, hashed by its bundled output."""
    docker_command = (
        "pip install --no-compile --only-binary=:all: -r requirements.txt -t /asset-output"
        " && cp -r lambda/db_init lambda/certs sql /asset-output/"
        " && find /asset-output -name __pycache__ -prune -exec rm -rf {} +"
    )
    return lambda_.Code.from_asset(
        str(repo_root),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry(
                f"public.ecr.aws/sam/build-python{LAMBDA_PYTHON_VERSION}:latest-arm64"
            ),
            command=["bash", "-c", docker_command],
            platform="linux/arm64",
            local=LocalBundling(
                repo_root=repo_root, sql_dir=sql_dir, expected_sql_checksum=sql_checksum
            ),
        ),
    )
