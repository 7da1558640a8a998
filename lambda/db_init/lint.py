"""Destructive-change lint of migrations: the rules, findings, allow markers and entry points.

Parsing is PostgreSQL's own parser (pglast, in lint_rules.py), imported only when linting.
pglast is a C extension left out of the Lambda bundle (size, native build): there the engine
applies without re-linting and relies on the lint that ran at synth time and in `make test`
over the same bytes (the asset and its SqlChecksum are built from one copy of sql/).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from db_init.errors import LintError, SettingsError

MARKER_PREFIX = "allow:"
# The text of one `-- allow: <rule-id> reason: <text>` comment, after the leading `--`.
_MARKER = re.compile(r"allow:\s*(?P<rule>[A-Za-z0-9_-]*)\s*(?:reason:\s*(?P<reason>.*))?")


@dataclass(frozen=True)
class Rule:
    """What a rule catches and how to make the same change safely."""

    summary: str
    advice: str
    allowable: bool = True


RULES: dict[str, Rule] = {
    "drop-table": Rule(
        "drops a table and every row in it",
        "stop reading and writing it in one release, back it up, drop it in a later migration",
    ),
    "drop-column": Rule(
        "drops a column and its data; running code that selects it breaks",
        "stop using the column in one release, then drop it in a later migration",
    ),
    "drop-schema": Rule(
        "drops a schema and, with CASCADE, everything in it",
        "drop the objects one by one in migrations that each say why",
    ),
    "drop-type": Rule(
        "drops a type or domain; columns using it block the drop or go with CASCADE",
        "move the columns off the type in an earlier migration first",
    ),
    "truncate": Rule(
        "deletes every row of an existing table",
        "delete the rows you mean with a WHERE clause, or archive them first",
    ),
    "delete-without-where": Rule(
        "deletes every row of an existing table",
        "add a WHERE clause naming the rows to delete",
    ),
    "update-without-where": Rule(
        "updates every row of an existing table (and locks all of them)",
        "add a WHERE clause; backfill large tables in batches",
    ),
    "alter-column-type": Rule(
        "changes a column type, which rewrites the table under an ACCESS EXCLUSIVE lock",
        "add a new column, backfill it in batches, switch readers, then drop the old one",
    ),
    "set-not-null": Rule(
        "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
        "add CHECK (col IS NOT NULL) NOT VALID and VALIDATE it in earlier migrations, "
        "then SET NOT NULL",
    ),
    "add-foreign-key": Rule(
        "adds a foreign key to an existing table, validating every row under lock",
        "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    ),
    "add-check": Rule(
        "adds a CHECK to an existing table, validating every row under lock",
        "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    ),
    "add-unique": Rule(
        "adds a UNIQUE / PRIMARY KEY constraint, building its index while blocking writes",
        "CREATE UNIQUE INDEX CONCURRENTLY in a non-transactional migration, then "
        "ADD CONSTRAINT ... USING INDEX",
    ),
    "create-index": Rule(
        "builds an index on an existing table while blocking writes to it",
        "use CREATE INDEX CONCURRENTLY alone in a file marked `-- shoppulse:non-transactional`",
    ),
    "rename-table": Rule(
        "renames a table; running application code still uses the old name",
        "create the new name as a view or a copy, move the code, then drop the old name",
    ),
    "rename-column": Rule(
        "renames a column; running application code still uses the old name",
        "add the new column, write both, move the readers, then drop the old one",
    ),
    "non-transactional": Rule(
        "cannot run inside a transaction, but the file is not marked non-transactional",
        "put it alone in a file whose first line is `-- shoppulse:non-transactional`",
        allowable=False,
    ),
    "transaction-control": Rule(
        "controls the transaction, which the engine owns",
        "remove it: the engine wraps each file in its own transaction",
        allowable=False,
    ),
    "syntax-error": Rule("is not valid PostgreSQL", "fix the statement", allowable=False),
    "allow-without-reason": Rule(
        "allow marker without a rule id and a reason",
        "write `-- allow: <rule-id> reason: <why this is safe>`",
        allowable=False,
    ),
    "unknown-rule": Rule(
        "allow marker names no known rule",
        "use one of the rule ids `shoppulse-db lint` reports",
        allowable=False,
    ),
}


@dataclass(frozen=True)
class Allowance:
    """One `-- allow: <rule-id> reason: <text>` marker of a file."""

    rule: str
    reason: str
    line: int


@dataclass(frozen=True)
class Finding:
    """One rule hit at a file line; `allowed_by` holds the marker's reason when allowed."""

    path: Path
    line: int
    rule: str
    message: str
    allowed_by: str | None = None

    @property
    def advice(self) -> str:
        """How to make the same change safely."""
        return RULES[self.rule].advice

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.rule} {self.message} -> {self.advice}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"path": str(self.path), "advice": self.advice}


