"""Finding, splitting and checksumming the migration and seed files."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from db_init.errors import NonTransactionalStatementError, ScriptError

MIGRATION_NAME = re.compile(r"V(?P<version>\d{1,9})__(?P<description>[A-Za-z0-9_]+)\.sql")
SEED_NAME = re.compile(r"S(?P<version>\d{1,9})__(?P<description>[A-Za-z0-9_]+)\.sql")
NON_TRANSACTIONAL_MARKER = re.compile(r"^\s*--\s*shoppulse:non-transactional\s*$", re.MULTILINE)
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_]+")
_SPECIAL = re.compile(r"--|/\*|[;'\"$]")
_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "START", "END", "ABORT", "SAVEPOINT"}


class Kind(Enum):
    """What a script is for."""

    MIGRATION = "migration"
    SEED = "seed"


@dataclass(frozen=True)
class Statement:
    """One SQL statement and the 1-based line of the file where it starts."""

    sql: str
    line: int
    words: tuple[str, ...]  # upper-case keywords outside strings and comments


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
    transactional = not NON_TRANSACTIONAL_MARKER.search(text)
    statements = tuple(split_statements(text, path))
    if not statements:
        raise ScriptError(f"{path}: contains no SQL statement")
    for statement in statements:
        _check_statement(path, statement, transactional=transactional)
    if not transactional:
        if kind is Kind.SEED:
            raise ScriptError(f"{path}: seeds always run in a transaction; remove the marker")
        if len(statements) != 1:
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


def _check_statement(path: Path, statement: Statement, *, transactional: bool) -> None:
    words = statement.words
    if words and words[0] in _TRANSACTION_CONTROL:
        raise ScriptError(
            f"{path}:{statement.line}: {words[0]} is not allowed in a migration; "
            "the engine wraps each file in its own transaction"
        )
    if transactional and needs_autocommit(words):
        raise NonTransactionalStatementError(
            f"{path}:{statement.line}: `{' '.join(words[:4])}` cannot run inside a transaction; "
            "put it alone in its own file whose first line is `-- shoppulse:non-transactional`"
        )


def needs_autocommit(words: tuple[str, ...]) -> bool:
    """True for statements PostgreSQL refuses to run inside a transaction block."""
    head = words[:3]
    if head[:1] in (("VACUUM",),) or head[:2] in (
        ("CREATE", "DATABASE"),
        ("DROP", "DATABASE"),
        ("CREATE", "TABLESPACE"),
        ("DROP", "TABLESPACE"),
        ("ALTER", "SYSTEM"),
        ("CREATE", "SUBSCRIPTION"),
        ("DROP", "SUBSCRIPTION"),
    ):
        return True
    if head[:1] == ("REINDEX",) and (
        "CONCURRENTLY" in words or (len(words) > 1 and words[1] in ("DATABASE", "SYSTEM"))
    ):
        return True
    concurrent_index = head[:1] in (("CREATE",), ("DROP",)) and "INDEX" in words[:3]
    detach = head[:2] == ("ALTER", "TABLE") and "DETACH" in words
    return (concurrent_index or detach) and "CONCURRENTLY" in words


def split_statements(text: str, path: Path) -> Iterator[Statement]:
    """Split SQL on top-level semicolons, honouring quotes, dollar quotes and comments."""
    i, n = 0, len(text)
    start: int | None = None  # index of the first significant character of the statement
    masked: list[str] = []  # the statement's code with strings and comments blanked out
    while True:
        special = _SPECIAL.search(text, i)
        end = special.start() if special else n
        segment = text[i:end]
        if start is None and segment.strip():
            start = i + len(segment) - len(segment.lstrip())
        masked.append(segment)
        if special is None:
            break
        mark, i = special.group(), end
        if mark == "--":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
            continue
        if mark == "/*":
            i = _skip_block_comment(text, i, path)
            masked.append(" ")
            continue
        if mark == ";":
            if start is not None:
                yield _statement(text, start, i, masked)
            start, masked = None, []
            i += 1
            continue
        if start is None:
            start = i
        i, mask = _skip_literal(text, i, mark, path)
        masked.append(mask)
    if start is not None:
        yield _statement(text, start, n, masked)


def _skip_literal(text: str, i: int, mark: str, path: Path) -> tuple[int, str]:
    """Past the quoted string, identifier or dollar-quoted body at i; and what masks it."""
    if mark == "'":
        backslash_escapes = i > 0 and text[i - 1] in "eE" and not _is_word_char(text, i - 2)
        return _skip_quoted(text, i, "'", path, backslash_escapes=backslash_escapes), " '' "
    if mark == '"':
        return _skip_quoted(text, i, '"', path, backslash_escapes=False), ' "" '
    # "$": a dollar quote, or part of a name / positional parameter
    tag = None if _is_word_char(text, i - 1) else _DOLLAR_TAG.match(text, i)
    if tag is None:
        return i + 1, "$"
    close = text.find(tag.group(), tag.end())
    if close < 0:
        raise ScriptError(f"{path}:{_line(text, i)}: unterminated {tag.group()} quote")
    return close + len(tag.group()), " $$ "


def _statement(text: str, start: int, end: int, masked: list[str]) -> Statement:
    words = tuple(w.upper() for w in _WORD.findall("".join(masked)))
    return Statement(sql=text[start:end].rstrip(), line=_line(text, start), words=words)


def _skip_block_comment(text: str, i: int, path: Path) -> int:
    depth, j = 0, i
    while j < len(text):
        if text.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif text.startswith("*/", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        else:
            j += 1
    raise ScriptError(f"{path}:{_line(text, i)}: unterminated /* comment")


def _skip_quoted(text: str, i: int, quote: str, path: Path, *, backslash_escapes: bool) -> int:
    j = i + 1
    while j < len(text):
        ch = text[j]
        if backslash_escapes and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if text.startswith(quote, j + 1):  # doubled quote is an escaped quote
                j += 2
                continue
            return j + 1
        j += 1
    raise ScriptError(f"{path}:{_line(text, i)}: unterminated {quote} quote")


def _is_word_char(text: str, i: int) -> bool:
    return i >= 0 and (text[i].isalnum() or text[i] == "_")


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1
