"""Destructive-change lint of the migrations at synth: findings become CDK annotations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from aws_cdk import Annotations
from constructs import IConstruct

from db_init import lint

SKIPPED_WARNING_ID = "shoppulse:lint-skipped"


def annotate_lint_findings(scope: IConstruct, *, sql_dir: Path) -> None:
    """Unallowed findings are errors (they fail `cdk synth`), allowed ones are infos."""
    annotations = Annotations.of(scope)
    if not lint.available():
        annotations.add_warning_v2(
            SKIPPED_WARNING_ID,
            "migration lint did not run: pglast is missing (pip install -r requirements-cli.txt)",
        )
        return
    for report in lint.lint_paths([sql_dir / "migrations"]):
        for finding in report.errors:
            annotations.add_error(str(_relative(finding, sql_dir)))
        for finding in report.allowed:
            annotations.add_info(f"{_relative(finding, sql_dir)} (allowed: {finding.allowed_by})")


def _relative(finding: lint.Finding, sql_dir: Path) -> lint.Finding:
    # sql/migrations/V004__x.sql rather than an absolute path: the same message, and the same
    # cloud assembly that records it, on every machine.
    return dataclasses.replace(finding, path=finding.path.relative_to(sql_dir.parent))
