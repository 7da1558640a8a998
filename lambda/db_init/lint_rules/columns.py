"""What adding or retyping a column costs: rewrites, volatile defaults, free type changes."""

from __future__ import annotations

from pglast import ast, enums

from db_init.lint_rules import names

_CON = enums.ConstrType
# Types whose length / precision may grow without a rewrite (PostgreSQL's binary-coercible,
# typmod-only changes): the new modifier must be at least the old one, or absent.
_WIDENABLE = {"varchar", "varbit", "timestamp", "timestamptz", "time", "timetz", "interval"}
# (old, new) changes PostgreSQL makes without rewriting or scanning the table.
_COERCIBLE = {("varchar", "text"), ("text", "varchar"), ("cidr", "inet")}
_SERIAL = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}
# Built-in functions that are not volatile, so a default calling them is evaluated once
# (PostgreSQL 11+ stores it in the catalog instead of rewriting the table). Any other
# function counts as volatile: CREATE FUNCTION's default volatility is VOLATILE.
_NOT_VOLATILE = {
    "now", "transaction_timestamp", "statement_timestamp", "current_setting", "lower",
    "upper", "btrim", "trim", "concat", "concat_ws", "length", "make_date", "make_interval",
    "make_timestamp", "make_timestamptz", "to_char", "to_date", "to_timestamp", "to_jsonb",
    "to_json", "jsonb_build_object", "jsonb_build_array", "json_build_object",
    "json_build_array", "array_fill", "md5", "abs", "round", "date_trunc", "timezone",
}  # fmt: skip


def is_serial(column: ast.ColumnDef) -> bool:
    """A serial-type or identity column: every existing row gets a sequence number."""
    type_node = column.typeName
    if type_node is not None and names.type_name(type_node) in _SERIAL:
        return True
    return any(c.contype == _CON.CONSTR_IDENTITY for c in constraints(column))


def is_generated(column: ast.ColumnDef) -> bool:
    """A stored generated column (computed for every existing row)."""
    return any(c.contype == _CON.CONSTR_GENERATED for c in constraints(column))


def default(column: ast.ColumnDef) -> ast.Node | None:
    """The DEFAULT expression of a column definition."""
    if column.raw_default is not None:
        return column.raw_default
    for constraint in constraints(column):
        if constraint.contype == _CON.CONSTR_DEFAULT:
            return constraint.raw_expr
    return None


def is_volatile(expression: ast.Node) -> bool:
    """Whether the expression calls a function not known to be stable or immutable."""
    for node in names.walk(expression):
        if isinstance(node, ast.FuncCall):
            called = names.dotted(node.funcname or ()).rsplit(".", 1)[-1].lower()
            if called not in _NOT_VOLATILE:
                return True
    return False


def constraints(column: ast.ColumnDef) -> list[ast.Constraint]:
    """The inline constraints of a column definition."""
    return [c for c in column.constraints or () if isinstance(c, ast.Constraint)]


def rewrite_free(old: ast.TypeName | None, new: ast.ColumnDef) -> bool:  # noqa: PLR0911
    """Whether `ALTER COLUMN ... TYPE` from `old` keeps the table (no rewrite, no scan)."""
    if old is None or new.typeName is None or new.raw_default is not None:
        return False  # unknown old type, or a USING expression: assume the worst
    before, after = names.type_name(old), names.type_name(new.typeName)
    old_mods, new_mods = names.typmods(old), names.typmods(new.typeName)
    if (before, after) in _COERCIBLE:
        return after != "varchar" or not new_mods
    if before != after:
        return False
    if not new_mods:
        return before in _WIDENABLE or before == "numeric"
    if not old_mods:
        return False  # from unlimited to limited: every row is checked
    if before in _WIDENABLE:
        return new_mods[0] >= old_mods[0]
    if before == "numeric":  # more digits, same scale
        old_scale = old_mods[1] if len(old_mods) > 1 else 0
        new_scale = new_mods[1] if len(new_mods) > 1 else 0
        return new_mods[0] >= old_mods[0] and new_scale == old_scale
    return False
