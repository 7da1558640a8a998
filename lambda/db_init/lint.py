"""Destructive-change lint of migrations: findings, the run context, and the entry points.

Parsing is PostgreSQL's own parser (pglast, in the lint_rules package), imported only when
linting. pglast is a C extension left out of the Lambda bundle (size, native build): there the
engine applies without re-linting and relies on the lint that ran at synth time and in
`make test` over the same bytes (the asset and its SqlChecksum are built from one copy of sql/).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from db_init import lint_markers
from db_init.errors import LintError, SettingsError
from db_init.lint_catalog import RULES, Rule
from db_init.lint_config import LintSettings
from db_init.lint_markers import Allowance

__all__ = [
    "RULES",
    "Allowance",
    "FileReport",
    "Finding",
    "LintSettings",
    "Rule",
    "RunContext",
    "allowances",
    "available",
    "lint_paths",
    "lint_texts",
    "refuse_unallowed",
]


@dataclass(frozen=True)
class RunContext:
    """What the target database says about this run: the migration files pending there.

    Without a database (`pending` None) every file is linted as if the ones before it were
    applied long ago, so each table an earlier file created is taken to hold rows.
    """

    pending: frozenset[str] | None = None  # file names

    @property
    def against_database(self) -> bool:
        """Whether the pending set came from a database."""
        return self.pending is not None

    def is_pending(self, path: Path) -> bool:
        """Whether `path` runs in this run (every file, without a database)."""
        return self.pending is None or path.name in self.pending

    def describe(self) -> str:
        """One line for the output: what `existing table` means in this run."""
        if self.pending is None:
            return (
                "no database given: every table an earlier migration creates is taken to hold "
                "rows (pass --against DATABASE_URL to treat tables of pending migrations as new)"
            )
        return (
            f"against the database: {len(self.pending)} pending migration(s); tables they "
            "create are new in this run"
        )


@dataclass(frozen=True)
class Finding:
    """One rule hit at a file position; `allowed_by` holds the marker's reason when allowed."""

    path: Path
    line: int
    column: int
    rule: str
    message: str
    allowed_by: str | None = None

    @property
    def advice(self) -> str:
        """How to make the same change safely."""
        return RULES[self.rule].advice

    @property
    def location(self) -> str:
        """`file:line:column`."""
        return f"{self.path}:{self.line}:{self.column}"

    def __str__(self) -> str:
        return f"{self.location} {self.rule} {self.message} -> {self.advice}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"path": str(self.path), "advice": self.advice}


@dataclass(frozen=True)
class FileReport:
    """Every finding of one file (allowed or not) and its allow markers."""

    path: Path
    findings: tuple[Finding, ...]
    allowances: tuple[Allowance, ...] = field(default=())
    pending: bool = True  # runs in this run (always, without a database)

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


def files_of(paths: Sequence[Path]) -> list[Path]:
    """Files and directories (their *.sql, by name) in order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix == ".sql" and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise SettingsError(f"{path}: no such file or directory to lint")
    return files


def lint_paths(
    paths: Sequence[Path],
    *,
    settings: LintSettings | None = None,
    context: RunContext | None = None,
) -> list[FileReport]:
    """Lint files and directories (their *.sql, by name) in order; later files see earlier ones."""
    return lint_texts([(p, _read(p)) for p in files_of(paths)], settings=settings, context=context)


def lint_texts(
    files: Iterable[tuple[Path, str]],
    *,
    settings: LintSettings | None = None,
    context: RunContext | None = None,
) -> list[FileReport]:
    """Lint (path, text) pairs of one migration set, oldest first."""
    if not available():
        raise SettingsError("lint needs pglast: pip install -r requirements-cli.txt")
    from db_init import lint_rules  # noqa: PLC0415 - pglast is not in the Lambda bundle

    settings = settings or LintSettings()
    context = context or RunContext()
    state = lint_rules.SetState()
    reports: list[FileReport] = []
    for path, text in files:
        linted = lint_rules.lint_file(text, state, pg_version=settings.pg_version)
        pending = context.is_pending(path)
        if context.against_database and pending:
            state.created_in_run |= linted.created
        markers, problems = lint_markers.parse(linted.comments)
        covered = lint_markers.coverage(markers, linted.statement_lines, text)
        findings = [
            _finding(path, hit, covered) for hit in linted.hits if hit.rule not in settings.disabled
        ]
        findings += [Finding(path, p.line, 1, p.rule, p.message) for p in problems]
        findings.sort(key=lambda f: (f.line, f.column))
        reports.append(FileReport(path, tuple(findings), tuple(markers), pending=pending))
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
    return lint_markers.parse(comments)[0]


def _finding(path: Path, hit: Any, covered: Sequence[lint_markers.Coverage]) -> Finding:
    rule = RULES[hit.rule]
    finding = Finding(path, hit.line, hit.column, hit.rule, f"{hit.what}: {rule.summary}")
    marker = lint_markers.allows(covered, hit.rule, hit.statement) if rule.allowable else None
    return replace(finding, allowed_by=marker.reason) if marker else finding


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SettingsError(f"{path}: not UTF-8 (byte {error.start})") from None
