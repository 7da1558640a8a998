"""docs/lint.md: every rule's documented examples, linted; flagged ones fire it, passing ones nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from db_init import lint
from db_init.lint_config import LintSettings
from tests.postgres import REPO

DOCS = REPO / "docs" / "lint.md"
_SECTION = re.compile(r"^### `(?P<rule>[a-z-]+)`$", re.MULTILINE)
_LABEL = re.compile(r"^(?P<kind>Flagged|Passes)(?: on PostgreSQL (?P<pg>\d+))?:$")
_BLOCK = re.compile(r"```sql\n(.*?)\n```", re.DOTALL)
META = {"syntax-error", "allow-without-reason", "unknown-rule"}


@dataclass(frozen=True)
class Example:
    """One labelled example of a rule's section: its files and the PostgreSQL version."""

    rule: str
    flagged: bool
    pg_version: int | None
    files: tuple[str, ...]

    def __str__(self) -> str:
        version = f"-pg{self.pg_version}" if self.pg_version else ""
        return f"{self.rule}-{'flagged' if self.flagged else 'passes'}{version}"


def _sections() -> dict[str, str]:
    text = DOCS.read_text()
    found = list(_SECTION.finditer(text))
    return {
        m["rule"]: text[m.end() : found[i + 1].start() if i + 1 < len(found) else len(text)]
        for i, m in enumerate(found)
    }


def _base() -> str:
    rules = DOCS.read_text().split("## Rules", 1)[1]
    match = _BLOCK.search(rules)
    assert match
    return match.group(1)


def _examples() -> list[Example]:
    examples: list[Example] = []
    for rule, body in _sections().items():
        label: re.Match[str] | None = None
        files: list[str] = []
        for line_or_block in re.split(r"(```sql\n.*?\n```)", body, flags=re.DOTALL):
            for line in line_or_block.splitlines():
                if (found := _LABEL.match(line.strip())) is not None:
                    if label is not None:
                        examples.append(_example(rule, label, files))
                    label, files = found, []
            if line_or_block.startswith("```sql"):
                files.append(line_or_block[len("```sql\n") : -len("\n```")])
        if label is not None:
            examples.append(_example(rule, label, files))
    return examples


def _example(rule: str, label: re.Match[str], files: list[str]) -> Example:
    pg = int(label["pg"]) if label["pg"] else None
    return Example(rule, label["kind"] == "Flagged", pg, tuple(files))


EXAMPLES = _examples()


def _fired(example: Example, directory: Path) -> list[str]:
    paths = []
    for number, body in enumerate([_base(), *example.files], start=1):
        path = directory / f"V{number:03d}__example.sql"
        path.write_text(body + "\n")
        paths.append(path)
    settings = LintSettings(pg_version=example.pg_version or LintSettings().pg_version)
    reports = lint.lint_paths(paths, settings=settings)
    assert not reports[0].errors, f"the documented base schema has findings: {reports[0].errors}"
    return [f.rule for report in reports[1:] for f in report.errors]


def test_every_rule_is_documented_with_its_summary_advice_and_both_examples() -> None:
    sections = _sections()
    assert list(sections) == list(lint.RULES)  # same rules, same order
    for rule, spec in lint.RULES.items():
        assert f"**Why:** {spec.summary}." in sections[rule], rule
        assert f"**Instead:** {spec.advice}." in sections[rule], rule
        kinds = {e.flagged for e in EXAMPLES if e.rule == rule}
        assert kinds == {True, False}, f"{rule} needs a flagged and a passing example"


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.flagged], ids=str)
def test_flagged_example_fires_its_rule(example: Example, tmp_path: Path) -> None:
    # GIVEN the documented base schema and the rule's flagged example WHEN it is linted
    fired = _fired(example, tmp_path)
    # THEN the rule fires (and, for a real rule, nothing else does)
    assert example.rule in fired
    if example.rule not in META:
        assert set(fired) == {example.rule}


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not e.flagged], ids=str)
def test_passing_example_is_clean(example: Example, tmp_path: Path) -> None:
    assert _fired(example, tmp_path) == []
