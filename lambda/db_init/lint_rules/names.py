"""Object names from pglast nodes: lookup keys (schema-qualified) and names to show."""

from __future__ import annotations

from typing import Any

from pglast import ast


def key(relation: ast.RangeVar) -> str:
    """`schema.name` of a relation; unqualified names are taken as public."""
    return f"{relation.schemaname or 'public'}.{relation.relname}"


def key_of(dotted: str) -> str:
    """`schema.name` of a possibly unqualified dotted name."""
    return dotted if "." in dotted else f"public.{dotted}"


def name(relation: ast.RangeVar | None) -> str:
    """The relation as written."""
    if relation is None:
        return "?"
    return (
        f"{relation.schemaname}.{relation.relname}"
        if relation.schemaname
        else str(relation.relname)
    )


def dotted(name_node: Any) -> str:
    """`a.b` from a name node: a tuple of String, a TypeName, or a String."""
    if isinstance(name_node, ast.TypeName):
        name_node = name_node.names or ()
    if isinstance(name_node, ast.String):
        return str(name_node.sval)
    return ".".join(str(part.sval) for part in name_node if isinstance(part, ast.String))


def type_name(type_node: ast.TypeName) -> str:
    """The base name of a type (`varchar` for `character varying(20)`)."""
    names = [str(n.sval) for n in type_node.names or () if isinstance(n, ast.String)]
    return names[-1].lower() if names else ""


def typmods(type_node: ast.TypeName) -> list[int]:
    """Integer modifiers of a type (`[10, 2]` for `numeric(10,2)`)."""
    mods: list[int] = []
    for mod in type_node.typmods or ():
        if isinstance(mod, ast.A_Const) and isinstance(mod.val, ast.Integer):
            mods.append(int(mod.val.ival or 0))
    return mods


def walk(node: Any) -> Any:
    """Every pglast node under `node` (itself included), depth first."""
    if isinstance(node, ast.Node):
        yield node
        for slot in getattr(type(node), "__slots__", ()):
            yield from walk(getattr(node, slot, None))
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from walk(item)
