"""Declared schema expectations (sql/expected_schema.toml) compared with the live catalog."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db_init import catalog, definition_diff
from db_init.catalog import MIGRATOR, Catalog, RoleShape
from db_init.db import Session
from db_init.errors import ScriptError

EXPECTATIONS_FILE = "expected_schema.toml"
_SCHEMA = "public"
_COMMANDS = ("all", "select", "insert", "update", "delete")


@dataclass(frozen=True)
class PolicyShape:
    """A row-level security policy as declared once and applied to each table that names it."""

    command: str = "all"
    roles: tuple[str, ...] = ("PUBLIC",)
    permissive: bool = True
    using: str | None = None
    with_check: str | None = None

    def definition(self) -> str:
        """The policy as the catalog shows it (expressions in the server's own spelling)."""
        text = (
            f"{'permissive' if self.permissive else 'restrictive'} for {self.command} "
            f"to {', '.join(sorted(self.roles))}"
        )
        text += f" using ({self.using})" if self.using is not None else ""
        return text + (f" with check ({self.with_check})" if self.with_check is not None else "")


@dataclass(frozen=True)
class TableShape:
    """Columns (name -> `type[ not null]`), named objects, row security and grants of a table."""

    columns: dict[str, str]
    constraints: frozenset[str]
    indexes: frozenset[str]
    triggers: frozenset[str]
    policies: frozenset[str] = frozenset()
    row_security: bool = False
    force_row_security: bool = False
    grants: dict[str, str] = field(default_factory=dict)  # role -> privileges (`SELECT, INSERT`)


@dataclass(frozen=True)
class SchemaShape:
    """Everything declared about the public schema and the project's roles."""

    tables: dict[str, TableShape]
    functions: frozenset[str]
    policies: dict[str, PolicyShape] = field(default_factory=dict)
    roles: dict[str, RoleShape] = field(default_factory=dict)
    sequences: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> grants
    schemas: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> grants
    default_privileges: dict[str, str] = field(default_factory=dict)  # catalog name -> privileges
    security_definer: frozenset[str] = frozenset()  # functions that may run as their owner

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
        return _shape(data)
    except (KeyError, AttributeError, TypeError, ValueError) as error:
        raise ScriptError(f"{path}: unexpected layout ({error!r})") from None


def declared_roles(sql_dir: Path) -> dict[str, RoleShape]:
    """The project roles sql/expected_schema.toml declares (none without the file)."""
    if not (sql_dir / EXPECTATIONS_FILE).exists():
        return {}
    return load_expectations(sql_dir).roles


def _shape(data: dict[str, Any]) -> SchemaShape:
    tables = {
        name: TableShape(
            columns={c: str(t).lower() for c, t in spec["columns"].items()},
            constraints=frozenset(spec.get("constraints", ())),
            indexes=frozenset(spec.get("indexes", ())),
            triggers=frozenset(spec.get("triggers", ())),
            policies=frozenset(spec.get("policies", ())),
            row_security=bool(spec.get("row_security", False)),
            force_row_security=bool(spec.get("force_row_security", False)),
            grants=_grants(spec.get("grants", {})),
        )
        for name, spec in data["tables"].items()
    }
    policies = {name: _policy(spec) for name, spec in data.get("policies", {}).items()}
    for table, shape in tables.items():
        unknown = sorted(shape.policies - set(policies))
        if unknown:
            raise ValueError(f"tables.{table} names undeclared policy {unknown[0]}")
    functions = data.get("functions", {})
    return SchemaShape(
        tables=tables,
        functions=frozenset(functions.get(_SCHEMA, ())),
        policies=policies,
        roles={name: _role(spec) for name, spec in data.get("roles", {}).items()},
        sequences={n: _grants(s.get("grants", {})) for n, s in data.get("sequences", {}).items()},
        schemas={n: _grants(s.get("grants", {})) for n, s in data.get("schemas", {}).items()},
        default_privileges=_grants(data.get("default_privileges", {})),
        security_definer=frozenset(functions.get("security_definer", ())),
    )


def _grants(spec: dict[str, Any]) -> dict[str, str]:
    """role -> privileges, spelled as the catalog spells them (upper case, sorted)."""
    return {role: _privileges(str(privileges)) for role, privileges in spec.items()}


def _privileges(text: str) -> str:
    return ", ".join(sorted(p.strip().upper() for p in text.split(",") if p.strip()))


def _policy(spec: dict[str, Any]) -> PolicyShape:
    command = str(spec.get("command", "all")).lower()
    if command not in _COMMANDS:
        raise ValueError(f"policy command {command!r} is not one of {', '.join(_COMMANDS)}")
    return PolicyShape(
        command=command,
        roles=tuple(spec.get("roles", ("PUBLIC",))),
        permissive=bool(spec.get("permissive", True)),
        using=spec.get("using"),
        with_check=spec.get("with_check"),
    )


def _role(spec: dict[str, Any]) -> RoleShape:
    known = set(RoleShape.__dataclass_fields__)
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"unknown role attribute {unknown[0]}")
    return RoleShape(**(spec | {"member_of": tuple(spec.get("member_of", ()))}))


