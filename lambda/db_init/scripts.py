"""Finding, splitting and checksumming the migration and seed files."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from db_init import transaction_rules
from db_init.errors import NonTransactionalStatementError, ScriptError
from db_init.splitter import BOM, Statement, split_statements

__all__ = ["Kind", "Script", "ScriptSet", "Statement", "load", "parse", "split_statements"]

MIGRATION_NAME = re.compile(r"V(?P<version>\d{1,9})__(?P<description>[A-Za-z0-9_]+)\.sql")
SEED_NAME = re.compile(r"S(?P<version>\d{1,9})__(?P<description>[A-Za-z0-9_]+)\.sql")
NON_TRANSACTIONAL_MARKER = re.compile(r"^\s*--\s*shoppulse:non-transactional\s*$", re.MULTILINE)


class Kind(Enum):
    """What a script is for."""

    MIGRATION = "migration"
    SEED = "seed"


@dataclass(frozen=True)
class Script:
    """One migration or seed file, read once."""

    kind: Kind
    version: int
    description: str
    path: Path
    checksum: str
    transactional: bool
    statements: tuple[Statement, ...]
    text: str = field(default="", repr=False)  # the file as read (lint and markers reuse it)

    @property
    def name(self) -> str:
        """File name, as recorded in the history and shown in messages."""
        return self.path.name

    @property
    def label(self) -> str:
        """`V001` / `S002`."""
        return f"{'V' if self.kind is Kind.MIGRATION else 'S'}{self.version:03d}"

    @property
    def adds_enum_values(self) -> bool:
        """ALTER TYPE ... ADD VALUE: the run commits after this file so later files can use it."""
        return any(transaction_rules.adds_enum_value(s) for s in self.statements)

    def line_of(self, statement: Statement, position: int | None) -> int:
        """File line of a 1-based character `position` inside `statement`."""
        if not position:
            return statement.line
        return statement.line + statement.sql[: position - 1].count("\n")


@dataclass(frozen=True)
class ScriptSet:
    """All migrations (by version) and seeds (by version) of one sql/ directory."""

    migrations: tuple[Script, ...]
    seeds: tuple[Script, ...]
    checksum: str

    def migration(self, version: int) -> Script | None:
        """The migration with this version, if present."""
        return next((m for m in self.migrations if m.version == version), None)


def load(sql_dir: Path) -> ScriptSet:
    """Read sql_dir/migrations and sql_dir/seeds; refuse misnamed or unsafe files."""
    if not (sql_dir / "migrations").is_dir():
        raise ScriptError(f"no migrations directory at {sql_dir / 'migrations'}")
    return ScriptSet(
        migrations=_load_kind(sql_dir / "migrations", Kind.MIGRATION, MIGRATION_NAME),
        seeds=_load_kind(sql_dir / "seeds", Kind.SEED, SEED_NAME),
        checksum=sql_tree_checksum(sql_dir),
    )


def sql_tree_checksum(sql_dir: Path) -> str:
    """sha256 over every file: relative POSIX path, NUL, bytes, NUL, in sorted path order.

    The CDK app computes the same function over the bytes it bundles (SqlChecksum).
    """
    digest = hashlib.sha256()
    files = sorted(p for p in sql_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in sorted(files, key=lambda p: p.relative_to(sql_dir).as_posix()):
        digest.update(path.relative_to(sql_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _load_kind(directory: Path, kind: Kind, pattern: re.Pattern[str]) -> tuple[Script, ...]:
    if not directory.is_dir():
        return ()
    scripts: dict[int, Script] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        match = pattern.fullmatch(path.name)
        if not match:
            example = "V002__add_orders_channel" if kind is Kind.MIGRATION else "S003__demo_users"
            raise ScriptError(f"{path}: file name must look like {example}.sql")
        version = int(match["version"])
        if version in scripts:
            raise ScriptError(f"{path}: version {version} also used by {scripts[version].name}")
        scripts[version] = parse(path, kind, version, match["description"].replace("_", " "))
    return tuple(scripts[v] for v in sorted(scripts))


def parse(path: Path, kind: Kind, version: int, description: str) -> Script:
    """Read one file, split its statements and check they can run as the file declares."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScriptError(f"{path}: not UTF-8 (byte {error.start})") from None
    text = text.removeprefix(BOM)  # an editor's byte-order mark is not SQL (lines stay the same)
    transactional = not NON_TRANSACTIONAL_MARKER.search(text)
    # A file of comments only is a valid step of a history (psql runs it): recorded, runs nothing.
    statements = tuple(split_statements(text, path))
    for statement in statements:
        _check_statement(path, kind, statement, transactional=transactional)
    if not transactional:
        if kind is Kind.SEED:
            raise ScriptError(f"{path}: seeds always run in a transaction; remove the marker")
        if len(statements) > 1:
            raise ScriptError(
                f"{path}:{statements[1].line}: a non-transactional migration must hold exactly "
                "one statement (a failure must not leave half of it applied); split the file"
            )
    return Script(
        kind=kind,
        version=version,
        description=description,
        path=path,
        checksum=hashlib.sha256(raw).hexdigest(),
        transactional=transactional,
        statements=statements,
        text=text,
    )


def _check_statement(path: Path, kind: Kind, statement: Statement, *, transactional: bool) -> None:
    words = statement.words
    if transaction_rules.is_transaction_control(statement):
        shown = " ".join(words[:2]) if words[0] == "PREPARE" else words[0]
        raise ScriptError(
            f"{path}:{statement.line}: {shown} is not allowed in a {kind.value}; "
            "the engine wraps each file in its own transaction"
        )
    if transactional and transaction_rules.needs_autocommit(statement):
        raise NonTransactionalStatementError(
            f"{path}:{statement.line}: `{' '.join(words[:4])}` cannot run inside a transaction; "
            "put it alone in its own file whose first line is `-- shoppulse:non-transactional`"
        )
    if statement.copy_data is not None and kind is Kind.MIGRATION:
        raise ScriptError(
            f"{path}:{statement.line}: COPY ... FROM stdin rows are read only in seed files; "
            "move the COPY and its rows to a seed (sql/seeds/S...), or write them as INSERT"
        )
