"""Lint rules over PostgreSQL's own parse tree (pglast): one small function per statement kind."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError, scan, split

NON_TRANSACTIONAL_MARKER = "shoppulse:non-transactional"
# Statements whose first token is one of these never trigger a rule (see _RULES).
_NO_RULE_LOOKS_AT = {"COMMENT", "INSERT", "SELECT", "GRANT", "REVOKE", "DO", "SET", ""}
Hit = tuple[int, str, str]  # (file line, rule id, what the statement does)
_AT = enums.AlterTableType
_OBJ = enums.ObjectType
_CON = enums.ConstrType
# Type changes PostgreSQL makes without rewriting the table: (old, new) base type names.
_NO_REWRITE = {("varchar", "varchar"), ("varchar", "text"), ("numeric", "numeric")}


@dataclass
class SetState:
    """What earlier files of the migration set established (column types, validated checks)."""

    column_types: dict[tuple[str, str], ast.TypeName] = field(default_factory=dict)
    not_null_checks: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, con) -> col
    validated_not_null: set[tuple[str, str]] = field(default_factory=set)  # earlier files only


@dataclass
class _File:
    """The file being linted: its tables, its mode, and the set state."""

    state: SetState
    transactional: bool
    line: int = 1
    created: set[str] = field(default_factory=set)
    validated_here: set[tuple[str, str]] = field(default_factory=set)

    def is_new(self, relation: ast.RangeVar | None) -> bool:
        return relation is not None and _key(relation) in self.created


def lint_file(text: str, state: SetState) -> tuple[list[Hit], list[tuple[int, str]]]:
    """Findings of one file, and its whole-line `--` comments (line, text) for the markers.

    Statements are parsed one at a time so a file of many large INSERTs never holds more
    than one statement's tree in memory.
    """
    pieces, whole_file_parses = _pieces(text)
    lines = _Lines(text)
    comments = [c for offset, piece in pieces for c in _line_comments(lines, offset, piece)]
    transactional = not any(c[2:].strip() == NON_TRANSACTIONAL_MARKER for _, c in comments)
    current = _File(state=state, transactional=transactional)
    hits: list[Hit] = []
    for offset, piece in pieces:
        # Building the tree is most of lint's cost: skip statements no rule looks at (only when
        # the whole file parses, so a syntax error anywhere is still found and reported).
        if whole_file_parses and _first_token(piece) in _NO_RULE_LOOKS_AT:
            continue
        try:
            statements = parse_sql(piece)
        except ParseError as error:
            # pglast gives the 1-based position of the error, or None when it has none
            position = int(error.args[1] or 1) - 1 if len(error.args) > 1 else 0
            hits.append((lines.of(offset + position), "syntax-error", str(error.args[0])))
            continue
        for raw in statements:
            current.line = lines.of(offset + (raw.stmt_location or 0))
            rule = _RULES.get(type(raw.stmt)) if raw.stmt is not None else None
            if rule is not None:
                hits += rule(raw.stmt, current)
    state.validated_not_null |= current.validated_here
    return hits, comments


def _pieces(text: str) -> tuple[list[tuple[int, str]], bool]:
    """(offset, text) of each statement and of each stretch between them; and whether it parses."""
    try:
        slices, parses = split(text, with_parser=True, only_slices=True), True
    except ParseError:  # still find the statements (and the error's line) one by one
        slices, parses = split(text, with_parser=False, only_slices=True), False
    pieces: list[tuple[int, str]] = []
    end = 0
    for part in slices:
        start, stop = int(part.start or 0), int(part.stop or 0)
        if start > end:
            pieces.append((end, text[end:start]))
        pieces.append((start, text[start:stop]))
        end = stop
    if end < len(text):
        pieces.append((end, text[end:]))
    return pieces, parses


def _first_token(piece: str) -> str:
    """The scanner's name for the first token that is not a comment ('' for none)."""
    for token in scan(piece):
        if token.name not in ("SQL_COMMENT", "C_COMMENT"):
            return str(token.name)
    return ""


def _create_table(node: ast.CreateStmt, current: _File) -> Iterator[Hit]:
    if node.relation is None:
        return
    table = _key(node.relation)
    current.created.add(table)
    for element in node.tableElts or ():
        if isinstance(element, ast.ColumnDef) and element.colname and element.typeName:
            current.state.column_types[(table, element.colname)] = element.typeName
    yield from ()


