"""`shoppulse-db`: the local command line over the same engine the custom resource runs."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from db_init import db, lint_cli
from db_init.cli_commands import (
    EXIT_CODE_KEY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    Payload,
    cmd_apply,
    cmd_baseline,
    cmd_drift,
    cmd_lint,
    cmd_plan,
    cmd_status,
    cmd_validate,
    cmd_verify,
)
from db_init.cli_config import Project, find_project
from db_init.cli_new import add_new_arguments, cmd_new
from db_init.cli_options import (
    add_apply_options,
    add_data_dir_option,
    add_on_future_option,
    add_output_options,
    add_project_options,
    add_target_options,
    add_timeout_options,
    port_number,
)
from db_init.cli_server import SERVER_HELP, cmd_server
from db_init.cli_tools import (
    add_generate_arguments,
    add_simulate_arguments,
    cmd_generate,
    cmd_simulate,
)
from db_init.errors import DbInitError, FileAccessError, Outcome

EXIT_INTERRUPTED = 130
EXIT_CODES = {Outcome.FAILED: EXIT_FAILED, Outcome.USAGE: EXIT_USAGE, Outcome.REFUSED: EXIT_REFUSED}
# commands that never write: their messages must not speak of commits
READ_ONLY = frozenset({"plan", "verify", "validate", "status", "drift", "lint", "server"})
log = logging.getLogger("db_init.cli")

Command = Callable[[argparse.Namespace, Project], Payload]

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "build_parser", "main"]


@dataclass
class _Interrupt:
    """Whether Ctrl-C was pressed while the server ran a statement for us."""

    requested: bool = False


_INTERRUPT = _Interrupt()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(words)
    except _UsageError as error:
        if "--json" in words:  # --json promises one document, for a bad flag too
            failure = {"kind": "UsageError", "message": str(error)}
            print(json.dumps({"ok": False, "outcome": "usage", "error": failure}))
        error.parser.print_usage(sys.stderr)
        print(f"{error.parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(args.verbose - args.quiet, as_json=args.json)
    _INTERRUPT.requested = False
    previous = signal.signal(signal.SIGINT, _on_interrupt)
    try:
        payload = args.run(args, find_project(Path.cwd()))
    except DbInitError as error:
        if _INTERRUPT.requested:
            return _interrupted(args, f"the running statement was cancelled on the server: {error}")
        return _fail(args, error)
    except KeyboardInterrupt:
        return _interrupted(args, "any open transaction was rolled back by the server")
    except OSError as error:  # a file or directory the user named cannot be read or written
        return _fail(args, FileAccessError(f"{error.filename or ''}: {error.strerror or error}"))
    finally:
        signal.signal(signal.SIGINT, previous)
    code = int(payload.pop(EXIT_CODE_KEY, EXIT_OK)) if payload else EXIT_OK
    if args.json:
        print(
            json.dumps(
                {"ok": code == EXIT_OK, "command": args.command} | (payload or {}), default=str
            )
        )
    return code


class _UsageError(Exception):
    """A command line argparse rejected (printed as argparse would, exit 2)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """argparse, raising instead of exiting so that --json can answer a usage error too."""

    def error(self, message: str) -> NoReturn:
        """Raise _UsageError with argparse's message."""
        raise _UsageError(self, message)


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    """First Ctrl-C during a statement: cancel it on the server; otherwise stop at once."""
    busy = db.busy_sessions()
    if _INTERRUPT.requested or not busy:
        raise KeyboardInterrupt
    _INTERRUPT.requested = True
    db.cancel_all()
    print(
        "interrupted: cancelling the running statement on the server (Ctrl-C again to quit now)",
        file=sys.stderr,
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each subcommand gets only the option groups it uses."""
    parser = _Parser(
        prog="shoppulse-db",
        description="Apply, verify and inspect the ShopPulse PostgreSQL schema. "
        "Exit codes: 0 ok, 1 failed, 2 usage, 3 refused (unsafe to apply), 130 interrupted.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="show program's version number and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, run, summary, add in _COMMANDS:
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(run=run)
        add(sub)
        add_output_options(sub)
    return parser


def _database_command(sub: argparse.ArgumentParser) -> None:
    add_project_options(sub)
    add_target_options(sub)
    add_timeout_options(sub)


def _apply(sub: argparse.ArgumentParser) -> None:
    _database_command(sub)
    add_apply_options(sub, dry_run=True)


def _plan(sub: argparse.ArgumentParser) -> None:
    _database_command(sub)
    add_apply_options(sub, dry_run=False)


def _verify(sub: argparse.ArgumentParser) -> None:
    _database_command(sub)
    add_on_future_option(sub)


def _migration_version(required: bool, help_text: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(sub: argparse.ArgumentParser) -> None:
        _database_command(sub)
        sub.add_argument("--version", dest="baseline_version", required=required, help=help_text)

    return add


def _lint(sub: argparse.ArgumentParser) -> None:
    lint_cli.add_arguments(sub)
    add_project_options(sub)


def _new(sub: argparse.ArgumentParser) -> None:
    add_new_arguments(sub)
    add_project_options(sub)


def _server(sub: argparse.ArgumentParser) -> None:
    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    sub.epilog = SERVER_HELP
    sub.add_argument(
        "action",
        choices=("start", "stop", "status", "url", "psql"),
        metavar="ACTION",
        help="start, stop, status, url or psql (see below)",
    )
    group = sub.add_argument_group("server")
    add_data_dir_option(group)
    group.add_argument("--port", type=port_number, help="start: listen on this port")
    group.add_argument(
        "--database", metavar="NAME", help="url, psql: database name (default: shoppulse)"
    )
    group.add_argument("--target", dest="target_name", metavar="NAME", help="a config target")


def _generate(sub: argparse.ArgumentParser) -> None:
    _database_command(sub)
    add_generate_arguments(sub)


def _simulate(sub: argparse.ArgumentParser) -> None:
    add_simulate_arguments(sub)
    _database_command(sub)


_COMMANDS: list[tuple[str, Command, str, Callable[[argparse.ArgumentParser], None]]] = [
    (
        "apply",
        cmd_apply,
        "apply pending migrations (and seeds), verify, commit only if all pass",
        _apply,
    ),
    ("plan", cmd_plan, "list what apply would run, with checksums (changes nothing)", _plan),
    (
        "validate",
        cmd_validate,
        "for CI: exit 3 if an applied script changed or is missing, or a new one is out of "
        "order, or (with --on-future fail) the database is ahead of sql/ (changes nothing)",
        _verify,
    ),
    (
        "status",
        cmd_status,
        "each migration and seed with its state, checksum, applied_at, duration, applied_by; "
        "exit 3 on changed or missing scripts",
        _database_command,
    ),
    (
        "verify",
        cmd_verify,
        "check history and schema against sql/ (changes nothing)",
        _verify,
    ),
    (
        "new",
        cmd_new,
        "create the next numbered migration file, sql/migrations/V<next>__NAME.sql",
        _new,
    ),
    ("lint", cmd_lint, "lint migrations for destructive changes; exit 0 clean, 3 findings", _lint),
    (
        "drift",
        cmd_drift,
        "compare the live schema with the migrations built in a scratch PostgreSQL; "
        "exit 0 no drift, 1 drift",
        _migration_version(
            False,
            "migration version, e.g. V001 (default: the highest the database recorded, "
            "else the newest file)",
        ),
    ),
    (
        "baseline",
        cmd_baseline,
        "adopt a database built without shoppulse-db: record migrations up to --version as "
        "applied once the schema is proven to match (refused otherwise, with the differences)",
        _migration_version(True, "migration version, e.g. V001: record it and every earlier one"),
    ),
    (
        "server",
        cmd_server,
        "start, stop, inspect, print the URL of, or psql into the project's embedded PostgreSQL",
        _server,
    ),
    (
        "generate",
        cmd_generate,
        "load deterministic sample data at scale (COPY, progress bar), after existing tenants",
        _generate,
    ),
    (
        "simulate",
        cmd_simulate,
        "replay a CloudFormation event (tests/events/*.json) through the custom resource "
        "handler and print the response it would send",
        _simulate,
    ),
]


class _VersionAction(argparse.Action):
    """--version, reading the installed version only when asked (importlib.metadata is slow)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from importlib import metadata  # noqa: PLC0415

        try:
            version = metadata.version("shoppulse-db")
        except metadata.PackageNotFoundError:  # run from a checkout with PYTHONPATH=lambda
            version = "unknown (not installed)"
        print(f"shoppulse-db {version}")
        parser.exit()


def _truthful(args: argparse.Namespace, message: str) -> str:
    """A read-only command changed nothing: it never speaks of what was committed."""
    if args.command not in READ_ONLY:
        return message
    for claim in ("nothing from this run was committed", "nothing was committed"):
        message = message.replace(claim, "nothing was changed")
    return message


def _fail(args: argparse.Namespace, error: DbInitError) -> int:
    code = EXIT_CODES[error.outcome]
    message = _truthful(args, str(error))
    if args.json:
        document: dict[str, Any] = {
            "ok": False,
            "command": args.command,
            "outcome": error.outcome.value,
            "error": {
                "kind": error.kind,
                "sqlstate": error.sqlstate,
                "message": message,
                "server": error.server_fields(),
            },
        }
        print(json.dumps(document))
    state = f" [{error.sqlstate}]" if error.sqlstate else ""
    print(f"{error.outcome.value}: {error.kind}{state}: {message}", file=sys.stderr)
    return code


def _interrupted(args: argparse.Namespace, detail: str) -> int:
    if args.json:
        print(json.dumps({"ok": False, "command": args.command, "outcome": "interrupted"}))
    print(f"interrupted: {detail}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _configure_logging(level: int, *, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    root = logging.getLogger("db_init")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(
        logging.DEBUG if level > 0 else logging.WARNING if level < 0 or as_json else logging.INFO
    )
    if level <= 0:  # connection retries are the driver's business: shown with -v only
        handler.addFilter(_quiet_driver)


def _quiet_driver(record: logging.LogRecord) -> bool:
    return record.name != "db_init.db" or record.levelno >= logging.WARNING


if __name__ == "__main__":
    sys.exit(main())
