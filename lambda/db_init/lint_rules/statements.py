"""Rules for statements other than ALTER TABLE, and what CREATE statements make new."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pglast import ast, enums

from db_init.lint_rules import names
from db_init.lint_rules.state import Hit, Scope

_OBJ = enums.ObjectType
_ACCESS_EXCLUSIVE = 8  # LOCKMODE AccessExclusiveLock
_REINDEX_ALL = (
    enums.ReindexObjectType.REINDEX_OBJECT_DATABASE,
    enums.ReindexObjectType.REINDEX_OBJECT_SYSTEM,
)


def create_table(node: ast.CreateStmt, scope: Scope) -> Iterator[Hit]:
    """A new table, and the types of its columns for later type changes."""
    if node.relation is None:
        return
    table = names.key(node.relation)
    scope.created.add(table)
    for element in node.tableElts or ():
        if isinstance(element, ast.ColumnDef) and element.colname and element.typeName:
            scope.state.column_types[(table, element.colname)] = element.typeName
    yield from ()


def create_table_as(node: ast.CreateTableAsStmt, scope: Scope) -> Iterator[Hit]:
    """A new table (or materialized view) from a query."""
    if node.into is not None and node.into.rel is not None:
        scope.created.add(names.key(node.into.rel))
    yield from ()


def create_view(node: ast.ViewStmt, scope: Scope) -> Iterator[Hit]:
    """A view: new, and a compatibility view when a rename in this file left its name."""
    if node.view is not None:
        scope.created.add(names.key(node.view))
        scope.views.add(names.key(node.view))
    yield from ()


def create_schema(node: ast.CreateSchemaStmt, scope: Scope) -> Iterator[Hit]:
    """A new schema."""
    if node.schemaname:
        scope.created.add(f"schema:{node.schemaname}")
    yield from ()


def create_type(node: Any, scope: Scope) -> Iterator[Hit]:
    """A new enum type or domain."""
    parts = node.typeName if isinstance(node, ast.CreateEnumStmt) else node.domainname
    scope.created.add(f"type:{names.key_of(names.dotted(parts or ()))}")
    yield from ()


def drop(node: ast.DropStmt, scope: Scope) -> Iterator[Hit]:
    """DROP TABLE / SCHEMA / TYPE / DOMAIN / INDEX of an object that is not new."""
    kind = node.removeType
    if node.concurrent and scope.transactional:
        yield scope.hit("non-transactional", "DROP INDEX CONCURRENTLY")
    shown = [names.dotted(o) for o in node.objects or ()]
    if kind == _OBJ.OBJECT_TABLE:
        for name in shown:
            if not scope.is_new(names.key_of(name)):
                yield scope.hit("drop-table", f"DROP TABLE {name}")
    elif kind == _OBJ.OBJECT_INDEX and not node.concurrent:
        existing = [n for n in shown if not scope.is_new(names.key_of(n))]
        if existing:
            yield scope.hit("drop-index", f"DROP INDEX {', '.join(existing)}")
    elif kind == _OBJ.OBJECT_SCHEMA:
        existing = [n for n in shown if not scope.is_new(f"schema:{n}")]
        if existing:
            yield scope.hit("drop-schema", f"DROP SCHEMA {', '.join(existing)}")
    elif kind in (_OBJ.OBJECT_TYPE, _OBJ.OBJECT_DOMAIN):
        word = "TYPE" if kind == _OBJ.OBJECT_TYPE else "DOMAIN"
        existing = [n for n in shown if not scope.is_new(f"type:{names.key_of(n)}")]
        if existing:
            yield scope.hit("drop-type", f"DROP {word} {', '.join(existing)}")


def truncate(node: ast.TruncateStmt, scope: Scope) -> Iterator[Hit]:
    """TRUNCATE of tables that are not new."""
    existing = [names.name(r) for r in node.relations or () if not scope.is_new(names.key(r))]
    if existing:
        yield scope.hit("truncate", f"TRUNCATE {', '.join(existing)}")
    for relation in node.relations or ():
        scope.lock(names.key(relation), names.name(relation))


def delete(node: ast.DeleteStmt, scope: Scope) -> Iterator[Hit]:
    """DELETE without WHERE on a table that is not new; any DELETE under an exclusive lock."""
    if node.relation is None or scope.is_new(names.key(node.relation)):
        return
    shown = names.name(node.relation)
    if node.whereClause is None:
        yield scope.hit("delete-without-where", f"DELETE FROM {shown}")
    yield from _under_lock(f"DELETE FROM {shown}", scope)


def update(node: ast.UpdateStmt, scope: Scope) -> Iterator[Hit]:
    """UPDATE without WHERE on a table that is not new; any UPDATE under an exclusive lock."""
    if node.relation is None or scope.is_new(names.key(node.relation)):
        return
    shown = names.name(node.relation)
    if node.whereClause is None:
        yield scope.hit("update-without-where", f"UPDATE {shown}")
    yield from _under_lock(f"UPDATE {shown}", scope)


def insert(node: ast.InsertStmt, scope: Scope) -> Iterator[Hit]:
    """INSERT ... SELECT into an existing table while the file holds an exclusive lock."""
    query = node.selectStmt
    if (
        node.relation is not None
        and not scope.is_new(names.key(node.relation))
        and isinstance(query, ast.SelectStmt)
        and not query.valuesLists
    ):
        yield from _under_lock(f"INSERT INTO {names.name(node.relation)} SELECT", scope)


def lock(node: ast.LockStmt, scope: Scope) -> Iterator[Hit]:
    """LOCK TABLE ... IN ACCESS EXCLUSIVE MODE (the default mode)."""
    if node.mode == _ACCESS_EXCLUSIVE:
        for relation in node.relations or ():
            if isinstance(relation, ast.RangeVar):
                scope.lock(names.key(relation), names.name(relation))
    yield from ()


def _under_lock(what: str, scope: Scope) -> Iterator[Hit]:
    if scope.locked is not None:
        yield scope.hit("backfill-under-lock", f"{what} while {scope.locked} is locked")


def index(node: ast.IndexStmt, scope: Scope) -> Iterator[Hit]:
    """CREATE INDEX: CONCURRENTLY needs its own file, plain blocks writes to an existing table."""
    shown = names.name(node.relation)
    if node.idxname and node.relation is not None:
        schema = node.relation.schemaname or "public"
        scope.created.add(f"{schema}.{node.idxname}")
    if node.concurrent:
        if scope.transactional:
            yield scope.hit("non-transactional", f"CREATE INDEX CONCURRENTLY ON {shown}")
    elif node.relation is not None and not scope.is_new(names.key(node.relation)):
        yield scope.hit("create-index", f"CREATE INDEX {node.idxname or ''} ON {shown}")


# Renames that give a relation (table, index, sequence, view) a new name in the same schema.
_RELATION_RENAMES = frozenset(
    {
        _OBJ.OBJECT_TABLE,
        _OBJ.OBJECT_INDEX,
        _OBJ.OBJECT_SEQUENCE,
        _OBJ.OBJECT_VIEW,
        _OBJ.OBJECT_MATVIEW,
        _OBJ.OBJECT_FOREIGN_TABLE,
    }
)


def rename(node: ast.RenameStmt, scope: Scope) -> Iterator[Hit]:
    """Renames of tables, columns and schemas that running code knows by the old name."""
    kind = node.renameType
    if kind == _OBJ.OBJECT_SCHEMA:
        if not scope.is_new(f"schema:{node.subname}"):
            what = f"ALTER SCHEMA {node.subname} RENAME TO {node.newname}"
            yield scope.hit("rename-schema", what)
        return
    if node.relation is None:
        return
    if scope.is_new(names.key(node.relation)):
        if kind in _RELATION_RENAMES:  # still new under its new name
            scope.created.add(f"{node.relation.schemaname or 'public'}.{node.newname}")
        return
    shown = names.name(node.relation)
    if kind == _OBJ.OBJECT_TABLE:
        # Held until the end of the file: a view under the old name keeps old code working.
        old = names.key(node.relation)
        found = scope.hit("rename-table", f"ALTER TABLE {shown} RENAME TO {node.newname}")
        scope.renames.append((old, found))
        scope.lock(old, shown)
    elif kind == _OBJ.OBJECT_COLUMN and node.relationType == _OBJ.OBJECT_TABLE:
        yield scope.hit(
            "rename-column", f"ALTER TABLE {shown} RENAME {node.subname} TO {node.newname}"
        )


def set_schema(node: ast.AlterObjectSchemaStmt, scope: Scope) -> Iterator[Hit]:
    """ALTER TABLE ... SET SCHEMA: the table's qualified name changes, like a rename."""
    if (
        node.objectType == _OBJ.OBJECT_TABLE
        and node.relation is not None
        and not scope.is_new(names.key(node.relation))
    ):
        shown = names.name(node.relation)
        yield scope.hit("rename-table", f"ALTER TABLE {shown} SET SCHEMA {node.newschema}")