@dataclass(frozen=True)
class FileReport:
    """Every finding of one file (allowed or not) and its allow markers."""

    path: Path
    findings: tuple[Finding, ...]
    allowances: tuple[Allowance, ...] = field(default=())

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings no marker allows."""
        return tuple(f for f in self.findings if f.allowed_by is None)

    @property
    def allowed(self) -> tuple[Finding, ...]:
        """Findings an allow marker covers."""
        return tuple(f for f in self.findings if f.allowed_by is not None)


def available() -> bool:
    """Whether the parser (pglast) is installed; it is not in the Lambda bundle."""
    return importlib.util.find_spec("pglast") is not None


def lint_paths(paths: Sequence[Path]) -> list[FileReport]:
    """Lint files and directories (their *.sql, by name) in order; later files see earlier ones."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix == ".sql" and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise SettingsError(f"{path}: no such file or directory to lint")
    return lint_texts([(p, _read(p)) for p in files])


def lint_texts(files: Iterable[tuple[Path, str]]) -> list[FileReport]:
    """Lint (path, text) pairs of one migration set, oldest first."""
    if not available():
        raise SettingsError("lint needs pglast: pip install -r requirements-cli.txt")
    from db_init import lint_rules  # noqa: PLC0415 - pglast is not in the Lambda bundle

    state = lint_rules.SetState()
    reports: list[FileReport] = []
    for path, text in files:
        hits, comments = lint_rules.lint_file(text, state)
        markers, marker_findings = _markers(path, comments)
        findings = [
            Finding(path, line, rule, f"{what}: {RULES[rule].summary}") for line, rule, what in hits
        ]
        reports.append(
            FileReport(
                path=path,
                findings=tuple(_allow(findings, markers) + marker_findings),
                allowances=tuple(markers),
            )
        )
    return reports


def refuse_unallowed(reports: Sequence[FileReport], *, names: set[str]) -> None:
    """Raise LintError when a file among `names` (file names) has a finding no marker allows.

    Syntax errors are left to the server, whose parser version is the one that counts and
    whose error names the file, line and SQLSTATE.
    """
    errors = [
        f for r in reports if r.path.name in names for f in r.errors if f.rule != "syntax-error"
    ]
    if not errors:
        return
    first = replace(errors[0], path=Path(errors[0].path.parent.name) / errors[0].path.name)
    more = f" (+{len(errors) - 1} more: `shoppulse-db lint`)" if len(errors) > 1 else ""
    raise LintError(
        f"{first}{more}; nothing was applied -- or allow it: `-- allow: {first.rule} reason: ...`"
    )


def allowances(text: str) -> list[Allowance]:
    """The well-formed allow markers of a file, from whole-line comments, without the parser.

    The engine records these in the history when pglast is absent (the Lambda); lint, which
    has the parser, also ignores marker-like lines inside strings and function bodies.
    """
    comments = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.lstrip().startswith("--")
    ]
    return _markers(Path(), comments)[0]


def _markers(
    path: Path, comments: Sequence[tuple[int, str]]
) -> tuple[list[Allowance], list[Finding]]:
    """Parse whole-line `--` comments: valid allowances, and findings for malformed markers."""
    markers: list[Allowance] = []
    problems: list[Finding] = []
    for line, comment in comments:
        body = comment[2:].strip()
        if not body.startswith(MARKER_PREFIX):
            continue
        match = _MARKER.fullmatch(body)
        rule = match["rule"] if match else ""
        reason = (match["reason"] or "").strip() if match else ""
        if not rule or not reason:
            problems.append(
                Finding(
                    path, line, "allow-without-reason", f"`{body[:60]}` names no rule or reason"
                )
            )
        elif rule not in RULES or not RULES[rule].allowable:
            problems.append(
                Finding(path, line, "unknown-rule", f"`{rule}` cannot be allowed by a marker")
            )
        else:
            markers.append(Allowance(rule, reason, line))
    return markers, problems


def _allow(findings: list[Finding], markers: list[Allowance]) -> list[Finding]:
    reasons = {m.rule: m.reason for m in markers}
    return [
        replace(f, allowed_by=reasons[f.rule])
        if f.rule in reasons and RULES[f.rule].allowable
        else f
        for f in findings
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SettingsError(f"{path}: not UTF-8 (byte {error.start})") from None
