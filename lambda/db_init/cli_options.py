"""Groups of command-line options; each subcommand adds only the groups it uses."""

from __future__ import annotations

import argparse
from pathlib import Path

from db_init.settings import DRIFT_POLICIES, FUTURE_POLICIES

DEFAULT_DATA_DIR = Path(".shoppulse-db")
DEFAULT_LOCK_TIMEOUT_MS = 5_000
DEFAULT_STATEMENT_TIMEOUT_MS = 300_000
# On the command line a wrong host or port fails within seconds, not minutes: a refused or
# unresolvable endpoint is retried this long (a silent one waits one 10 s connect timeout).
DEFAULT_CONNECT_BUDGET_S = 2.0


def add_output_options(sub: argparse.ArgumentParser) -> None:
    """--json, -v, -q: every subcommand."""
    group = sub.add_argument_group("output")
    group.add_argument(
        "--json", action="store_true", help="one JSON document on stdout (also on failure)"
    )
    group.add_argument("-v", "--verbose", action="count", default=0, help="more detail")
    group.add_argument("-q", "--quiet", action="count", default=0, help="no progress lines")


def add_project_options(sub: argparse.ArgumentParser) -> None:
    """--sql-dir and --target: commands that read the project's sql/ or its config."""
    group = sub.add_argument_group("project")
    group.add_argument(
        "--sql-dir",
        type=Path,
        metavar="DIR",
        help="migrations/, seeds/ (default: sql/ of the project)",
    )
    group.add_argument(
        "--target",
        dest="target_name",
        metavar="NAME",
        help="a [targets.NAME] of shoppulse-db.toml or [tool.shoppulse-db] in pyproject.toml",
    )


def add_data_dir_option(group: argparse._ArgumentGroup) -> None:
    """--data-dir of the embedded server."""
    group.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"embedded PostgreSQL files (default: {DEFAULT_DATA_DIR}/ in the project)",
    )


def add_target_options(sub: argparse.ArgumentParser) -> None:
    """Where the database is: commands that connect."""
    group = sub.add_argument_group(
        "target (default: --target, else $DATABASE_URL, else the project's embedded PostgreSQL)"
    )
    group.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://user:pass@host:port/db[?sslmode=verify-full|disable&sslrootcert=PEM]",
    )
    group.add_argument(
        "--secret-arn", metavar="ARN", help="read user/password/host/port from this secret"
    )
    group.add_argument("--region", help="AWS region of --secret-arn (default: from the ARN)")
    group.add_argument("--host", help="with --secret-arn: connect here (e.g. the proxy endpoint)")
    group.add_argument(
        "--port",
        type=port_number,
        metavar="PORT",
        help="with --secret-arn: port (default: the secret's)",
    )
    group.add_argument(
        "--ca-bundle", type=Path, metavar="PEM", help="with --secret-arn: CA bundle PEM for TLS"
    )
    group.add_argument("--database", metavar="NAME", help="database name (default: shoppulse)")
    add_data_dir_option(group)


def add_timeout_options(sub: argparse.ArgumentParser) -> None:
    """Lock, statement and overall time limits: commands that run SQL."""
    group = sub.add_argument_group("time limits")
    group.add_argument(
        "--lock-timeout-ms",
        type=non_negative_int,
        metavar="MS",
        help=f"lock waits per statement (default: {DEFAULT_LOCK_TIMEOUT_MS}; 0 = wait forever)",
    )
    group.add_argument(
        "--statement-timeout-ms",
        type=positive_int,
        metavar="MS",
        help=f"per statement (default: {DEFAULT_STATEMENT_TIMEOUT_MS})",
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        help="overall budget in seconds (default: none); connecting retries a refused or "
        f"unresolvable endpoint for {DEFAULT_CONNECT_BUDGET_S:g}s, or for this budget if given",
    )


def add_apply_options(sub: argparse.ArgumentParser, *, dry_run: bool) -> None:
    """--seeds and --on-future (apply, plan) and, for apply, --dry-run and --on-drift."""
    group = sub.add_argument_group("apply")
    add_on_future_option(group)
    group.add_argument(
        "--seeds",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also apply sql/seeds (default: no)",
    )
    if not dry_run:
        return
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="rehearse everything in a transaction, verify, then roll back (a database that "
        "does not exist yet is rehearsed in a scratch database, dropped afterwards)",
    )
    group.add_argument(
        "--on-drift",
        choices=DRIFT_POLICIES,
        help="before applying migrations, compare the database with what it recorded "
        "(in a scratch database): warn (default), fail on drift that a pending "
        "migration touches, or off",
    )


def add_on_future_option(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--on-future: what to do when the database records migrations newer than sql/."""
    group.add_argument(
        "--on-future",
        choices=FUTURE_POLICIES,
        default="ignore",
        help="when the database records migrations newer than sql/ (a rollback, an older "
        "build): ignore (default: warn, apply nothing, verify what sql/ declares) or fail "
        "(refuse, exit 3)",
    )


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def port_number(text: str) -> int:
    """argparse type: a TCP port."""
    value = non_negative_int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1-65535, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value
