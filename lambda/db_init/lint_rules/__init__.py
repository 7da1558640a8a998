"""Lint rules over PostgreSQL's own parse tree (pglast): one small function per statement kind.

Imported only when linting: pglast is not in the Lambda bundle (see db_init.lint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError

from db_init.lint_rules import statements as st
from db_init.lint_rules.alter_table import alter_table
from db_init.lint_rules.source import Lines, code_start, first_token, line_comments, pieces
from db_init.lint_rules.state import Hit, Scope, SetState

__all__ = ["FileLint", "Hit", "SetState", "lint_file"]

NON_TRANSACTIONAL_MARKER = "shoppulse:non-transactional"
# Statements whose first token is one of these never trigger a rule (see _RULES).
_NO_RULE_LOOKS_AT = {"COMMENT", "SELECT", "GRANT", "REVOKE", "DO", "SET", ""}
# INSERT matters only while the file holds an exclusive lock (backfill-under-lock); files of
# many large INSERTs (seed-like data) are not parsed otherwise.
_INSERT = "INSERT"

_RULES: dict[type[ast.Node], Callable[[Any, Scope], Iterator[Hit]]] = {
    ast.CreateStmt: st.create_table,
    ast.CreateTableAsStmt: st.create_table_as,
    ast.ViewStmt: st.create_view,
    ast.CreateSchemaStmt: st.create_schema,
    ast.CreateEnumStmt: st.create_type,
    ast.CreateDomainStmt: st.create_type,
    ast.DropStmt: st.drop,
    ast.TruncateStmt: st.truncate,
    ast.DeleteStmt: st.delete,
    ast.UpdateStmt: st.update,
    ast.InsertStmt: st.insert,
    ast.LockStmt: st.lock,
    ast.IndexStmt: st.index,
    ast.RenameStmt: st.rename,
    ast.AlterObjectSchemaStmt: st.set_schema,
    ast.AlterEnumStmt: st.alter_enum,
    ast.AlterDomainStmt: st.alter_domain,
    ast.AlterTableStmt: alter_table,
    ast.TransactionStmt: st.transaction,
    ast.ReindexStmt: st.reindex,
    ast.VacuumStmt: st.vacuum,
    ast.ClusterStmt: st.cluster,
    ast.CreatedbStmt: st.never_in_transaction("CREATE DATABASE"),
    ast.DropdbStmt: st.never_in_transaction("DROP DATABASE"),
    ast.CreateTableSpaceStmt: st.never_in_transaction("CREATE TABLESPACE"),
    ast.DropTableSpaceStmt: st.never_in_transaction("DROP TABLESPACE"),
    ast.AlterSystemStmt: st.never_in_transaction("ALTER SYSTEM"),
    ast.CreateSubscriptionStmt: st.never_in_transaction("CREATE SUBSCRIPTION"),
    ast.DropSubscriptionStmt: st.never_in_transaction("DROP SUBSCRIPTION"),
}


@dataclass(frozen=True)
class FileLint:
    """One file's hits, the start line of each statement, and its whole-line `--` comments."""

    hits: tuple[Hit, ...]
    statement_lines: tuple[int, ...]
    comments: tuple[tuple[int, str], ...]
    created: frozenset[str]  # objects the file creates (for the run context)


def lint_file(text: str, state: SetState, *, pg_version: int) -> FileLint:
    """Lint one file against what earlier files established; updates `state` for later ones.

    Statements are parsed one at a time so a file of many large INSERTs never holds more
    than one statement's tree in memory.
    """
    found, whole_file_parses = pieces(text)
    lines = Lines(text)
    comments = [c for offset, piece in found for c in line_comments(lines, offset, piece)]
    transactional = not any(c[2:].strip() == NON_TRANSACTIONAL_MARKER for _, c in comments)
    scope = Scope(state=state, transactional=transactional, pg_version=pg_version)
    hits: list[Hit] = []
    starts: list[int] = []
    for offset, piece in found:
        kind = first_token(piece)
        if not kind:
            continue  # whitespace and comments between statements
        start = offset + code_start(piece)
        scope.statement = len(starts)
        scope.line, scope.column = lines.of(start), lines.column(start)
        starts.append(scope.line)
        # Building the tree is most of lint's cost: skip statements no rule looks at (only when
        # the whole file parses, so a syntax error anywhere is still found and reported).
        skipped = kind in _NO_RULE_LOOKS_AT or (kind == _INSERT and scope.locked is None)
        if whole_file_parses and skipped:
            continue
        hits += _lint_piece(piece, offset, lines, scope)
    hits += [found_hit for old, found_hit in scope.renames if old not in scope.views]
    hits.sort(key=lambda h: (h.line, h.column))
    return FileLint(tuple(hits), tuple(starts), tuple(comments), frozenset(scope.created))


def _lint_piece(piece: str, offset: int, lines: Lines, scope: Scope) -> list[Hit]:
    try:
        parsed = parse_sql(piece)
    except ParseError as error:
        # pglast gives the 0-based offset of the offending token, or None when it has none
        position = int(error.args[1] or 0) if len(error.args) > 1 else 0
        at = offset + position
        scope.line, scope.column = lines.of(at), lines.column(at)
        return [scope.hit("syntax-error", str(error.args[0]))]
    hits: list[Hit] = []
    for raw in parsed:
        rule = _RULES.get(type(raw.stmt)) if raw.stmt is not None else None
        if rule is not None:
            hits += rule(raw.stmt, scope)
    return hits