def alter_enum(node: ast.AlterEnumStmt, scope: Scope) -> Iterator[Hit]:
    """ALTER TYPE ... RENAME VALUE on a type that is not new."""
    shown = names.dotted(node.typeName or ())
    if node.oldVal and not scope.is_new(f"type:{names.key_of(shown)}"):
        yield scope.hit("rename-enum-value", f"ALTER TYPE {shown} RENAME VALUE '{node.oldVal}'")


def alter_domain(node: ast.AlterDomainStmt, scope: Scope) -> Iterator[Hit]:
    """ALTER DOMAIN ... ADD CONSTRAINT (validated) on a domain that is not new."""
    shown = names.dotted(node.typeName or ())
    constraint = node.def_
    if (
        node.subtype == "C"
        and isinstance(constraint, ast.Constraint)
        and not constraint.skip_validation
        and not scope.is_new(f"type:{names.key_of(shown)}")
    ):
        yield scope.hit("alter-domain-add-constraint", f"ALTER DOMAIN {shown} ADD CONSTRAINT")


def transaction(node: ast.TransactionStmt, scope: Scope) -> Iterator[Hit]:
    """BEGIN / COMMIT / ROLLBACK / SAVEPOINT in a file the engine runs in its transaction."""
    kind = node.kind.name.removeprefix("TRANS_STMT_") if node.kind is not None else "BEGIN"
    yield scope.hit("transaction-control", kind)


