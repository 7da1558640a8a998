"""Every sample query of the spec runs verbatim against the seeded database and returns rows."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.errors import SqlError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.postgres import SQL_DIR, query, session

HERE = Path(__file__).resolve().parent


def _spec_queries() -> dict[str, str]:
    text = (HERE / "spec_queries.sql").read_text()
    parts = text.split("-- query: ")[1:]
    return {part.splitlines()[0].strip(): part.split("\n", 1)[1].strip() for part in parts}


SPEC_QUERIES = _spec_queries()


@pytest.fixture(scope="module")
def seeded(admin: ConnectionSettings) -> ConnectionSettings:
    """One seeded database with the spec fixture rows (U001 for T001 and sample data)."""
    target = admin.with_database("spec_queries")
    query(admin, "DROP DATABASE IF EXISTS spec_queries WITH (FORCE)")
    engine.apply(target, ApplyOptions(sql_dir=SQL_DIR, apply_seeds=True), Deadline.after(60))
    with closing(session(target)) as s:
        s.execute_raw((HERE / "spec_fixture.sql").read_text())
    return target


def test_all_five_spec_queries_are_present() -> None:
    assert len(SPEC_QUERIES) == 5


@pytest.mark.parametrize("name", sorted(SPEC_QUERIES))
def test_spec_query_runs_verbatim_and_returns_rows(seeded: ConnectionSettings, name: str) -> None:
    with closing(session(seeded)) as s:
        s.query("BEGIN")
        rows = s.query(SPEC_QUERIES[name])
        inserted = s.query("SELECT count(*) FROM audit_logs")[0][0]
        s.query("ROLLBACK")
    assert rows or name == "insert audit log"
    assert inserted >= (1 if name == "insert audit log" else 0)


def test_users_query_returns_active_users_of_the_tenant_only(seeded: ConnectionSettings) -> None:
    rows = query(seeded, SPEC_QUERIES["users for a tenant"])
    assert [r[0] for r in rows] == ["U001", "U002"]
    assert {r[3] for r in rows} == {"Active"}


def test_orders_query_keeps_orders_without_fulfillment(seeded: ConnectionSettings) -> None:
    rows = query(seeded, SPEC_QUERIES["orders with fulfillment data"])
    assert [r[0] for r in rows] == ["ORD-T001-0003", "ORD-T001-0002", "ORD-T001-0001"]
    assert rows[0][3] is None  # no fulfillment yet: the LEFT JOIN keeps it


def test_updated_at_moves_on_update(seeded: ConnectionSettings) -> None:
    with closing(session(seeded)) as s:
        s.query("BEGIN")
        before = s.query("SELECT updated_at FROM tenants WHERE tenant_id = 'T002'")[0][0]
        s.query("SELECT pg_sleep(0.01)")
        s.query("COMMIT")
        s.query("UPDATE tenants SET industry = industry WHERE tenant_id = 'T002'")
        after = s.query("SELECT updated_at FROM tenants WHERE tenant_id = 'T002'")[0][0]
    assert after > before


@pytest.mark.parametrize(
    ("statement", "sqlstate"),
    [
        (
            "INSERT INTO users (user_id, tenant_id, email, role, status) VALUES ('U9', 'T001', 'x@y', 'Root', 'Active')",
            "23514",
        ),
        (
            "INSERT INTO users (user_id, tenant_id, email, role, status) VALUES ('U9', 'T404', 'x@y', 'Admin', 'Active')",
            "23503",
        ),
        (
            "INSERT INTO users (user_id, tenant_id, email, role, status) VALUES ('U9', 'T001', 'admin@fashionboutique.example', 'Admin', 'Active')",
            "23505",
        ),
        (
            "INSERT INTO governance_rules (tenant_id, user_id, dimension, values) VALUES ('T001', 'U001', 'planet', ARRAY['x'])",
            "23514",
        ),
    ],
)
def test_constraints_reject_bad_rows(
    seeded: ConnectionSettings, statement: str, sqlstate: str
) -> None:
    with pytest.raises(SqlError) as raised:
        query(seeded, statement)
    assert raised.value.sqlstate == sqlstate
