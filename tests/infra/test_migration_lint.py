"""infra.migration_lint: destructive migrations block synth, allowed ones are reported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match

from db_init import lint
from infra.migration_lint import SKIPPED_WARNING_ID, annotate_lint_findings
from tests.infra.conftest import (
    REPO_ROOT,
    TEST_ACCOUNT,
    Synthesized,
    placeholder_context,
    synthesize,
)

DROP_COLUMN = "ALTER TABLE orders DROP COLUMN store_id;\n"
ALLOW_MARKER = "-- allow: drop-column reason: column unused since release 4.2\n"
CDK_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"


def _sql_tree(tmp_path: Path, v904: str) -> Path:
    """A copy of the repo's sql/ plus V904__drop_note.sql holding `v904`."""
    sql_dir = tmp_path / "sql"
    shutil.copytree(REPO_ROOT / "sql", sql_dir, ignore=shutil.ignore_patterns("__pycache__"))
    (sql_dir / "migrations" / "V904__drop_note.sql").write_text(v904)
    return sql_dir


def _context(sql_dir: Path) -> dict[str, Any]:
    return {**placeholder_context(), "env": "dev", "sqlRoot": str(sql_dir)}


def _error_annotations(outdir: Path) -> list[str]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        violation["description"]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        if violation["ruleName"] == "Annotation::error-annotation"
    ]


def test_an_unallowed_destructive_migration_fails_synth_naming_file_line_and_rule(
    tmp_path: Path,
) -> None:
    # GIVEN sql/ plus a migration that drops a column without an allow marker
    sql_dir = _sql_tree(tmp_path, DROP_COLUMN)
    # WHEN the app synthesizes THEN synth fails on the annotation, which names file, line, rule
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(_context(sql_dir), tmp_path / "out")
    errors = _error_annotations(tmp_path / "out")
    assert len(errors) == 1
    assert errors[0].startswith("sql/migrations/V904__drop_note.sql:1:1 drop-column ")
    assert "->" in errors[0]  # and how to make the change safely


def test_the_same_migration_with_an_allow_marker_synthesizes_with_an_info(
    tmp_path: Path,
) -> None:
    # GIVEN the same drop preceded by `-- allow: drop-column reason: ...`
    sql_dir = _sql_tree(tmp_path, ALLOW_MARKER + DROP_COLUMN)
    # WHEN the app synthesizes THEN no error, an info with the reason, and the plan shows V904
    synthesized: Synthesized = synthesize(_context(sql_dir), tmp_path / "out")
    annotations = Annotations.from_stack(synthesized.stack)
    assert not annotations.find_error("*", Match.any_value())
    infos = [
        str(message.entry.data)
        for message in annotations.find_info("/ShopPulseDb-dev/Initializer", Match.any_value())
    ]
    [info] = [text for text in infos if "V904__drop_note.sql" in text]
    assert info.startswith("sql/migrations/V904__drop_note.sql:2:1 drop-column ")
    assert info.endswith("(allowed: column unused since release 4.2)")
    _, schema = synthesized.only("Custom::ShopPulseSchema")
    assert schema["Properties"]["Migrations"].split(",")[-1].startswith("V904:")


def test_the_released_migrations_lint_clean() -> None:
    reports = lint.lint_paths([REPO_ROOT / "sql" / "migrations"])
    assert reports, "no migrations linted"
    assert [str(error) for report in reports for error in report.errors] == []


def test_a_missing_parser_is_a_warning_not_a_silent_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN pglast is not importable WHEN the lint runs THEN synth warns that lint did not run
    monkeypatch.setattr(lint, "available", lambda: False)
    stack = cdk.Stack(cdk.App(), "Lint")
    annotate_lint_findings(stack, sql_dir=REPO_ROOT / "sql")
    Annotations.from_stack(stack).has_warning(
        "/Lint", Match.string_like_regexp(f"lint did not run.*{SKIPPED_WARNING_ID}")
    )


@pytest.mark.skipif(not CDK_CLI.exists(), reason="CDK CLI not installed (npm ci)")
def test_cdk_synth_cli_exits_non_zero_on_an_unallowed_migration(tmp_path: Path) -> None:
    # GIVEN the real CLI pointed at a copy of sql/ with an unallowed drop (-c sqlRoot)
    sql_dir = _sql_tree(tmp_path, DROP_COLUMN)
    environment = {**os.environ, "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    # WHEN `cdk synth` runs THEN it fails and says why
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "-c", "env=dev", "-c", f"account={TEST_ACCOUNT}",
         "-c", f"sqlRoot={sql_dir}",
         "--quiet", "--output", str(tmp_path / "cdk.out")],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "sql/migrations/V904__drop_note.sql:1:1 drop-column" in result.stdout + result.stderr