def check(session: Session, expected: SchemaShape, *, subset: bool = False) -> Report:
    """Compare the expectations with the catalog as this session sees it."""
    return compare(expected, catalog.read(session, roles=expected.roles), subset=subset)


def compare(expected: SchemaShape, live: Catalog, *, subset: bool = False) -> Report:
    """Everything declared that is missing or different; everything live that is undeclared.

    Missing or changed declared objects always fail. An undeclared object that widens access
    (a policy, a privilege, default privileges, a SECURITY DEFINER function, an object a
    project role owns) fails too, unless `subset`: a database whose history has migrations
    newer than this bundle may hold objects the bundle does not know.
    """
    found = _Findings(subset=subset)
    _compare_roles(expected, live, found)
    _compare_functions(expected, live, found)
    for table, want in sorted(expected.tables.items()):
        _compare_table(expected, table, want, live, found)
    live_tables = _names_in(live, "table")
    found.extras += [f"undeclared table {t}" for t in sorted(live_tables - set(expected.tables))]
    _compare_sequences(expected, live, found)
    _compare_privileges(expected, live, found)
    _compare_owners(expected, live, found)
    return Report(
        problems=found.problems,
        extras=found.extras,
        table_count=len(live_tables),
        trigger_count=sum(1 for k, n in live if k == "trigger" and n.startswith(f"{_SCHEMA}.")),
    )


@dataclass
class _Findings:
    subset: bool
    problems: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)

    def widening(self, message: str) -> None:
        """An undeclared object that widens access: a problem unless checking a subset."""
        (self.extras if self.subset else self.problems).append(message)


def _compare_roles(expected: SchemaShape, live: Catalog, found: _Findings) -> None:
    for (kind, name), entry in sorted(catalog.entries_of_roles(expected.roles).items()):
        have = live.get((kind, name))
        if have is None:
            found.problems.append(f"missing role {name}")
        elif not catalog.same(entry.definition, have.definition):
            detail = definition_diff.one_line(entry.definition, have.definition)
            found.problems.append(f"{kind} {name}: {detail}")


def _compare_functions(expected: SchemaShape, live: Catalog, found: _Findings) -> None:
    defined = {
        n.split("(", 1)[0].split(".", 1)[1]: e.definition
        for (k, n), e in live.items()
        if k == "function" and n.startswith(f"{_SCHEMA}.")
    }
    for name in sorted(expected.functions - set(defined)):
        found.problems.append(f"missing function {name}()")
    for name in sorted(set(defined) - expected.functions):
        found.extras.append(f"undeclared function {name}()")
    for name, definition in sorted(defined.items()):
        if "SECURITY DEFINER" in definition and name not in expected.security_definer:
            message = f"function {name}() runs as its owner (SECURITY DEFINER)"
            if name in expected.functions:
                found.problems.append(message)
            else:
                found.widening(message)


def _compare_table(
    expected: SchemaShape, table: str, want: TableShape, live: Catalog, found: _Findings
) -> None:
    qualified = f"{_SCHEMA}.{table}"
    if ("table", qualified) not in live:
        found.problems.append(f"missing table {table}")
        return
    columns = _children(live, "column", qualified)
    for column, type_ in sorted(want.columns.items()):
        if column not in columns:
            found.problems.append(f"missing column {table}.{column}")
        elif columns[column] != type_:
            found.problems.append(
                f"column {table}.{column} is {columns[column]!r}, expected {type_!r}"
            )
    undeclared = sorted(set(columns) - set(want.columns))
    found.extras += [f"undeclared column {table}.{c}" for c in undeclared]
    security = live.get(("row security", qualified), catalog.Entry(qualified, "off"))
    _compare_row_security(table, want, security.definition, found)
    for kind, wanted in (
        ("constraint", want.constraints),
        ("index", want.indexes),
        ("trigger", want.triggers),
    ):
        present = set(_children(live, kind, qualified))
        found.problems += [f"missing {kind} {table}.{n}" for n in sorted(wanted - present)]
        found.extras += [f"undeclared {kind} {table}.{n}" for n in sorted(present - wanted)]
    for trigger, state in sorted(_children(live, "trigger state", qualified).items()):
        if trigger in want.triggers and state != "enabled":
            found.problems.append(f"trigger {table}.{trigger} is {state}, expected enabled")
    policies = _children(live, "policy", qualified)
    for name in sorted(want.policies):
        if name not in policies:
            found.problems.append(f"missing policy {table}.{name}")
            continue
        definition = expected.policies[name].definition()
        if not catalog.same(definition, policies[name]):
            detail = definition_diff.one_line(definition, policies[name])
            found.problems.append(f"policy {table}.{name} changed: {detail}")
    for name in sorted(set(policies) - want.policies):
        found.widening(f"undeclared policy {table}.{name}: {policies[name]}")


