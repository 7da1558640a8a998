"""The schema commands: apply, plan, verify, validate, status, drift, baseline, lint."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from db_init import baseline, drift, engine, lint_cli, manifest, rehearsal, scripts
from db_init.cli_config import Project
from db_init.cli_target import apply_options, deadline, resolve_target
from db_init.errors import BaselineRefusedError, HistoryError, SqlError
from db_init.settings import parse_version

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_CODE_KEY = "exit_code"  # a command's payload may carry a non-zero exit code
_INVALID_CATALOG = "3D000"
# states of `status` rows that make `status` and `validate` exit 3
PROBLEM_STATES = ("changed", "missing")
log = logging.getLogger("db_init.cli")

Payload = dict[str, Any] | None


def cmd_apply(args: argparse.Namespace, project: Project) -> Payload:
    """Apply pending migrations (and seeds with --seeds), then verify."""
    options = apply_options(args, project)
    target = resolve_target(args, project)
    scratch = None
    if options.dry_run:
        result, scratch = rehearsal.dry_run(target.settings, options, deadline(args, project))
    else:
        result = engine.apply(target.settings, options, deadline(args, project))
    if args.json:
        return {
            "target": target.description,
            "rehearsed_in": scratch,
            "result": result.to_dict(),
        }
    done = "applied"
    if result.dry_run:
        done = (
            f"rehearsed in scratch database {scratch} (dropped)"
            if scratch
            else "rehearsed (rolled back)"
        )
    if result.future:
        print(f"nothing to apply: {_ahead_note(result.future)}")
    elif result.applied:
        print(f"{done} {len(result.applied)} script(s): {' '.join(result.applied_versions)}")
    else:
        print("nothing to apply: the database is up to date")
    for name in result.not_rehearsed:
        print(f"not rehearsed (non-transactional, or after ALTER TYPE ... ADD VALUE): {name}")
    version = f"V{result.schema_version:03d}" if result.schema_version else "none"
    print(
        f"verified: schema version {version}, {result.table_count} tables, "
        f"{result.trigger_count} triggers ({result.timings_ms.get('total', 0)} ms)"
    )
    if result.drift_count:
        print(f"drift: {result.drift_count} object(s) differ (details above; `shoppulse-db drift`)")
    return None


def cmd_plan(args: argparse.Namespace, project: Project) -> Payload:
    """List what apply would run, without changing anything."""
    options = apply_options(args, project)
    target = resolve_target(args, project)
    pending = engine.plan(target.settings, options, deadline(args, project))
    if args.json:
        return {
            "target": target.description,
            "pending": [s.name for s in pending],
            "scripts": [
                {
                    "label": s.label,
                    "kind": s.kind.value,
                    "script": s.name,
                    "checksum": s.checksum,
                    "commits_after": s.adds_enum_values,
                }
                for s in pending
            ],
            "manifest": manifest.manifest_of(options.sql_dir),
        }
    if not pending:
        print("nothing pending")
    for script in pending:
        note = "" if script.transactional else "  (non-transactional: runs alone)"
        if script.adds_enum_values:
            note = "  (ALTER TYPE ... ADD VALUE: the run commits after this file)"
        print(
            f"pending {script.kind.value:9} {script.label} {script.checksum[:8]} "
            f"{script.path.parent.name}/{script.name}{note}"
        )
    return None


def cmd_verify(args: argparse.Namespace, project: Project) -> Payload:
    """Check history and schema against sql/ without changing anything."""
    options = apply_options(args, project)
    target = resolve_target(args, project)
    result = engine.check(target.settings, options, deadline(args, project))
    if args.json:
        return {"target": target.description, "result": result.to_dict()}
    version = f"V{result.schema_version:03d}" if result.schema_version else "none"
    if result.future:
        print(f"note: {_ahead_note(result.future)}; only what sql/ declares was verified")
    print(
        f"ok: schema version {version}, {result.table_count} tables, "
        f"{result.trigger_count} triggers match sql/expected_schema.toml"
    )
    for extra in result.undeclared:
        print(f"note: {extra}")
    return None


def _status_rows(args: argparse.Namespace, project: Project) -> tuple[list[engine.StatusRow], str]:
    options = apply_options(args, project)
    target = resolve_target(args, project)
    try:
        rows = engine.status(target.settings, options, deadline(args, project))
    except SqlError as error:
        if error.sqlstate != _INVALID_CATALOG:
            raise
        log.info("database %s does not exist yet: everything is pending", target.settings.database)
        loaded = scripts.load(options.sql_dir)
        rows = [
            engine.StatusRow(s.kind.value, s.version, s.name, "pending", None, checksum=s.checksum)
            for s in loaded.migrations + loaded.seeds
        ]
    return rows, target.description


def problems_of(rows: list[engine.StatusRow]) -> list[str]:
    """What makes the files and the history disagree, one line each."""
    problems = [
        f"{row.state}: {_where(row)}"
        + (
            f" (recorded sha256 {(row.recorded_checksum or '')[:12]}, file now {row.checksum[:12]})"
            if row.state == "changed"
            else " (applied, but the file is gone)"
            if row.state == "missing"
            else ""
        )
        for row in rows
        if row.state in PROBLEM_STATES
    ]
    applied = [r.version for r in rows if r.kind == "migration" and r.state != "pending"]
    newest = max(applied, default=0)
    problems += [
        f"out of order: {_where(row)} is older than the newest applied migration "
        f"V{newest:03d}; renumber it above V{newest:03d}"
        for row in rows
        if row.kind == "migration" and row.state == "pending" and row.version < newest
    ]
    return problems


def cmd_status(args: argparse.Namespace, project: Project) -> Payload:
    """Show every migration and seed with its state; exit 3 when files and history disagree."""
    rows, description = _status_rows(args, project)
    problems = problems_of(rows)
    code = EXIT_REFUSED if problems else EXIT_OK
    if args.json:
        return {
            EXIT_CODE_KEY: code,
            "target": description,
            "scripts": [asdict(r) for r in rows],
            "problems": problems,
        }
    print(
        f"{'state':8} {'label':5} {'script':48} {'checksum':8} {'applied_at':25} "
        f"{'duration':>9} applied_by"
    )
    for row in rows:
        label = ("V" if row.kind == "migration" else "S") + f"{row.version:03d}"
        duration = (
            "baseline"
            if row.baseline
            else (f"{row.duration_ms} ms" if row.duration_ms is not None else "")
        )
        print(
            f"{row.state:8} {label:5} {_where(row):48} {row.checksum[:8]:8} "
            f"{row.applied_at or '':25} {duration:>9} {row.applied_by or ''}".rstrip()
        )
    if problems:
        print(
            f"status: {len(problems)} problem(s); `shoppulse-db validate` lists them, "
            "apply refuses until they are fixed",
            file=sys.stderr,
        )
    return {EXIT_CODE_KEY: code}


def cmd_validate(args: argparse.Namespace, project: Project) -> Payload:
    """Exit 3 when an applied script changed or is missing, or a new one is out of order."""
    rows, description = _status_rows(args, project)
    problems = problems_of(rows)
    if getattr(args, "on_future", "ignore") == "fail":
        problems += [
            f"future: {_where(row)} (the database is ahead of sql/; --on-future fail)"
            for row in rows
            if row.state == "future"
        ]
    pending = [r for r in rows if r.state == "pending"]
    applied = [r for r in rows if r.state == "applied"]
    if args.json:
        return {
            EXIT_CODE_KEY: EXIT_REFUSED if problems else EXIT_OK,
            "target": description,
            "problems": problems,
            "applied": len(applied),
            "pending": [r.script for r in pending],
        }
    for problem in problems:
        print(problem)
    if problems:
        raise HistoryError(
            f"{len(problems)} problem(s) between sql/ and the history ({problems[0]}); "
            "apply refuses until they are fixed"
        )
    print(f"valid: {len(applied)} applied script(s) match their files; {len(pending)} pending")
    return None


def _where(row: engine.StatusRow) -> str:
    return f"{'migrations' if row.kind == 'migration' else 'seeds'}/{row.script}"


def cmd_lint(args: argparse.Namespace, project: Project) -> Payload:
    """Lint migrations for destructive changes with PostgreSQL's parser (no database needed)."""
    options = apply_options(args, project)
    found, payload = lint_cli.run(args, options=options, deadline=deadline(args, project))
    return (payload or {}) | {EXIT_CODE_KEY: EXIT_REFUSED if found else EXIT_OK}