def reindex(node: ast.ReindexStmt, scope: Scope) -> Iterator[Hit]:
    """REINDEX: CONCURRENTLY needs its own file; plain blocks writes."""
    concurrently = any(
        isinstance(p, ast.DefElem) and p.defname == "concurrently" for p in node.params or ()
    )
    if (concurrently or node.kind in _REINDEX_ALL) and scope.transactional:
        word = " CONCURRENTLY" if concurrently else ""
        yield scope.hit("non-transactional", f"REINDEX{word}")
    if not concurrently and not (node.relation and scope.is_new(names.key(node.relation))):
        yield scope.hit("reindex", f"REINDEX {names.name(node.relation) if node.relation else ''}")


def vacuum(node: ast.VacuumStmt, scope: Scope) -> Iterator[Hit]:
    """VACUUM cannot run in a transaction; VACUUM FULL rewrites existing tables."""
    if not node.is_vacuumcmd:
        return  # ANALYZE
    if scope.transactional:
        yield scope.hit("non-transactional", "VACUUM")
    full = any(isinstance(o, ast.DefElem) and o.defname == "full" for o in node.options or ())
    relations = [r.relation for r in node.rels or () if isinstance(r, ast.VacuumRelation)]
    existing = [names.name(r) for r in relations if r and not scope.is_new(names.key(r))]
    if full and (existing or not relations):
        yield scope.hit("vacuum-full", f"VACUUM FULL {', '.join(existing)}".rstrip())


def cluster(node: ast.ClusterStmt, scope: Scope) -> Iterator[Hit]:
    """CLUSTER of an existing table (without a table it cannot run in a transaction)."""
    if node.relation is None:
        if scope.transactional:
            yield scope.hit("non-transactional", "CLUSTER")
        yield scope.hit("cluster", "CLUSTER")
    elif not scope.is_new(names.key(node.relation)):
        yield scope.hit("cluster", f"CLUSTER {names.name(node.relation)}")


def never_in_transaction(what: str) -> Callable[[Any, Scope], Iterator[Hit]]:
    """A rule for a statement PostgreSQL refuses inside a transaction block."""

    def rule(_node: Any, scope: Scope) -> Iterator[Hit]:
        if scope.transactional:
            yield scope.hit("non-transactional", what)

    return rule
