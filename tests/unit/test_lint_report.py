"""Lint output: text, JSON, GitHub workflow annotations and SARIF, each locating file:line:column."""

from __future__ import annotations

import json
from pathlib import Path

from db_init import lint, lint_report

ALLOWED = "-- allow: truncate reason: scratch rows only\nTRUNCATE orders;\n"
UNSAFE = "SELECT 1;\n  ALTER TABLE orders DROP COLUMN note;\n"


def _reports(tmp_path: Path) -> list[lint.FileReport]:
    base = tmp_path / "V001__base.sql"
    base.write_text("CREATE TABLE orders (note text);\n")
    (tmp_path / "V002__allowed.sql").write_text(ALLOWED)
    (tmp_path / "V003__unsafe.sql").write_text(UNSAFE)
    return lint.lint_paths([tmp_path])


def _render(tmp_path: Path, output_format: str) -> tuple[str, str]:
    return lint_report.render(
        _reports(tmp_path), output_format=output_format, context=lint.RunContext(), pg_version=16
    )


def test_text_lists_findings_then_allowed_ones_and_says_what_it_assumed(tmp_path: Path) -> None:
    out, err = _render(tmp_path, "text")

    assert out.splitlines() == [
        f"{tmp_path}/V003__unsafe.sql:2:3 drop-column ALTER TABLE orders DROP COLUMN note: drops "
        "a column and its data; running code that selects it breaks -> stop using the column in "
        "one release, then drop it in a later migration",
        f"{tmp_path}/V002__allowed.sql:2:1 truncate allowed: scratch rows only",
    ]
    assert err.startswith("lint: 1 finding(s), 1 allowed by marker, in 3 file(s), PostgreSQL 16;")
    assert "no database given" in err


def test_json_carries_positions_and_the_context(tmp_path: Path) -> None:
    out, _ = _render(tmp_path, "json")

    body = json.loads(out)

    assert body["ok"] is False
    assert [(f["rule"], f["line"], f["column"]) for f in body["findings"]] == [
        ("drop-column", 2, 3)
    ]
    assert [f["allowed_by"] for f in body["allowed"]] == ["scratch rows only"]
    assert body["context"]["against_database"] is False


def test_github_annotations_are_workflow_commands(tmp_path: Path) -> None:
    out, _ = _render(tmp_path, "github")

    error, notice = out.splitlines()
    assert error.startswith(
        f"::error file={tmp_path}/V003__unsafe.sql,line=2,col=3,title=drop-column::ALTER TABLE"
    )
    assert notice.startswith(
        f"::notice file={tmp_path}/V002__allowed.sql,line=2,col=1,title=truncate::"
    )
    assert notice.endswith("(allowed: scratch rows only)")


def test_github_escapes_what_would_end_a_workflow_command() -> None:
    finding = lint.Finding(Path("a,b:c.sql"), 1, 1, "truncate", "50% of\nrows")
    assert lint_report.github(finding).startswith(
        "::error file=a%2Cb%3Ac.sql,line=1,col=1,title=truncate::50%25 of%0Arows"
    )


def test_sarif_is_a_2_1_0_log_with_rules_locations_and_suppressions(tmp_path: Path) -> None:
    out, _ = _render(tmp_path, "sarif")

    log = json.loads(out)
    [run] = log["runs"]
    assert log["version"] == "2.1.0"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["drop-column", "truncate"]
    unsafe, allowed = run["results"]
    assert unsafe["ruleId"] == "drop-column"
    assert unsafe["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 2,
        "startColumn": 3,
    }
    assert "suppressions" not in unsafe
    assert allowed["suppressions"] == [{"kind": "inSource", "justification": "scratch rows only"}]
    assert run["tool"]["driver"]["rules"][allowed["ruleIndex"]]["id"] == "truncate"
