"""Rules for ALTER TABLE: columns, constraints, NOT NULL, defaults, partitions."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast, enums

from db_init.lint_rules import columns, names
from db_init.lint_rules.state import Hit, Scope

_AT = enums.AlterTableType
_CON = enums.ConstrType
_JSON = "json"
# ALTER TABLE commands that take less than ACCESS EXCLUSIVE (readers go on).
_WEAKER_LOCK = {_AT.AT_ValidateConstraint, _AT.AT_SetStatistics, _AT.AT_ClusterOn}


def alter_table(node: ast.AlterTableStmt, scope: Scope) -> Iterator[Hit]:
    """Each command of an ALTER TABLE, on an existing table or a new one."""
    if node.relation is None:
        return
    table, shown = names.key(node.relation), names.name(node.relation)
    new = scope.is_new(table)
    for command in node.cmds or ():
        if not isinstance(command, ast.AlterTableCmd):
            continue
        yield from _mode(command, shown, scope)
        if not new:
            yield from _existing(command, table, shown, scope)
        _track(command, table, scope)
        if command.subtype not in _WEAKER_LOCK:
            scope.lock(table, shown)


def _mode(command: ast.AlterTableCmd, shown: str, scope: Scope) -> Iterator[Hit]:
    partition = command.def_
    if (
        command.subtype == _AT.AT_DetachPartition
        and isinstance(partition, ast.PartitionCmd)
        and partition.concurrent
        and scope.transactional
    ):
        yield scope.hit("non-transactional", f"ALTER TABLE {shown} DETACH ... CONCURRENTLY")


def _track(command: ast.AlterTableCmd, table: str, scope: Scope) -> None:
    """Remember column types, NOT VALID constraints and validated NOT NULL checks."""
    state, kind, definition = scope.state, command.subtype, command.def_
    if kind == _AT.AT_AddColumn and isinstance(definition, ast.ColumnDef):
        if definition.colname and definition.typeName:
            state.column_types[(table, definition.colname)] = definition.typeName
    elif kind == _AT.AT_AlterColumnType and isinstance(definition, ast.ColumnDef):
        if command.name and definition.typeName:
            state.column_types[(table, command.name)] = definition.typeName
    elif kind == _AT.AT_AddConstraint and isinstance(definition, ast.Constraint):
        label = definition.conname or ""
        if definition.skip_validation and label:
            scope.not_valid_here.add((table, label))
        column = _not_null_column(definition) if definition.contype == _CON.CONSTR_CHECK else None
        if column and label:
            state.not_null_checks[(table, label)] = column
            if not definition.skip_validation:
                state.validated_not_null.add((table, column))
    elif kind == _AT.AT_ValidateConstraint:
        checked = state.not_null_checks.get((table, command.name or ""))
        if checked:
            state.validated_not_null.add((table, checked))


def _existing(command: ast.AlterTableCmd, table: str, shown: str, scope: Scope) -> Iterator[Hit]:
    kind, column, definition = command.subtype, command.name or "", command.def_
    if kind == _AT.AT_DropColumn:
        yield scope.hit("drop-column", f"ALTER TABLE {shown} DROP COLUMN {column}")
    elif kind == _AT.AT_AddColumn and isinstance(definition, ast.ColumnDef):
        yield from _add_column(definition, shown, scope)
    elif kind == _AT.AT_AlterColumnType and isinstance(definition, ast.ColumnDef):
        if not columns.rewrite_free(scope.state.column_types.get((table, column)), definition):
            yield scope.hit("alter-column-type", f"ALTER TABLE {shown} ALTER COLUMN {column} TYPE")
    elif kind == _AT.AT_SetNotNull and not _proven_not_null(table, column, scope):
        yield scope.hit("set-not-null", f"ALTER TABLE {shown} ALTER COLUMN {column} SET NOT NULL")
    elif kind == _AT.AT_DropNotNull:
        yield scope.hit("drop-not-null", f"ALTER TABLE {shown} ALTER COLUMN {column} DROP NOT NULL")
    elif kind == _AT.AT_ColumnDefault and definition is None:
        yield scope.hit("drop-default", f"ALTER TABLE {shown} ALTER COLUMN {column} DROP DEFAULT")
    elif kind == _AT.AT_AddConstraint and isinstance(definition, ast.Constraint):
        yield from _add_constraint(definition, shown, scope)
    elif kind == _AT.AT_ValidateConstraint and (table, column) in scope.not_valid_here:
        yield scope.hit(
            "validate-in-same-file", f"ALTER TABLE {shown} VALIDATE CONSTRAINT {column}"
        )
    elif (
        kind == _AT.AT_DetachPartition
        and isinstance(definition, ast.PartitionCmd)
        and not definition.concurrent
    ):
        part = names.name(definition.name)
        yield scope.hit("detach-partition", f"ALTER TABLE {shown} DETACH PARTITION {part}")


def _proven_not_null(table: str, column: str, scope: Scope) -> bool:
    # From PostgreSQL 12 a valid CHECK (col IS NOT NULL) lets SET NOT NULL skip the scan.
    return scope.pg_version >= 12 and (table, column) in scope.state.validated_not_null


def _add_column(column: ast.ColumnDef, shown: str, scope: Scope) -> Iterator[Hit]:
    what = f"ALTER TABLE {shown} ADD COLUMN {column.colname}"
    kinds = {c.contype for c in columns.constraints(column)}
    if _CON.CONSTR_FOREIGN in kinds:
        yield scope.hit("add-column-foreign-key", f"{what} REFERENCES")
    if kinds & {_CON.CONSTR_UNIQUE, _CON.CONSTR_PRIMARY}:
        word = "PRIMARY KEY" if _CON.CONSTR_PRIMARY in kinds else "UNIQUE"
        yield scope.hit("add-column-unique", f"{what} {word}")
    default = columns.default(column)
    if columns.is_serial(column):
        yield scope.hit("add-column-serial", f"{what} (serial / identity)")
    elif columns.is_generated(column):
        yield scope.hit("add-column-generated", f"{what} GENERATED ... STORED")
    elif default is not None and (scope.pg_version < 11 or columns.is_volatile(default)):
        why = "DEFAULT before PostgreSQL 11" if scope.pg_version < 11 else "volatile DEFAULT"
        yield scope.hit("add-column-volatile-default", f"{what} {why}")
    elif default is None and (column.is_not_null or _CON.CONSTR_NOTNULL in kinds):
        yield scope.hit("add-column-not-null", f"{what} NOT NULL without a DEFAULT")
    if column.typeName is not None and names.type_name(column.typeName) == _JSON:
        yield scope.hit("add-column-json", f"{what} json")


def _add_constraint(constraint: ast.Constraint, shown: str, scope: Scope) -> Iterator[Hit]:
    kind, label = constraint.contype, constraint.conname or ""
    what = f"ALTER TABLE {shown} ADD CONSTRAINT {label}".rstrip()
    if kind == _CON.CONSTR_CHECK and not constraint.skip_validation:
        yield scope.hit("add-check", f"{what} CHECK")
    elif kind == _CON.CONSTR_FOREIGN and not constraint.skip_validation:
        yield scope.hit("add-foreign-key", f"{what} FOREIGN KEY")
    elif kind in (_CON.CONSTR_UNIQUE, _CON.CONSTR_PRIMARY) and not constraint.indexname:
        word = "UNIQUE" if kind == _CON.CONSTR_UNIQUE else "PRIMARY KEY"
        yield scope.hit("add-unique", f"{what} {word}")
    elif kind == _CON.CONSTR_EXCLUSION:
        yield scope.hit("add-exclude", f"{what} EXCLUDE")


def _not_null_column(constraint: ast.Constraint) -> str | None:
    """`col` of a `CHECK (col IS NOT NULL)` constraint."""
    expression = constraint.raw_expr
    if (
        isinstance(expression, ast.NullTest)
        and expression.nulltesttype == enums.NullTestType.IS_NOT_NULL
        and isinstance(expression.arg, ast.ColumnRef)
    ):
        parts = expression.arg.fields or ()
        if parts and isinstance(parts[-1], ast.String) and parts[-1].sval:
            return str(parts[-1].sval)
    return None
