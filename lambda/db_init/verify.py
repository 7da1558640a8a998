"""Declared schema expectations (sql/expected_schema.toml) compared with the live catalog."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from db_init.db import Session
from db_init.errors import ScriptError

EXPECTATIONS_FILE = "expected_schema.toml"
_SCHEMA = "public"


@dataclass(frozen=True)
class TableShape:
    """Columns (name -> `type[ not null]`) and named objects of one table."""

    columns: dict[str, str]
    constraints: frozenset[str]
    indexes: frozenset[str]
    triggers: frozenset[str]


@dataclass(frozen=True)
class SchemaShape:
    """Tables and functions of the public schema."""

    tables: dict[str, TableShape]
    functions: frozenset[str]

    @property
    def trigger_count(self) -> int:
        """Number of user triggers over all tables."""
        return sum(len(t.triggers) for t in self.tables.values())


@dataclass(frozen=True)
class Report:
    """What verification found: problems fail a run, extras are only reported."""

    problems: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    table_count: int = 0
    trigger_count: int = 0


def load_expectations(sql_dir: Path) -> SchemaShape:
    """Parse sql/expected_schema.toml into a SchemaShape."""
    path = sql_dir / EXPECTATIONS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScriptError(f"{path} is missing: verification needs the declared schema") from None
    except tomllib.TOMLDecodeError as error:
        raise ScriptError(f"{path}: {error}") from None
    try:
        tables = {
            name: TableShape(
                columns={c: str(t).lower() for c, t in spec["columns"].items()},
                constraints=frozenset(spec.get("constraints", ())),
                indexes=frozenset(spec.get("indexes", ())),
                triggers=frozenset(spec.get("triggers", ())),
            )
            for name, spec in data["tables"].items()
        }
        functions = frozenset(data.get("functions", {}).get(_SCHEMA, ()))
    except (KeyError, AttributeError, TypeError) as error:
        raise ScriptError(f"{path}: unexpected layout ({error!r})") from None
    return SchemaShape(tables=tables, functions=functions)


def live_shape(session: Session) -> SchemaShape:
    """Read the public schema's tables, columns, constraints, indexes, triggers and functions."""
    columns: dict[str, dict[str, str]] = defaultdict(dict)
    for table, column, type_, not_null in session.query(
        """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND a.attnum > 0
             AND NOT a.attisdropped""",
        schema=_SCHEMA,
    ):
        columns[table][column] = type_ + (" not null" if not_null else "")
    named = {
        kind: _names_by_table(session, sql)
        for kind, sql in (
            (
                "constraints",
                """SELECT c.relname, k.conname FROM pg_constraint k
                   JOIN pg_class c ON c.oid = k.conrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = :schema AND k.contype IN ('p', 'f', 'u', 'c', 'x')""",
            ),
            ("indexes", "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = :schema"),
            (
                "triggers",
                """SELECT c.relname, t.tgname FROM pg_trigger t
                   JOIN pg_class c ON c.oid = t.tgrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = :schema AND NOT t.tgisinternal""",
            ),
        )
    }
    functions = frozenset(
        row[0]
        for row in session.query(
            """SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = :schema""",
            schema=_SCHEMA,
        )
    )
    tables = {
        table: TableShape(
            columns=cols,
            constraints=frozenset(named["constraints"].get(table, ())),
            indexes=frozenset(named["indexes"].get(table, ())),
            triggers=frozenset(named["triggers"].get(table, ())),
        )
        for table, cols in columns.items()
    }
    return SchemaShape(tables=tables, functions=functions)


def compare(expected: SchemaShape, live: SchemaShape) -> Report:
    """Everything expected that is missing or different; everything live that is undeclared."""
    problems: list[str] = []
    extras: list[str] = []
    for name in sorted(expected.functions - live.functions):
        problems.append(f"missing function {name}()")
    extras += [
        f"undeclared function {name}()" for name in sorted(live.functions - expected.functions)
    ]
    for table, want in sorted(expected.tables.items()):
        have = live.tables.get(table)
        if have is None:
            problems.append(f"missing table {table}")
            continue
        for column, type_ in sorted(want.columns.items()):
            if column not in have.columns:
                problems.append(f"missing column {table}.{column}")
            elif have.columns[column] != type_:
                problems.append(
                    f"column {table}.{column} is {have.columns[column]!r}, expected {type_!r}"
                )
        extras += [
            f"undeclared column {table}.{c}" for c in sorted(set(have.columns) - set(want.columns))
        ]
        for kind, singular in (
            ("constraints", "constraint"),
            ("indexes", "index"),
            ("triggers", "trigger"),
        ):
            wanted: frozenset[str] = getattr(want, kind)
            present: frozenset[str] = getattr(have, kind)
            problems += [f"missing {singular} {table}.{n}" for n in sorted(wanted - present)]
            extras += [f"undeclared {singular} {table}.{n}" for n in sorted(present - wanted)]
    extras += [f"undeclared table {t}" for t in sorted(set(live.tables) - set(expected.tables))]
    return Report(
        problems=problems,
        extras=extras,
        table_count=len(live.tables),
        trigger_count=live.trigger_count,
    )


def check(session: Session, expected: SchemaShape) -> Report:
    """Compare the expectations with the catalog as this session sees it."""
    return compare(expected, live_shape(session))


def _names_by_table(session: Session, sql: str) -> dict[str, set[str]]:
    result: dict[str, set[str]] = defaultdict(set)
    for table, name in session.query(sql, schema=_SCHEMA):
        result[table].add(name)
    return result
