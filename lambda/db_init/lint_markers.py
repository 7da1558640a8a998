"""Allow markers (`-- allow: <rule-id> reason: <text>`): parsing, checking, what each covers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from db_init.lint_catalog import RULES
from db_init.lint_config import allowable_rules, did_you_mean

MARKER_PREFIX = "allow:"
FILE_SCOPE = -1  # Coverage.statement of a marker that covers the whole file
# The text of one `-- allow: <rule-id> reason: <text>` comment, after the leading `--`.
_MARKER = re.compile(r"allow:\s*(?P<rule>[A-Za-z0-9_-]*)\s*(?:reason:\s*(?P<reason>.*))?")


@dataclass(frozen=True)
class Allowance:
    """One `-- allow: <rule-id> reason: <text>` marker of a file (as the history records it)."""

    rule: str
    reason: str
    line: int


@dataclass(frozen=True)
class Problem:
    """A malformed marker: the line, the meta rule it breaks, and what is wrong."""

    line: int
    rule: str
    message: str


@dataclass(frozen=True)
class Coverage:
    """A marker and the statement it covers (index in the file, or FILE_SCOPE)."""

    allowance: Allowance
    statement: int


def parse(comments: Sequence[tuple[int, str]]) -> tuple[list[Allowance], list[Problem]]:
    """Whole-line `--` comments (line, text): valid allowances, and problems of malformed ones."""
    markers: list[Allowance] = []
    problems: list[Problem] = []
    for line, comment in comments:
        body = comment[2:].strip()
        if not body.startswith(MARKER_PREFIX):
            continue
        match = _MARKER.fullmatch(body)
        rule = match["rule"] if match else ""
        reason = (match["reason"] or "").strip() if match else ""
        if not rule or not reason:
            problems.append(
                Problem(line, "allow-without-reason", f"`{body[:60]}` names no rule or reason")
            )
        elif rule not in RULES:
            problems.append(
                Problem(
                    line,
                    "unknown-rule",
                    f"`{rule}` is no lint rule{did_you_mean(rule, allowable_rules())}",
                )
            )
        elif not RULES[rule].allowable:
            problems.append(
                Problem(line, "unknown-rule", f"`{rule}` cannot be allowed by a marker")
            )
        else:
            markers.append(Allowance(rule, reason, line))
    return markers, problems


def coverage(
    markers: Sequence[Allowance], statement_lines: Sequence[int], text: str
) -> list[Coverage]:
    """The statement each marker covers: the one that follows it.

    A marker in the comments before a file's first statement, with a blank line between it and
    that statement, covers the whole file: the form the released migrations use, whose text
    cannot change once applied.
    """
    lines = text.splitlines()
    covered: list[Coverage] = []
    for marker in markers:
        following = next(
            (i for i, start in enumerate(statement_lines) if start > marker.line), None
        )
        if following is None:
            continue  # nothing follows: the marker covers nothing
        start = statement_lines[following]
        between = lines[marker.line : start - 1]
        header = following == 0 and any(not line.strip() for line in between)
        covered.append(Coverage(marker, FILE_SCOPE if header else following))
    return covered


def allows(covered: Sequence[Coverage], rule: str, statement: int) -> Allowance | None:
    """The marker that allows `rule` at `statement`, if any."""
    for item in covered:
        if item.allowance.rule == rule and item.statement in (statement, FILE_SCOPE):
            return item.allowance
    return None
