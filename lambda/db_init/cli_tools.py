"""Commands around the schema: generate sample data, simulate a CloudFormation event."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import time
from contextlib import closing
from pathlib import Path

from db_init.cli_commands import EXIT_CODE_KEY, EXIT_FAILED, EXIT_OK, Payload
from db_init.cli_config import Project
from db_init.cli_options import positive_int
from db_init.cli_target import apply_options, deadline, resolve_target
from db_init.db import connect
from db_init.errors import SettingsError, SqlError

# what `simulate` imports beyond the CLI's requirements (requirements-dev.txt)
SIMULATE_NEEDS = ("boto3", "moto", "cryptography", "crhelper")

SIMULATE_EPILOG = (
    "The event runs through db_init.handler in-process, with a Lambda-like context\n"
    "(--timeout: the Lambda's remaining seconds, default 300). The database secret is put\n"
    "in an in-process Secrets Manager (moto, fake credentials: nothing reaches AWS),\n"
    "holding --secret-file or the target's credentials (embedded server by default).\n"
    "Placeholders in the event: ${SecretArn} ${Host} ${Port} ${DatabaseName} (--database)\n"
    "${SqlChecksum} (of --sql-dir). The response is received over HTTPS on 127.0.0.1\n"
    "and printed on stdout (exit 1 if FAILED); the handler's JSON logs go to stderr.\n"
    "Nothing secret is printed. Needs requirements-dev.txt (boto3, moto, cryptography)."
)


def add_generate_arguments(sub: argparse.ArgumentParser) -> None:
    """The scale of the sample data."""
    group = sub.add_argument_group("scale")
    group.add_argument("--tenants", type=positive_int, default=10, help="tenants (default: 10)")
    group.add_argument(
        "--orders", type=positive_int, default=10_000, help="orders in total (default: 10000)"
    )
    group.add_argument("--users-per-tenant", type=positive_int, default=20, help="default: 20")
    group.add_argument("--campaigns-per-tenant", type=positive_int, default=40, help="default: 40")
    group.add_argument(
        "--audit-logs-per-tenant", type=positive_int, default=200, help="default: 200"
    )
    group.add_argument("--seed", type=int, default=20_260_101, help="same seed, same rows")
    group.add_argument(
        "--first-tenant",
        type=positive_int,
        help="number of the first tenant (default: after the highest T<n> in the database; "
        "T001 with --csv-dir)",
    )
    group.add_argument("--csv-dir", type=Path, help="write CSV files here")


def cmd_generate(args: argparse.Namespace, project: Project) -> Payload:
    """Load deterministic sample data at scale with COPY (after the schema is applied)."""
    from db_init import generate  # noqa: PLC0415 - only this command needs it

    def scale(first: int) -> generate.Scale:
        return generate.Scale(
            tenants=args.tenants,
            orders=args.orders,
            users_per_tenant=args.users_per_tenant,
            campaigns_per_tenant=args.campaigns_per_tenant,
            audit_logs_per_tenant=args.audit_logs_per_tenant,
            seed=args.seed,
            first_tenant=first,
        )

    if args.csv_dir:
        paths = generate.write_csv(scale(args.first_tenant or 1), args.csv_dir)
        if args.json:
            return {"csv": {name: str(path) for name, path in paths.items()}}
        print(f"wrote {len(paths)} CSV files to {args.csv_dir}/")
        return None
    options = apply_options(args, project)
    target = resolve_target(args, project)
    progress = None if args.json or args.quiet else generate.ProgressBar()
    budget = deadline(args, project)
    session = connect(target.settings, deadline=budget, retry_budget_s=options.connect_budget_s)
    with closing(session):
        session.set_timeouts(lock_timeout_ms=options.lock_timeout_ms, statement_timeout_ms=0)
        first = args.first_tenant or generate.next_tenant(session)
        started = time.monotonic()
        try:
            loaded = generate.load(session, scale(first), progress=progress)
        except SqlError as error:
            if error.sqlstate != "23505":
                raise
            raise SqlError(
                f"{error}; the rows exist already: pass --first-tenant past the tenants in the "
                "database (or leave it out to start after them); nothing was loaded",
                sqlstate=error.sqlstate,
                where=None,
            ) from None
    seconds = time.monotonic() - started
    total = sum(loaded.values())
    last = first + args.tenants - 1
    if args.json:
        return {
            "target": target.description,
            "tenants": [f"T{first:03d}", f"T{last:03d}"],
            "rows": loaded,
            "seconds": round(seconds, 3),
        }
    rate = total / max(seconds, 1e-6)
    print(
        f"loaded {total:,} rows into {len(loaded)} tables (tenants T{first:03d}-T{last:03d}) "
        f"in {seconds:.1f}s ({rate:,.0f} rows/s)"
    )
    return None


def add_simulate_arguments(sub: argparse.ArgumentParser) -> None:
    """The event and the secret to replay it with."""
    sub.add_argument("event", type=Path, help="event JSON, e.g. tests/events/create.json")
    sub.add_argument(
        "--secret-file",
        type=Path,
        help="JSON secret string as RDS stores it (default: the target's own credentials)",
    )
    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    sub.epilog = SIMULATE_EPILOG


def cmd_simulate(args: argparse.Namespace, project: Project) -> Payload:
    """Replay a CloudFormation event through the handler; print the response it would send."""
    missing = [name for name in SIMULATE_NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise SettingsError(
            f"simulate needs the development requirements ({', '.join(missing)} not installed): "
            ".venv/bin/pip install -r requirements-dev.txt"
        )
    from db_init import simulator  # noqa: PLC0415 - needs the development requirements

    try:
        template = json.loads(args.event.read_text())
    except (OSError, ValueError) as error:
        raise SettingsError(f"cannot read event {args.event}: {error}") from None
    try:
        secret = args.secret_file.read_text() if args.secret_file else None
    except OSError as error:
        raise SettingsError(f"cannot read --secret-file {args.secret_file}: {error}") from None
    options = apply_options(args, project)
    target = resolve_target(args, project)
    level = args.verbose - args.quiet
    # The handler logs JSON lines through the root logger, as in Lambda (stderr here).
    logging.getLogger("db_init").handlers.clear()
    response = simulator.replay(
        template,
        target=target.settings,
        sql_dir=options.sql_dir,
        secret_string=secret,
        database=args.database,
        timeout_s=args.timeout or 300.0,
        log_level=logging.DEBUG if level > 0 else logging.WARNING if level < 0 else logging.INFO,
    )
    code = EXIT_OK if response.status == "SUCCESS" else EXIT_FAILED
    if args.json:
        return {EXIT_CODE_KEY: code, "response": response.document}
    print(json.dumps(response.document, indent=2))
    return {EXIT_CODE_KEY: code}