def cmd_drift(args: argparse.Namespace, project: Project) -> Payload:
    """Compare the live schema with the migrations built in a scratch PostgreSQL."""
    options = apply_options(args, project)
    up_to = parse_version(args.baseline_version) if args.baseline_version else None
    target = resolve_target(args, project)
    log.info(
        "drift: building the migrations in a scratch PostgreSQL and reading both catalogs "
        "(a few seconds)"
    )
    report = drift.check(target.settings, options, deadline(args, project), up_to=up_to)
    code = EXIT_FAILED if report.differences else EXIT_OK
    if args.json:
        return {EXIT_CODE_KEY: code, "target": target.description, "report": report.to_dict()}
    upto = f"V{report.compared_with:03d}" if report.compared_with else "none"
    if not report.differences:
        print(
            f"no drift: {report.database} matches the migrations up to {upto} "
            f"({report.object_count} objects)"
        )
    else:
        print(
            f"drift: {report.drift_count} difference(s) between {report.database} "
            f"and the migrations up to {upto}:"
        )
    for difference in report.differences:
        print(f"  {difference}")
        for line in difference.diff():
            print(f"      {line}")
    return {EXIT_CODE_KEY: code}


def cmd_baseline(args: argparse.Namespace, project: Project) -> Payload:
    """Record migrations up to --version as applied after proving the schema matches them."""
    options = apply_options(args, project)
    version = parse_version(args.baseline_version)
    target = resolve_target(args, project)
    try:
        result = baseline.adopt(target.settings, options, deadline(args, project), version)
    except BaselineRefusedError as error:
        if not args.json:
            print("the live schema differs from the migrations:", file=sys.stderr)
            for difference in error.differences:
                print(f"  {difference}", file=sys.stderr)
        raise
    if args.json:
        return {"target": target.description, "result": result.to_dict()}
    if result.already_recorded:
        print(f"nothing to do: {result.database} already records V{version:03d}")
    else:
        print(
            f"baseline: recorded {' '.join(result.recorded)} as applied in {result.database} "
            f"({result.object_count} objects matched)"
        )
    return None


def _ahead_note(future: Sequence[str]) -> str:
    shown = " ".join(future[:5]) + (f" (+{len(future) - 5} more)" if len(future) > 5 else "")
    return f"the database is ahead of sql/ (future: {shown})"
