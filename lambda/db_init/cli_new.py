"""`shoppulse-db new NAME`: the next numbered migration file, and what to declare with it."""

from __future__ import annotations

import argparse
import re

from db_init.cli_commands import Payload
from db_init.cli_config import Project
from db_init.cli_target import shown_path, sql_dir
from db_init.errors import SettingsError
from db_init.scripts import MIGRATION_NAME

_WORDS = re.compile(r"[^a-z0-9]+")


def add_new_arguments(sub: argparse.ArgumentParser) -> None:
    """NAME and --non-transactional."""
    sub.add_argument("name", help="what the migration does, e.g. 'add order notes'")
    sub.add_argument(
        "--non-transactional",
        action="store_true",
        help="start the file with the marker for a statement that cannot run in a transaction "
        "(CREATE INDEX CONCURRENTLY): it then holds exactly one statement",
    )


def cmd_new(args: argparse.Namespace, project: Project) -> Payload:
    """Create sql/migrations/V<next>__<name>.sql and say what to declare."""
    description = _WORDS.sub("_", args.name.lower()).strip("_")
    if not description:
        raise SettingsError(f"migration name {args.name[:40]!r} has no letters or digits")
    migrations = sql_dir(args, project) / "migrations"
    numbers = [
        (int(match["version"]), len(match["version"]))
        for path in migrations.iterdir()
        if (match := MIGRATION_NAME.fullmatch(path.name))
    ]
    version = max((n for n, _ in numbers), default=0) + 1
    width = max((w for _, w in numbers), default=3)
    path = migrations / f"V{version:0{width}d}__{description}.sql"
    marker = "-- shoppulse:non-transactional\n" if args.non_transactional else ""
    body = (
        f"{marker}-- V{version:0{width}d}: {args.name.strip()}\n"
        "-- Plain SQL; no BEGIN/COMMIT (the engine owns the transaction). Never edit this file\n"
        "-- once it is applied: put the next change in a new migration.\n"
    )
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(body)
    except FileExistsError:
        raise SettingsError(f"{path} exists already") from None
    expectations = migrations.parent / "expected_schema.toml"
    if args.json:
        return {"created": shown_path(path), "version": f"V{version:0{width}d}"}
    print(f"created {shown_path(path)}")
    print(
        f"next: write the SQL, declare what it creates in {shown_path(expectations)}, then "
        "`shoppulse-db lint` and `shoppulse-db apply --dry-run`"
    )
    return None
