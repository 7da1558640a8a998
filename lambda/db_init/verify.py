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
    policies: frozenset[str] = frozenset()
    row_security: bool = False


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
                policies=frozenset(spec.get("policies", ())),
                row_security=bool(spec.get("row_security", False)),
            )
            for name, spec in data["tables"].items()
        }
        functions = frozenset(data.get("functions", {}).get(_SCHEMA, ()))
    except (KeyError, AttributeError, TypeError) as error:
        raise ScriptError(f"{path}: unexpected layout ({error!r})") from None
    return SchemaShape(tables=tables, functions=functions)


# The base catalogs rather than the pg_indexes / pg_policies views: half the planning time.
_CATALOG = """
SELECT 'table', c.relname, '', c.relrowsecurity::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')
UNION ALL
SELECT 'column', c.relname, a.attname,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraints', c.relname, k.conname, ''
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND k.contype IN ('p', 'f', 'u', 'c', 'x')
UNION ALL
SELECT 'indexes', t.relname, i.relname, ''
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = :schema
UNION ALL
SELECT 'triggers', c.relname, t.tgname, ''
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND NOT t.tgisinternal
UNION ALL
SELECT 'policies', c.relname, p.polname, ''
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema
UNION ALL
SELECT 'function', '', p.proname, ''
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = :schema
"""


def live_shape(session: Session) -> SchemaShape:
    """The public schema as the catalog has it, read in one round trip."""
    row_security: dict[str, bool] = {}
    columns: dict[str, dict[str, str]] = defaultdict(dict)
    named: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    functions: set[str] = set()
    for kind, table, name, detail in session.query(_CATALOG, schema=_SCHEMA):
        if kind == "table":
            row_security[table] = detail == "true"
        elif kind == "column":
            columns[table][name] = detail
        elif kind == "function":
            functions.add(name)
        else:
            named[kind][table].add(name)
    tables = {
        table: TableShape(
            columns=columns[table],
            constraints=frozenset(named["constraints"][table]),
            indexes=frozenset(named["indexes"][table]),
            triggers=frozenset(named["triggers"][table]),
            policies=frozenset(named["policies"][table]),
            row_security=secured,
        )
        for table, secured in row_security.items()
    }
    return SchemaShape(tables=tables, functions=frozenset(functions))


def compare(expected: SchemaShape, live: SchemaShape, *, subset: bool = False) -> Report:
    """Everything expected that is missing or different; everything live that is undeclared.

    `subset`: the live schema may be newer than the declarations (future migrations), so an
    undeclared object never fails; missing or changed declared objects still do.
    """
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
        if want.row_security and not have.row_security:
            problems.append(f"row-level security is off on {table}")
        elif have.row_security and not want.row_security:
            extras.append(f"undeclared row-level security on {table}")
        for kind, singular in (
            ("constraints", "constraint"),
            ("indexes", "index"),
            ("triggers", "trigger"),
            ("policies", "policy"),
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


def check(session: Session, expected: SchemaShape, *, subset: bool = False) -> Report:
    """Compare the expectations with the catalog as this session sees it."""
    return compare(expected, live_shape(session), subset=subset)