def _create_table_as(node: ast.CreateTableAsStmt, current: _File) -> Iterator[Hit]:
    if node.into is not None and node.into.rel is not None:
        current.created.add(_key(node.into.rel))
    yield from ()


def _drop(node: ast.DropStmt, current: _File) -> Iterator[Hit]:
    kind = node.removeType
    if node.concurrent and current.transactional:
        yield current.line, "non-transactional", "DROP INDEX CONCURRENTLY"
    names = [_dotted(o) for o in node.objects or ()]
    if kind == _OBJ.OBJECT_TABLE:
        for name in names:
            if _key_of(name) not in current.created:
                yield current.line, "drop-table", f"DROP TABLE {name}"
    elif kind == _OBJ.OBJECT_SCHEMA:
        yield current.line, "drop-schema", f"DROP SCHEMA {', '.join(names)}"
    elif kind in (_OBJ.OBJECT_TYPE, _OBJ.OBJECT_DOMAIN):
        word = "TYPE" if kind == _OBJ.OBJECT_TYPE else "DOMAIN"
        yield current.line, "drop-type", f"DROP {word} {', '.join(names)}"


def _truncate(node: ast.TruncateStmt, current: _File) -> Iterator[Hit]:
    existing = [_name(r) for r in node.relations or () if not current.is_new(r)]
    if existing:
        yield current.line, "truncate", f"TRUNCATE {', '.join(existing)}"


def _delete(node: ast.DeleteStmt, current: _File) -> Iterator[Hit]:
    if node.whereClause is None and not current.is_new(node.relation):
        yield current.line, "delete-without-where", f"DELETE FROM {_name(node.relation)}"


def _update(node: ast.UpdateStmt, current: _File) -> Iterator[Hit]:
    if node.whereClause is None and not current.is_new(node.relation):
        yield current.line, "update-without-where", f"UPDATE {_name(node.relation)}"


def _index(node: ast.IndexStmt, current: _File) -> Iterator[Hit]:
    name = _name(node.relation)
    if node.concurrent:
        if current.transactional:
            yield current.line, "non-transactional", f"CREATE INDEX CONCURRENTLY ON {name}"
    elif not current.is_new(node.relation):
        yield current.line, "create-index", f"CREATE INDEX {node.idxname or ''} ON {name}"


def _rename(node: ast.RenameStmt, current: _File) -> Iterator[Hit]:
    if current.is_new(node.relation):
        return
    name = _name(node.relation)
    if node.renameType == _OBJ.OBJECT_TABLE:
        yield current.line, "rename-table", f"ALTER TABLE {name} RENAME TO {node.newname}"
    elif node.renameType == _OBJ.OBJECT_COLUMN and node.relationType == _OBJ.OBJECT_TABLE:
        yield (
            current.line,
            "rename-column",
            f"ALTER TABLE {name} RENAME {node.subname} TO {node.newname}",
        )


def _alter_table(node: ast.AlterTableStmt, current: _File) -> Iterator[Hit]:
    if node.relation is None:
        return
    table, name, new = _key(node.relation), _name(node.relation), current.is_new(node.relation)
    for command in node.cmds or ():
        if not isinstance(command, ast.AlterTableCmd):
            continue
        yield from _alter_command(command, table, name, current, new=new)


def _alter_command(
    command: ast.AlterTableCmd, table: str, name: str, current: _File, *, new: bool
) -> Iterator[Hit]:
    _track(command, table, current)
    partition = command.def_
    if (
        command.subtype == _AT.AT_DetachPartition
        and isinstance(partition, ast.PartitionCmd)
        and partition.concurrent
        and current.transactional
    ):
        yield current.line, "non-transactional", f"ALTER TABLE {name} DETACH ... CONCURRENTLY"
    if not new:
        yield from _existing_table_command(command, table, name, current)
    changed = command.def_
    if (
        command.subtype == _AT.AT_AlterColumnType
        and isinstance(changed, ast.ColumnDef)
        and command.name
        and changed.typeName
    ):
        current.state.column_types[(table, command.name)] = changed.typeName


