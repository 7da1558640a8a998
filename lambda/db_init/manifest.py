"""The compact migration manifest (`V001:5d06ebcf`) the custom resource carries for `cdk diff`."""

from __future__ import annotations

from pathlib import Path

from db_init import scripts
from db_init.scripts import ScriptSet

CHECKSUM_CHARS = 8  # enough to see a change in `cdk diff`; ~14 bytes a migration in the template


def migration_manifest(scriptset: ScriptSet) -> list[str]:
    """`["V001:5d06ebcf", ...]`: every migration's label and short sha256, in version order."""
    return [f"{m.label}:{m.checksum[:CHECKSUM_CHARS]}" for m in scriptset.migrations]


def manifest_of(sql_dir: Path) -> list[str]:
    """The manifest of the migrations under `sql_dir` (the bytes the CDK app bundles)."""
    return migration_manifest(scripts.load(sql_dir))
