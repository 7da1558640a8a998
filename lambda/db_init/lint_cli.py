"""The `shoppulse-db lint` command: its flags, settings and run context, and its output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from db_init import engine, lint, lint_config, lint_report
from db_init.deadline import Deadline
from db_init.scripts import Kind
from db_init.settings import ApplyOptions, parse_database_url


def add_arguments(sub: argparse.ArgumentParser) -> None:
    """The lint subcommand's own flags."""
    sub.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="files or directories (default: pyproject's [tool.shoppulse-db.lint] paths, "
        "else sql/migrations)",
    )
    sub.add_argument(
        "--format",
        dest="lint_format",
        choices=lint_report.FORMATS,
        default="text",
        help="text (default), json, github (workflow annotations) or sarif",
    )
    sub.add_argument(
        "--against",
        metavar="DATABASE_URL",
        help="read which migrations are pending in this database: tables they create are new",
    )
    sub.add_argument(
        "--pg-version",
        type=lint_config.pg_version,
        default=None,
        help="PostgreSQL major version the verdicts assume (default: pyproject's pg-version, "
        f"else {lint_config.DEFAULT_PG_VERSION})",
    )


def run(
    args: argparse.Namespace, *, options: ApplyOptions, deadline: Deadline
) -> tuple[bool, dict[str, Any] | None]:
    """Lint, print in the chosen format; (findings?, JSON payload when --json)."""
    settings = options.lint.with_pg_version(args.pg_version)
    paths = args.paths or list(settings.paths) or [options.sql_dir / "migrations"]
    context = _context(args.against, options=options, deadline=deadline)
    reports = [r for r in lint.lint_paths(paths, settings=settings, context=context) if r.pending]
    found = any(r.errors for r in reports)
    if args.json:
        body = lint_report.as_json(reports, context=context, pg_version=settings.pg_version)
        return found, {k: v for k, v in body.items() if k not in ("ok", "command")}
    out, err = lint_report.render(
        reports, output_format=args.lint_format, context=context, pg_version=settings.pg_version
    )
    if out:
        print(out)
    if err:
        print(err, file=sys.stderr)
    return found, None


def _context(url: str | None, *, options: ApplyOptions, deadline: Deadline) -> lint.RunContext:
    if not url:
        return lint.RunContext()
    pending = engine.plan(parse_database_url(url), options, deadline)
    return lint.RunContext(pending=frozenset(s.name for s in pending if s.kind is Kind.MIGRATION))