def _track(command: ast.AlterTableCmd, table: str, current: _File) -> None:
    """Remember added column types and validated NOT NULL checks for later statements."""
    if command.subtype == _AT.AT_AddColumn and isinstance(command.def_, ast.ColumnDef):
        if command.def_.colname and command.def_.typeName:
            current.state.column_types[(table, command.def_.colname)] = command.def_.typeName
    elif command.subtype == _AT.AT_ValidateConstraint:
        checked = current.state.not_null_checks.get((table, command.name or ""))
        if checked:
            current.validated_here.add((table, checked))


def _existing_table_command(
    command: ast.AlterTableCmd, table: str, name: str, current: _File
) -> Iterator[Hit]:
    kind, column, line = command.subtype, command.name or "", current.line
    if kind == _AT.AT_DropColumn:
        yield line, "drop-column", f"ALTER TABLE {name} DROP COLUMN {column}"
    elif kind == _AT.AT_AlterColumnType and isinstance(command.def_, ast.ColumnDef):
        if not _rewrite_free(current.state.column_types.get((table, column)), command.def_):
            yield line, "alter-column-type", f"ALTER TABLE {name} ALTER COLUMN {column} TYPE"
    elif kind == _AT.AT_SetNotNull and (table, column) not in current.state.validated_not_null:
        yield line, "set-not-null", f"ALTER TABLE {name} ALTER COLUMN {column} SET NOT NULL"
    elif kind == _AT.AT_AddConstraint and isinstance(command.def_, ast.Constraint):
        yield from _add_constraint(command.def_, table, name, current)


def _add_constraint(
    constraint: ast.Constraint, table: str, name: str, current: _File
) -> Iterator[Hit]:
    kind, line = constraint.contype, current.line
    label = constraint.conname or ""
    if kind == _CON.CONSTR_CHECK:
        column = _not_null_column(constraint.raw_expr)
        if column and label:
            current.state.not_null_checks[(table, label)] = column
        if not constraint.skip_validation:
            yield line, "add-check", f"ALTER TABLE {name} ADD CONSTRAINT {label} CHECK"
    elif kind == _CON.CONSTR_FOREIGN and not constraint.skip_validation:
        yield line, "add-foreign-key", f"ALTER TABLE {name} ADD CONSTRAINT {label} FOREIGN KEY"
    elif kind in (_CON.CONSTR_UNIQUE, _CON.CONSTR_PRIMARY) and not constraint.indexname:
        word = "UNIQUE" if kind == _CON.CONSTR_UNIQUE else "PRIMARY KEY"
        yield line, "add-unique", f"ALTER TABLE {name} ADD CONSTRAINT {label} {word}"


def _transaction(node: ast.TransactionStmt, current: _File) -> Iterator[Hit]:
    kind = node.kind.name.removeprefix("TRANS_STMT_") if node.kind is not None else "BEGIN"
    yield current.line, "transaction-control", kind


def _reindex(node: ast.ReindexStmt, current: _File) -> Iterator[Hit]:
    concurrently = any(
        isinstance(p, ast.DefElem) and p.defname == "concurrently" for p in node.params or ()
    )
    whole = node.kind in (
        enums.ReindexObjectType.REINDEX_OBJECT_DATABASE,
        enums.ReindexObjectType.REINDEX_OBJECT_SYSTEM,
    )
    if (concurrently or whole) and current.transactional:
        yield (
            current.line,
            "non-transactional",
            "REINDEX" + (" CONCURRENTLY" if concurrently else ""),
        )


def _vacuum(node: ast.VacuumStmt, current: _File) -> Iterator[Hit]:
    if node.is_vacuumcmd and current.transactional:
        yield current.line, "non-transactional", "VACUUM"


def _never_in_transaction(what: str) -> Callable[[Any, _File], Iterator[Hit]]:
    def rule(_node: Any, current: _File) -> Iterator[Hit]:
        if current.transactional:
            yield current.line, "non-transactional", what

    return rule


_RULES: dict[type[ast.Node], Callable[[Any, _File], Iterator[Hit]]] = {
    ast.CreateStmt: _create_table,
    ast.CreateTableAsStmt: _create_table_as,
    ast.DropStmt: _drop,
    ast.TruncateStmt: _truncate,
    ast.DeleteStmt: _delete,
    ast.UpdateStmt: _update,
    ast.IndexStmt: _index,
    ast.RenameStmt: _rename,
    ast.AlterTableStmt: _alter_table,
    ast.TransactionStmt: _transaction,
    ast.ReindexStmt: _reindex,
    ast.VacuumStmt: _vacuum,
    ast.CreatedbStmt: _never_in_transaction("CREATE DATABASE"),
    ast.DropdbStmt: _never_in_transaction("DROP DATABASE"),
    ast.CreateTableSpaceStmt: _never_in_transaction("CREATE TABLESPACE"),
    ast.DropTableSpaceStmt: _never_in_transaction("DROP TABLESPACE"),
    ast.AlterSystemStmt: _never_in_transaction("ALTER SYSTEM"),
    ast.CreateSubscriptionStmt: _never_in_transaction("CREATE SUBSCRIPTION"),
    ast.DropSubscriptionStmt: _never_in_transaction("DROP SUBSCRIPTION"),
}