def _compare_row_security(table: str, want: TableShape, have: str, found: _Findings) -> None:
    wanted = ("enabled" if want.row_security else "off") + (
        ", forced" if want.force_row_security else ""
    )
    if have == wanted:
        return
    if want.row_security and not have.startswith("enabled"):
        found.problems.append(f"row-level security is off on {table}")
    elif not want.row_security and have == "enabled":
        found.extras.append(f"undeclared row-level security on {table}")
    else:
        found.problems.append(f"row-level security on {table} is {have}, expected {wanted}")


def _compare_sequences(expected: SchemaShape, live: Catalog, found: _Findings) -> None:
    for name in sorted(expected.sequences):
        if ("sequence", f"{_SCHEMA}.{name}") not in live:
            found.problems.append(f"missing sequence {name}")


def _expected_privileges(expected: SchemaShape) -> dict[str, str]:
    """Catalog privilege names -> privileges, for every grant the declaration makes."""
    wanted: dict[str, str] = {}
    for table, shape in expected.tables.items():
        for role, privileges in shape.grants.items():
            wanted[f"table {_SCHEMA}.{table} to {role}"] = _privileges(privileges)
    for sequence, grants in expected.sequences.items():
        for role, privileges in grants.items():
            wanted[f"sequence {_SCHEMA}.{sequence} to {role}"] = _privileges(privileges)
    for schema, grants in expected.schemas.items():
        for role, privileges in grants.items():
            wanted[f"schema {schema} to {role}"] = _privileges(privileges)
    return wanted


def _compare_privileges(expected: SchemaShape, live: Catalog, found: _Findings) -> None:
    wanted = _expected_privileges(expected)
    have = {n: e.definition for (k, n), e in live.items() if k == "privilege"}
    declared = {f"table {_SCHEMA}.{t}" for t in expected.tables}
    declared |= {f"sequence {_SCHEMA}.{s}" for s in expected.sequences}
    declared |= {f"schema {s}" for s in expected.schemas}
    project = set(expected.roles) | {"PUBLIC"}
    for name, privileges in sorted(wanted.items()):
        if name not in have:
            found.problems.append(f"missing privilege {privileges} on {name}")
        elif have[name] != privileges:
            found.problems.append(f"privilege on {name} is {have[name]}, expected {privileges}")
    for name in sorted(set(have) - set(wanted)):
        target, grantee = name.rsplit(" to ", 1)
        if name.startswith("function "):
            continue  # function privileges are drift's (EXECUTE to PUBLIC is the default)
        message = f"undeclared privilege {have[name]} on {name}"
        if target.startswith("column "):  # a column's grant widens its table
            target = target.replace("column ", "table ", 1).rsplit(".", 1)[0]
        if target in declared or grantee in project:
            found.widening(message)
        else:
            found.extras.append(message)
    defaults = {n: e.definition for (k, n), e in live.items() if k == "default privilege"}
    for name, privileges in sorted(expected.default_privileges.items()):
        if defaults.get(name) != privileges:
            now = defaults.get(name, "none")
            found.problems.append(f"default privileges {name} are {now}, expected {privileges}")
    for name in sorted(set(defaults) - set(expected.default_privileges)):
        found.widening(f"undeclared default privileges {name}: {defaults[name]}")


def _compare_owners(expected: SchemaShape, live: Catalog, found: _Findings) -> None:
    declared = {f"table {_SCHEMA}.{t}" for t in expected.tables}
    declared |= {f"sequence {_SCHEMA}.{s}" for s in expected.sequences}
    functions = {f"function {n}" for k, n in live if k == "function"}
    declared |= {f for f in functions if f.split("(")[0].split(".", 1)[1] in expected.functions}
    for (kind, name), entry in sorted(live.items()):
        if kind != "owner" or entry.definition == MIGRATOR:
            continue
        message = f"{name} is owned by {entry.definition}, not by the role that runs migrations"
        if name in declared:
            found.problems.append(message)
        elif entry.definition in expected.roles:
            found.widening(message)


def _children(live: Catalog, kind: str, table: str) -> dict[str, str]:
    """name -> definition of the table's objects of one kind."""
    prefix = f"{table}."
    return {
        n[len(prefix) :]: e.definition
        for (k, n), e in live.items()
        if k == kind and n.startswith(prefix)
    }


def _names_in(live: Catalog, kind: str) -> set[str]:
    prefix = f"{_SCHEMA}."
    return {n[len(prefix) :] for k, n in live if k == kind and n.startswith(prefix)}
