"""Lint results rendered for people (text), programs (json), GitHub Actions and SARIF tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from db_init.lint import FileReport, Finding, RunContext
from db_init.lint_catalog import RULES

FORMATS = ("text", "json", "github", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DOCS_PAGE = "docs/lint.md"


def render(
    reports: Sequence[FileReport], *, output_format: str, context: RunContext, pg_version: int
) -> tuple[str, str]:
    """(stdout, stderr) text for `reports` in `output_format`."""
    errors = [f for r in reports for f in r.errors]
    allowed = [f for r in reports for f in r.allowed]
    summary = (
        f"lint: {len(errors)} finding(s), {len(allowed)} allowed by marker, in {len(reports)} "
        f"file(s), PostgreSQL {pg_version}; {context.describe()}"
    )
    if output_format == "json":
        return json.dumps(as_json(reports, context=context, pg_version=pg_version)), ""
    if output_format == "github":
        return "\n".join(github(f) for f in errors + allowed), summary
    if output_format == "sarif":
        return json.dumps(sarif(errors + allowed), indent=2), summary
    lines = [str(f) for f in errors]
    lines += [f"{f.location} {f.rule} allowed: {f.allowed_by}" for f in allowed]
    return "\n".join(lines), summary


def as_json(
    reports: Sequence[FileReport], *, context: RunContext, pg_version: int
) -> dict[str, Any]:
    """The JSON body of `shoppulse-db lint --format json`."""
    errors = [f for r in reports for f in r.errors]
    return {
        "ok": not errors,
        "command": "lint",
        "files": len(reports),
        "findings": [f.to_dict() for f in errors],
        "allowed": [f.to_dict() for r in reports for f in r.allowed],
        "context": {
            "against_database": context.against_database,
            "pending": sorted(context.pending) if context.pending is not None else None,
            "pg_version": pg_version,
            "assumption": context.describe(),
        },
    }


def github(finding: Finding) -> str:
    """A GitHub Actions workflow command that annotates the finding's line."""
    level = "notice" if finding.allowed_by else "error"
    text = (
        f"{finding.message} (allowed: {finding.allowed_by})"
        if finding.allowed_by
        else f"{finding.message} -> {finding.advice}"
    )
    return (
        f"::{level} file={_property(str(finding.path))},line={finding.line},"
        f"col={finding.column},title={_property(finding.rule)}::{_data(text)}"
    )


def sarif(findings: Sequence[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run; allowed findings carry an in-source suppression."""
    used = sorted({f.rule for f in findings})
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "shoppulse-db lint",
                        "informationUri": DOCS_PAGE,
                        "rules": [_sarif_rule(rule) for rule in used],
                    }
                },
                "results": [_sarif_result(f, used.index(f.rule)) for f in findings],
            }
        ],
    }


def _sarif_rule(rule: str) -> dict[str, Any]:
    spec = RULES[rule]
    return {
        "id": rule,
        "shortDescription": {"text": spec.summary},
        "help": {"text": spec.advice},
        "helpUri": f"{DOCS_PAGE}#{rule}",
        "defaultConfiguration": {"level": "error"},
    }


def _sarif_result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": f"{finding.message} -> {finding.advice}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.path.as_posix()},
                    "region": {"startLine": finding.line, "startColumn": finding.column},
                }
            }
        ],
    }
    if finding.allowed_by:
        result["suppressions"] = [{"kind": "inSource", "justification": finding.allowed_by}]
    return result


def _data(text: str) -> str:
    # GitHub's workflow-command escaping: the message may not hold raw %, CR or LF.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
