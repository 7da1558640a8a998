"""`shoppulse-db`: the local command line over the same engine the custom resource runs."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from db_init import baseline, drift, engine, lint_cli, lint_config, manifest
from db_init.db import connect
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import BaselineRefusedError, DbInitError, Outcome, SettingsError, SqlError
from db_init.settings import (
    DRIFT_POLICIES,
    FUTURE_POLICIES,
    ApplyOptions,
    ConnectionSettings,
    database_name,
    default_sql_dir,
    parse_database_url,
    parse_version,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_CODES = {Outcome.FAILED: EXIT_FAILED, Outcome.USAGE: EXIT_USAGE, Outcome.REFUSED: EXIT_REFUSED}
EXIT_CODE_KEY = "exit_code"  # a command's payload may carry a non-zero exit code
DEFAULT_DATA_DIR = Path(".shoppulse-db")
log = logging.getLogger("db_init.cli")


@dataclass(frozen=True)
class Target:
    """The resolved connection and a one-line description of it for people."""

    settings: ConnectionSettings
    description: str


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose - args.quiet, as_json=args.json)
    try:
        payload = args.run(args)
    except DbInitError as error:
        return _fail(args, error)
    except KeyboardInterrupt:
        print("interrupted; any open transaction was rolled back by the server", file=sys.stderr)
        return 130
    # lint and drift report what they found through the exit code (3 findings, 1 drift)
    code = int(payload.pop(EXIT_CODE_KEY, EXIT_OK)) if payload else EXIT_OK
    if args.json and payload is not None:
        print(json.dumps({"ok": code == EXIT_OK, "command": args.command} | payload, default=str))
    return code


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render --help in the README)."""
    common = argparse.ArgumentParser(add_help=False)
    target = common.add_argument_group("target (default: an embedded PostgreSQL under --data-dir)")
    target.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="postgresql://user:pass@host:port/db[?sslmode=verify-full|disable&sslrootcert=PEM]"
        " (default: $DATABASE_URL)",
    )
    target.add_argument("--secret-arn", help="read user/password/host/port from this secret")
    target.add_argument("--region", help="AWS region of --secret-arn (default: from AWS config)")
    target.add_argument("--host", help="with --secret-arn: connect here (e.g. the proxy endpoint)")
    target.add_argument("--port", type=int, help="with --secret-arn: port (default: the secret's)")
    target.add_argument("--ca-bundle", type=Path, help="with --secret-arn: CA bundle PEM for TLS")
    target.add_argument("--database", help="database name (default: shoppulse)")
    target.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"embedded PostgreSQL files (default: {DEFAULT_DATA_DIR}/)",
    )
    behaviour = common.add_argument_group("behaviour")
    behaviour.add_argument(
        "--sql-dir", type=Path, default=None, help="migrations/, seeds/ (default: ./sql)"
    )
    behaviour.add_argument("--lock-timeout-ms", type=int, default=5_000, help="default: 5000")
    behaviour.add_argument(
        "--statement-timeout-ms", type=int, default=300_000, help="default: 300000"
    )
    behaviour.add_argument(
        "--timeout", type=float, default=None, help="overall time budget in seconds (default: none)"
    )
    behaviour.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    behaviour.add_argument("-v", "--verbose", action="count", default=0, help="more detail")
    behaviour.add_argument("-q", "--quiet", action="count", default=0, help="no progress lines")

    parser = argparse.ArgumentParser(
        prog="shoppulse-db",
        description="Apply, verify and inspect the ShopPulse PostgreSQL schema. "
        "Exit codes: 0 ok, 1 failed, 2 usage, 3 refused (unsafe to apply).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, run, summary in _COMMANDS:
        sub = commands.add_parser(name, parents=[common], help=summary, description=summary)
        sub.set_defaults(run=run)
        if name in ("apply", "plan"):
            sub.add_argument(
                "--seeds",
                action=argparse.BooleanOptionalAction,
                default=False,
                help="also apply sql/seeds (default: no)",
            )
        if name == "apply":
            sub.add_argument(
                "--dry-run",
                action="store_true",
                help="rehearse everything in a transaction, verify, then roll back",
            )
            sub.add_argument(
                "--on-drift",
                choices=DRIFT_POLICIES,
                default="warn",
                help="before applying migrations, compare the database with what it recorded "
                "(in a scratch database): warn (default), fail on drift that a pending "
                "migration touches, or off",
            )
        if name in ("apply", "plan", "verify"):
            _add_on_future_argument(sub)
        if name == "server":
            sub.add_argument("action", choices=("start", "stop", "status", "psql"))
        if name == "lint":
            lint_cli.add_arguments(sub)
        if name in ("drift", "baseline"):
            sub.add_argument(
                "--version",
                dest="baseline_version",
                required=name == "baseline",
                help="migration version, e.g. V001"
                + (
                    " (default: the highest the database recorded, else the newest file)"
                    if name == "drift"
                    else ": record it and every earlier one as applied"
                ),
            )
        if name == "generate":
            _add_scale_arguments(sub)
        if name == "simulate":
            _add_simulate_arguments(sub)
    return parser


def cmd_apply(args: argparse.Namespace) -> dict[str, Any] | None:
    """Apply pending migrations (and seeds with --seeds), then verify."""
    target = resolve_target(args)
    result = engine.apply(target.settings, _options(args), _deadline(args))
    if args.json:
        return {"target": target.description, "result": result.to_dict()}
    done = "rehearsed (rolled back)" if result.dry_run else "applied"
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


def cmd_plan(args: argparse.Namespace) -> dict[str, Any] | None:
    """List what apply would run, without changing anything."""
    target = resolve_target(args)
    pending = engine.plan(target.settings, _options(args), _deadline(args))
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
            "manifest": manifest.manifest_of(_options(args).sql_dir),
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


def cmd_lint(args: argparse.Namespace) -> dict[str, Any] | None:
    """Lint migrations for destructive changes with PostgreSQL's parser (no database needed)."""
    found, payload = lint_cli.run(args, options=_options(args), deadline=_deadline(args))
    return (payload or {}) | {EXIT_CODE_KEY: EXIT_REFUSED if found else EXIT_OK}


def cmd_drift(args: argparse.Namespace) -> dict[str, Any] | None:
    """Compare the live schema with the migrations built in a scratch PostgreSQL."""
    target = resolve_target(args)
    up_to = parse_version(args.baseline_version) if args.baseline_version else None
    report = drift.check(target.settings, _options(args), _deadline(args), up_to=up_to)
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


def cmd_baseline(args: argparse.Namespace) -> dict[str, Any] | None:
    """Record migrations up to --version as applied after proving the schema matches them."""
    target = resolve_target(args)
    version = parse_version(args.baseline_version)
    try:
        result = baseline.adopt(target.settings, _options(args), _deadline(args), version)
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


def cmd_verify(args: argparse.Namespace) -> dict[str, Any] | None:
    """Check history and schema against sql/ without changing anything."""
    target = resolve_target(args)
    result = engine.check(target.settings, _options(args), _deadline(args))
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


def cmd_status(args: argparse.Namespace) -> dict[str, Any] | None:
    """Show every migration and seed with its state in the database."""
    target = resolve_target(args)
    rows = engine.status(target.settings, _options(args), _deadline(args))
    if args.json:
        return {"target": target.description, "scripts": [asdict(r) for r in rows]}
    for row in rows:
        print(f"  {row.state:8} {row.kind:9} {row.script:45} {row.applied_at or ''}")
    return None


def cmd_server(args: argparse.Namespace) -> dict[str, Any] | None:
    """Manage the embedded PostgreSQL that is the default target."""
    server = LocalServer(args.data_dir)
    if args.action == "stop":
        server.stop()
        print(f"embedded PostgreSQL in {args.data_dir}/ stopped")
    elif args.action == "status":
        running = server.is_running()
        print(f"embedded PostgreSQL in {args.data_dir}/: {'running' if running else 'stopped'}")
    elif args.action == "start":
        print(resolve_target(args).description)
    else:
        settings = server.start(database=args.database or "shoppulse")
        psql = shutil.which("psql", path=str(server.bin_dir)) or "psql"
        env = os.environ | {"PGPASSWORD": settings.password}
        command = [psql, "-h", settings.host, "-p", str(settings.port), "-U", settings.user]
        return_code = subprocess.call([*command, settings.database], env=env)
        if return_code:
            raise SettingsError(f"psql exited with {return_code}")
    return None


def cmd_generate(args: argparse.Namespace) -> dict[str, Any] | None:
    """Load deterministic sample data at scale with COPY (after the schema is applied)."""
    from db_init import generate  # noqa: PLC0415 - only this command needs it

    scale = generate.Scale(
        tenants=args.tenants,
        orders=args.orders,
        users_per_tenant=args.users_per_tenant,
        campaigns_per_tenant=args.campaigns_per_tenant,
        audit_logs_per_tenant=args.audit_logs_per_tenant,
        seed=args.seed,
        first_tenant=args.first_tenant,
    )
    if args.csv_dir:
        paths = generate.write_csv(scale, args.csv_dir)
        print(f"wrote {len(paths)} CSV files to {args.csv_dir}/")
        return {"csv": {name: str(path) for name, path in paths.items()}} if args.json else None
    target = resolve_target(args)
    progress = None if args.json or args.quiet else generate.ProgressBar()
    with closing(connect(target.settings, deadline=_deadline(args), retry_budget_s=30)) as session:
        session.set_timeouts(lock_timeout_ms=args.lock_timeout_ms, statement_timeout_ms=0)
        started = time.monotonic()
        try:
            loaded = generate.load(session, scale, progress=progress)
        except SqlError as error:
            if error.sqlstate != "23505":
                raise
            raise SettingsError(
                f"{error}; the rows exist already (seeded tenants are T001-T003): "
                "pass --first-tenant past them; nothing was loaded"
            ) from None
    seconds = time.monotonic() - started
    total = sum(loaded.values())
    if args.json:
        return {"target": target.description, "rows": loaded, "seconds": round(seconds, 3)}
    rate = total / max(seconds, 1e-6)
    print(f"loaded {total:,} rows into {len(loaded)} tables in {seconds:.1f}s ({rate:,.0f} rows/s)")
    return None


def _add_scale_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--tenants", type=_positive, default=10, help="tenants (default: 10)")
    sub.add_argument(
        "--orders", type=_positive, default=10_000, help="orders in total (default: 10000)"
    )
    sub.add_argument("--users-per-tenant", type=_positive, default=20, help="default: 20")
    sub.add_argument("--campaigns-per-tenant", type=_positive, default=40, help="default: 40")
    sub.add_argument("--audit-logs-per-tenant", type=_positive, default=200, help="default: 200")
    sub.add_argument("--seed", type=int, default=20_260_101, help="same seed, same rows")
    sub.add_argument(
        "--first-tenant",
        type=_positive,
        default=1,
        help="number of the first tenant, T001 by default (use 4 next to the seeded T001-T003)",
    )
    sub.add_argument("--csv-dir", type=Path, help="write CSV files here instead of loading")


def cmd_simulate(args: argparse.Namespace) -> dict[str, Any] | None:
    """Replay a CloudFormation event through the handler; print the response it would send."""
    try:
        from db_init import simulator  # noqa: PLC0415 - needs the development requirements
    except ImportError as error:
        raise SettingsError(
            f"simulate needs the development requirements ({error.name} is missing): "
            "pip install -r requirements-dev.txt"
        ) from None
    try:
        template = json.loads(args.event.read_text())
    except (OSError, ValueError) as error:
        raise SettingsError(f"cannot read event {args.event}: {error}") from None
    secret = args.secret_file.read_text() if args.secret_file else None
    target = resolve_target(args)
    level = args.verbose - args.quiet
    # The handler logs JSON lines through the root logger, as in Lambda (stderr here).
    logging.getLogger("db_init").handlers.clear()
    response = simulator.replay(
        template,
        target=target.settings,
        sql_dir=_options(args).sql_dir,
        secret_string=secret,
        database=args.database,
        timeout_s=args.timeout or 300.0,
        log_level=logging.DEBUG if level > 0 else logging.WARNING if level < 0 else logging.INFO,
    )
    print(json.dumps(response.document, indent=2))
    return {EXIT_CODE_KEY: EXIT_OK if response.status == "SUCCESS" else EXIT_FAILED}


def _add_simulate_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("event", type=Path, help="event JSON, e.g. tests/events/create.json")
    sub.add_argument(
        "--secret-file",
        type=Path,
        help="JSON secret string as RDS stores it (default: the target's own credentials)",
    )
    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    sub.epilog = (
        "The event runs through db_init.handler in-process, with a Lambda-like context\n"
        "(--timeout: the Lambda's remaining seconds, default 300). The database secret is put\n"
        "in an in-process Secrets Manager (moto, fake credentials: nothing reaches AWS),\n"
        "holding --secret-file or the target's credentials (embedded server by default).\n"
        "Placeholders in the event: ${SecretArn} ${Host} ${Port} ${DatabaseName} (--database)\n"
        "${SqlChecksum} (of --sql-dir). The response is received over HTTPS on 127.0.0.1\n"
        "and printed on stdout (exit 1 if FAILED); the handler's JSON logs go to stderr.\n"
        "Nothing secret is printed. Needs requirements-dev.txt (boto3, moto, cryptography)."
    )


# --- database ahead of sql/ (future migrations, issue 10) ---------------------------------


def _add_on_future_argument(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--on-future",
        choices=FUTURE_POLICIES,
        default="ignore",
        help="when the database records migrations newer than sql/ (a rollback, an older "
        "build): ignore (default: warn, apply nothing, verify what sql/ declares) or fail "
        "(refuse, exit 3)",
    )


def _ahead_note(future: Sequence[str]) -> str:
    shown = " ".join(future[:5]) + (f" (+{len(future) - 5} more)" if len(future) > 5 else "")
    return f"the database is ahead of sql/ (future: {shown})"


# ------------------------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


_COMMANDS: list[tuple[str, Callable[[argparse.Namespace], dict[str, Any] | None], str]] = [
    ("apply", cmd_apply, "apply pending migrations (and seeds), verify, commit only if all pass"),
    ("plan", cmd_plan, "list what apply would run, with checksums (changes nothing)"),
    ("lint", cmd_lint, "lint migrations for destructive changes; exit 0 clean, 3 findings"),
    (
        "drift",
        cmd_drift,
        "compare the live schema with the migrations built in a scratch PostgreSQL; "
        "exit 0 no drift, 1 drift",
    ),
    (
        "baseline",
        cmd_baseline,
        "adopt a database built without shoppulse-db: record migrations up to --version as "
        "applied once the schema is proven to match (refused otherwise, with the differences)",
    ),
    ("verify", cmd_verify, "check history and schema against sql/ (changes nothing)"),
    ("status", cmd_status, "show each migration and seed and its state"),
    ("server", cmd_server, "start, stop, inspect or psql into the embedded PostgreSQL"),
    ("generate", cmd_generate, "load deterministic sample data at scale (COPY, progress bar)"),
    (
        "simulate",
        cmd_simulate,
        "replay a CloudFormation event (tests/events/*.json) through the custom resource "
        "handler and print the response it would send",
    ),
]


def resolve_target(args: argparse.Namespace) -> Target:
    """--database-url / $DATABASE_URL, else --secret-arn, else the embedded server."""
    target = _resolve(args)
    log.info("target: %s", target.description)
    return target


def _resolve(args: argparse.Namespace) -> Target:
    database = database_name(args.database) if args.database else None
    if args.database_url and args.secret_arn:
        raise SettingsError("give either --database-url or --secret-arn, not both")
    if args.database_url:
        settings = parse_database_url(args.database_url)
        if database:
            settings = settings.with_database(database)
        return Target(settings, f"{settings.host}:{settings.port}, database {settings.database}")
    if args.secret_arn:
        return _secret_target(args, database or "shoppulse")
    server = LocalServer(args.data_dir)
    was_running = server.is_running()
    settings = server.start(database=database or "shoppulse")
    state = "running" if was_running else "started"
    return Target(
        settings,
        f"embedded {server.version()} ({state}) at {settings.host}:{settings.port}, "
        f"database {settings.database}, data in {args.data_dir}/ "
        "(stop it with `shoppulse-db server stop`)",
    )


def _secret_target(args: argparse.Namespace, database: str) -> Target:
    from db_init.credentials import read_secret, secrets_client  # noqa: PLC0415 - needs boto3

    secret = read_secret(args.secret_arn, client=secrets_client(args.region))
    host = args.host or secret.host
    if not host:
        raise SettingsError("the secret has no host; pass --host (e.g. the RDS Proxy endpoint)")
    settings = ConnectionSettings(
        host=host,
        port=args.port or secret.port or 5432,
        user=secret.username,
        password=secret.password,
        database=database,
        ca_bundle=args.ca_bundle,
    )
    return Target(settings, f"{host}:{settings.port} (TLS verify-full), database {database}")


def _options(args: argparse.Namespace) -> ApplyOptions:
    sql_dir = args.sql_dir or (
        Path("sql") if Path("sql/migrations").is_dir() else default_sql_dir()
    )
    if not (sql_dir / "migrations").is_dir():
        raise SettingsError(f"{sql_dir}/migrations not found; pass --sql-dir")
    return ApplyOptions(
        sql_dir=sql_dir,
        apply_seeds=getattr(args, "seeds", False),
        dry_run=getattr(args, "dry_run", False),
        lock_timeout_ms=args.lock_timeout_ms,
        statement_timeout_ms=args.statement_timeout_ms,
        on_drift=getattr(args, "on_drift", "warn"),
        lint=lint_config.load(lint_cli.PYPROJECT),
        on_future=getattr(args, "on_future", "ignore"),
    )


def _deadline(args: argparse.Namespace) -> Deadline:
    return Deadline.after(args.timeout) if args.timeout else Deadline.never()


def _fail(args: argparse.Namespace, error: DbInitError) -> int:
    code = EXIT_CODES[error.outcome]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": False,
                    "command": args.command,
                    "outcome": error.outcome.value,
                    "error": {
                        "kind": error.kind,
                        "sqlstate": error.sqlstate,
                        "message": str(error),
                        "server": error.server_fields(),
                    },
                }
            )
        )
    print(f"{error.outcome.value}: {error.one_line()}", file=sys.stderr)
    return code


def _configure_logging(level: int, *, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    root = logging.getLogger("db_init")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(
        logging.DEBUG if level > 0 else logging.WARNING if level < 0 or as_json else logging.INFO
    )


if __name__ == "__main__":
    sys.exit(main())
