"""Comparing declared expectations with a catalog, without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init import verify
from db_init.catalog import MIGRATOR, Catalog, Entry, RoleShape, entries_of_roles
from db_init.errors import ScriptError, VerificationFailedError

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
USING = "(tenant_id = current_setting('app.tenant_id'::text, true))"


def _expected() -> verify.SchemaShape:
    table = verify.TableShape(
        columns={"id": "integer not null", "name": "text"},
        constraints=frozenset({"t_pkey"}),
        indexes=frozenset({"t_pkey", "idx_t_name"}),
        triggers=frozenset(),
        policies=frozenset({"tenant_isolation"}),
        row_security=True,
        grants={"app": "SELECT, INSERT"},
    )
    return verify.SchemaShape(
        tables={"t": table},
        functions=frozenset(),
        policies={"tenant_isolation": verify.PolicyShape(using=USING)},
        roles={"app": RoleShape()},
    )


def _live() -> Catalog:
    """What the database holds when it matches _expected() exactly."""
    rows = {
        ("table", "public.t"): "table",
        ("row security", "public.t"): "enabled",
        ("column", "public.t.id"): "integer not null",
        ("column", "public.t.name"): "text",
        ("constraint", "public.t.t_pkey"): "PRIMARY KEY (id)",
        ("index", "public.t.t_pkey"): "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)",
        ("index", "public.t.idx_t_name"): "CREATE INDEX idx_t_name ON public.t USING btree (name)",
        ("policy", "public.t.tenant_isolation"): f"permissive for all to PUBLIC using ({USING})",
        ("owner", "table public.t"): MIGRATOR,
        ("privilege", "table public.t to app"): "INSERT, SELECT",
    }
    return {k: Entry("public.t", v) for k, v in rows.items()} | entries_of_roles(
        {"app": RoleShape()}
    )


def test_declared_schema_covers_the_eight_spec_tables_and_the_project_roles() -> None:
    expected = verify.load_expectations(SQL_DIR)
    assert sorted(expected.tables) == sorted(
        [
            "tenants",
            "users",
            "orders",
            "fulfillment",
            "marketing_campaigns",
            "role_metric_visibility",
            "governance_rules",
            "audit_logs",
        ]
    )
    assert expected.functions == {"set_updated_at"}
    assert expected.trigger_count == 7  # every table with updated_at; audit_logs is append-only
    assert sorted(expected.roles) == ["shoppulse_analytics", "shoppulse_app"]
    assert expected.tables["audit_logs"].grants["shoppulse_app"] == "INSERT, SELECT"


def test_a_matching_catalog_has_no_findings() -> None:
    report = verify.compare(_expected(), _live())
    assert (report.problems, report.extras, report.table_count) == ([], [], 1)


def test_missing_and_mistyped_objects_are_problems_and_extras_are_not() -> None:
    live = _live()
    live[("column", "public.t.id")] = Entry("public.t", "bigint not null")
    del live[("column", "public.t.name")], live[("index", "public.t.idx_t_name")]
    live[("column", "public.t.extra")] = Entry("public.t", "text")
    live[("index", "public.t.idx_manual")] = Entry("public.t", "CREATE INDEX idx_manual ...")

    report = verify.compare(_expected(), live)

    assert report.problems == [
        "column t.id is 'bigint not null', expected 'integer not null'",
        "missing column t.name",
        "missing index t.idx_t_name",
    ]
    assert report.extras == ["undeclared column t.extra", "undeclared index t.idx_manual"]


@pytest.mark.parametrize(
    ("key", "definition", "problem"),
    [
        (("role", "app"), RoleShape(bypassrls=True).definition(),
         "role app: expected ... inherit noreplication nobypassrls connection limit ..., "
         "live ... inherit noreplication bypassrls connection limit ..."),
        (("owner", "table public.t"), "app",
         "table public.t is owned by app, not by the role that runs migrations"),
        (("privilege", "table public.t to app"), "INSERT, SELECT, TRUNCATE",
         "privilege on table public.t to app is INSERT, SELECT, TRUNCATE, expected INSERT, SELECT"),
        (("row security", "public.t"), "off", "row-level security is off on t"),
        (("policy", "public.t.tenant_isolation"), "permissive for all to PUBLIC using (true)",
         f"policy t.tenant_isolation changed: expected ... PUBLIC using ({USING}), "
         "live ... PUBLIC using (true)"),
    ],
)  # fmt: skip
def test_a_changed_declared_security_fact_fails_even_for_a_subset(
    key: tuple[str, str], definition: str, problem: str
) -> None:
    live = _live()
    live[key] = Entry("public.t", definition)

    assert verify.compare(_expected(), live).problems == [problem]
    assert verify.compare(_expected(), live, subset=True).problems == [problem]


@pytest.mark.parametrize(
    ("key", "definition", "finding"),
    [
        (("policy", "public.t.open"), "permissive for all to PUBLIC using (true)",
         "undeclared policy t.open: permissive for all to PUBLIC using (true)"),
        (("privilege", "table public.other to app"), "SELECT",
         "undeclared privilege SELECT on table public.other to app"),
        (("default privilege", "for (migrator) in schema public on tables to app"), "SELECT",
         "undeclared default privileges for (migrator) in schema public on tables to app: SELECT"),
    ],
)  # fmt: skip
def test_an_undeclared_widening_fails_unless_checking_a_subset(
    key: tuple[str, str], definition: str, finding: str
) -> None:
    live = _live()
    live[key] = Entry("public.t", definition)

    assert verify.compare(_expected(), live).problems == [finding]
    subset = verify.compare(_expected(), live, subset=True)
    assert subset.problems == [] and subset.extras == [finding]


def test_failure_message_is_one_line_and_counts_the_rest() -> None:
    error = VerificationFailedError([f"missing index t.i{n}" for n in range(5)])
    assert "\n" not in str(error)
    assert "(+2 more)" in str(error)
    assert error.one_line().startswith("VerificationFailedError: schema does not match")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tables.t]\ncolumns = 3\n", "unexpected layout"),
        ("[tables.t]\npolicies = ['p']\n[tables.t.columns]\n", "undeclared policy p"),
        ("[roles.r]\nsuperuserr = false\n[tables.t.columns]\n", "unknown role attribute"),
    ],
)
def test_broken_expectations_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / verify.EXPECTATIONS_FILE).write_text(text)
    with pytest.raises(ScriptError, match=message):
        verify.load_expectations(tmp_path)