def _rewrite_free(old: ast.TypeName | None, new: ast.ColumnDef) -> bool:
    """Widening varchar/numeric (same scale) or varchar -> text, with no USING, keeps the table."""
    if old is None or new.typeName is None or new.raw_default is not None:
        return False
    before, after = _type_name(old), _type_name(new.typeName)
    if (before, after) not in _NO_REWRITE:
        return False
    old_mods, new_mods = _typmods(old), _typmods(new.typeName)
    if after == "text" or not new_mods:
        return True
    if before == "varchar":
        return bool(old_mods) and new_mods[0] >= old_mods[0]
    old_scale = old_mods[1] if len(old_mods) > 1 else 0
    new_scale = new_mods[1] if len(new_mods) > 1 else 0
    return bool(old_mods) and new_mods[0] >= old_mods[0] and new_scale == old_scale


def _not_null_column(expression: ast.Node | None) -> str | None:
    """`col` of a `CHECK (col IS NOT NULL)` expression."""
    if (
        isinstance(expression, ast.NullTest)
        and expression.nulltesttype == enums.NullTestType.IS_NOT_NULL
        and isinstance(expression.arg, ast.ColumnRef)
    ):
        parts = expression.arg.fields or ()
        if parts and isinstance(parts[-1], ast.String) and parts[-1].sval:
            return str(parts[-1].sval)
    return None


def _type_name(type_name: ast.TypeName) -> str:
    names = [str(n.sval) for n in type_name.names or () if isinstance(n, ast.String)]
    return names[-1] if names else ""


def _typmods(type_name: ast.TypeName) -> list[int]:
    mods: list[int] = []
    for mod in type_name.typmods or ():
        if isinstance(mod, ast.A_Const) and isinstance(mod.val, ast.Integer):
            mods.append(int(mod.val.ival or 0))
    return mods


def _key(relation: ast.RangeVar) -> str:
    return f"{relation.schemaname or 'public'}.{relation.relname}"


def _key_of(dotted: str) -> str:
    return dotted if "." in dotted else f"public.{dotted}"


def _name(relation: ast.RangeVar | None) -> str:
    if relation is None:
        return "?"
    return (
        f"{relation.schemaname}.{relation.relname}"
        if relation.schemaname
        else str(relation.relname)
    )


def _dotted(name: Any) -> str:
    """`a.b` from a DropStmt object: a tuple of String, a TypeName, or a String."""
    if isinstance(name, ast.TypeName):
        name = name.names or ()
    if isinstance(name, ast.String):
        return str(name.sval)
    return ".".join(str(part.sval) for part in name if isinstance(part, ast.String))


def _line_comments(lines: _Lines, offset: int, piece: str) -> list[tuple[int, str]]:
    """Every `--` comment of `piece` that starts its line, found by the SQL scanner."""
    comments: list[tuple[int, str]] = []
    for token in scan(piece):
        if token.name != "SQL_COMMENT":
            continue
        if not lines.starts_line(offset + token.start):
            continue  # a trailing comment after a statement is not a marker
        comments.append(
            (lines.of(offset + token.start), piece[token.start : token.end + 1].strip())
        )
    return comments


class _Lines:
    """Line numbers of character offsets, by binary search over the newline positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines: list[int] = []
        at = text.find("\n")
        while at >= 0:
            self.newlines.append(at)
            at = text.find("\n", at + 1)

    def of(self, index: int) -> int:
        """1-based line of `index`."""
        return bisect.bisect_left(self.newlines, index) + 1

    def starts_line(self, index: int) -> bool:
        """Whether only whitespace precedes `index` on its line."""
        line = self.of(index)
        start = self.newlines[line - 2] + 1 if line > 1 else 0
        return not self.text[start:index].strip()
