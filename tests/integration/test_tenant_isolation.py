"""Tenant isolation is a property of the database: roles, row-level security, composite keys."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import closing

import pytest

from db_init import engine
from db_init.db import Session
from db_init.deadline import Deadline
from db_init.errors import AuthenticationError, SqlError
from db_init.settings import ApplyOptions, ConnectionSettings, RolePassword
from tests.integration.test_spec_queries import HERE, SPEC_QUERIES
from tests.postgres import SQL_DIR, query, session

TENANT_TABLES = (
    "tenants",
    "users",
    "orders",
    "fulfillment",
    "marketing_campaigns",
    "role_metric_visibility",
    "governance_rules",
    "audit_logs",
)
MORE_ROWS = """
INSERT INTO users (user_id, tenant_id, email, role, status)
VALUES ('U101', 'T002', 'admin@techgadgets.example', 'Admin', 'Active');
INSERT INTO orders (order_id, tenant_id, order_date, store_id, region, gross_revenue, net_revenue, status)
VALUES ('ORD-T002-0001', 'T002', '2024-02-01', 'S900', 'EAST', 99.00, 99.00, 'Completed');
INSERT INTO fulfillment (order_id, tenant_id, fulfillment_status, sla_met)
VALUES ('ORD-T002-0001', 'T002', 'Delivered', true);
INSERT INTO marketing_campaigns (campaign_id, tenant_id, campaign_name, channel, date, spend)
VALUES ('CMP-T002-001', 'T002', 'Launch', 'Search', '2024-05-01', 10);
INSERT INTO governance_rules (tenant_id, user_id, dimension, values)
VALUES ('T002', 'U101', 'region', ARRAY['EAST']);
INSERT INTO audit_logs (tenant_id, user_id, action)
VALUES ('T002', 'U101', 'user.login'), ('T001', 'U001', 'user.login');
"""
Connect = Callable[..., Session]


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    return {
        "shoppulse_app": secrets.token_urlsafe(18),
        "shoppulse_analytics": secrets.token_urlsafe(18),
    }


@pytest.fixture(scope="module")
def owner(admin: ConnectionSettings, passwords: dict[str, str]) -> Iterator[ConnectionSettings]:
    """A seeded database with rows for T001 (the spec fixture) and T002, roles with passwords."""
    target = admin.with_database("isolation")
    query(admin, "DROP DATABASE IF EXISTS isolation WITH (FORCE)")
    options = ApplyOptions(
        sql_dir=SQL_DIR,
        apply_seeds=True,
        role_passwords=tuple(RolePassword(r, p) for r, p in passwords.items()),
    )
    engine.apply(target, options, Deadline.after(60))
    with closing(session(target)) as s:
        s.execute_raw((HERE / "spec_fixture.sql").read_text())
        s.execute_raw(MORE_ROWS)
    yield target
    query(admin, "DROP DATABASE IF EXISTS isolation WITH (FORCE)")


@pytest.fixture
def connect_as(owner: ConnectionSettings, passwords: dict[str, str]) -> Iterator[Connect]:
    """Open sessions as an application role, optionally with app.tenant_id set."""
    opened: list[Session] = []

    def connect(role: str, tenant: str | None = None) -> Session:
        s = session(owner.with_credentials(role, passwords[role]))
        opened.append(s)
        if tenant is not None:
            s.query("SELECT set_config('app.tenant_id', :tenant, false)", tenant=tenant)
        return s

    yield connect
    for s in opened:
        s.close()


def _count(s: Session, table: str) -> int:
    return int(s.query(f"SELECT count(*) FROM {table}")[0][0])


def _sqlstate(action: Callable[[], object]) -> str | None:
    with pytest.raises(SqlError) as raised:
        action()
    return raised.value.sqlstate


def test_a_session_without_a_tenant_sees_no_rows_and_can_write_none(connect_as: Connect) -> None:
    app = connect_as("shoppulse_app")
    assert {table: _count(app, table) for table in TENANT_TABLES} == dict.fromkeys(TENANT_TABLES, 0)
    state = _sqlstate(
        lambda: app.query("INSERT INTO audit_logs (tenant_id, action) VALUES ('T001', 'x')")
    )
    assert state == "42501"


def test_each_tenant_sees_exactly_its_own_rows_in_every_table(
    owner: ConnectionSettings, connect_as: Connect
) -> None:
    for tenant in ("T001", "T002"):
        app = connect_as("shoppulse_app", tenant)
        for table in TENANT_TABLES:
            expected = query(owner, f"SELECT count(*) FROM {table} WHERE tenant_id = :t", t=tenant)[
                0
            ][0]
            assert _count(app, table) == expected > 0, table


def test_tenant_a_cannot_update_or_delete_tenant_b_rows(
    owner: ConnectionSettings, connect_as: Connect
) -> None:
    app = connect_as("shoppulse_app", "T001")
    app.query("UPDATE orders SET status = 'Cancelled' WHERE order_id = 'ORD-T002-0001'")
    app.query("DELETE FROM fulfillment WHERE order_id = 'ORD-T002-0001'")
    app.query("DELETE FROM users WHERE user_id = 'U101'")
    assert query(owner, "SELECT status FROM orders WHERE order_id = 'ORD-T002-0001'") == [
        ("Completed",)
    ]
    assert query(owner, "SELECT count(*) FROM fulfillment WHERE tenant_id = 'T002'") == [(1,)]
    assert query(owner, "SELECT count(*) FROM users WHERE user_id = 'U101'") == [(1,)]


def test_tenant_a_cannot_insert_for_b_or_move_a_row_to_b(
    owner: ConnectionSettings, connect_as: Connect
) -> None:
    app = connect_as("shoppulse_app", "T001")
    insert = "INSERT INTO marketing_campaigns (campaign_id, tenant_id, campaign_name, channel, date) VALUES ('CMP-X', 'T002', 'x', 'Email', '2024-01-01')"
    assert _sqlstate(lambda: app.query(insert)) == "42501"
    move = "UPDATE orders SET tenant_id = 'T002' WHERE order_id = 'ORD-T001-0001'"
    assert _sqlstate(lambda: app.query(move)) == "42501"
    assert query(owner, "SELECT tenant_id FROM orders WHERE order_id = 'ORD-T001-0001'") == [
        ("T001",)
    ]


def test_foreign_keys_cannot_point_at_another_tenants_rows(connect_as: Connect) -> None:
    app = connect_as("shoppulse_app", "T001")
    fulfil_b = "INSERT INTO fulfillment (order_id, tenant_id) VALUES ('ORD-T002-0001', 'T001')"
    assert _sqlstate(lambda: app.query(fulfil_b)) == "23503"
    rule_b = "INSERT INTO governance_rules (tenant_id, user_id, dimension, values) VALUES ('T001', 'U101', 'store', ARRAY['S1'])"
    assert _sqlstate(lambda: app.query(rule_b)) == "23503"


def test_joins_only_meet_the_current_tenants_rows(connect_as: Connect) -> None:
    app = connect_as("shoppulse_app", "T001")
    rows = app.query(
        "SELECT DISTINCT o.tenant_id, f.tenant_id FROM orders o JOIN fulfillment f ON f.order_id = o.order_id"
    )
    assert rows == [("T001", "T001")]


def test_audit_log_is_append_only_and_for_the_current_tenant(
    owner: ConnectionSettings, connect_as: Connect
) -> None:
    app = connect_as("shoppulse_app", "T001")
    app.query(
        "INSERT INTO audit_logs (tenant_id, user_id, action) VALUES ('T001', 'U001', 'report.viewed')"
    )
    assert (
        _sqlstate(
            lambda: app.query(
                "INSERT INTO audit_logs (tenant_id, user_id, action) VALUES ('T002', 'U101', 'x')"
            )
        )
        == "42501"
    )
    assert _sqlstate(lambda: app.query("DELETE FROM audit_logs")) == "42501"
    assert _sqlstate(lambda: app.query("UPDATE audit_logs SET action = 'y'")) == "42501"
    assert query(owner, "SELECT count(*) FROM audit_logs WHERE action = 'report.viewed'") == [(1,)]


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE sneaky (a int)",
        "ALTER TABLE orders ADD COLUMN sneaky int",
        "DROP TABLE audit_logs",
        "ALTER TABLE orders DISABLE ROW LEVEL SECURITY",
    ],
)
def test_the_application_role_cannot_change_the_schema(connect_as: Connect, ddl: str) -> None:
    assert _sqlstate(lambda: connect_as("shoppulse_app", "T001").query(ddl)) == "42501"


def test_the_analytics_role_reads_its_tenant_and_writes_nothing(connect_as: Connect) -> None:
    analytics = connect_as("shoppulse_analytics", "T002")
    assert _count(analytics, "orders") == 1
    assert _sqlstate(lambda: analytics.query("UPDATE orders SET status = 'Cancelled'")) == "42501"


@pytest.mark.parametrize("name", sorted(SPEC_QUERIES))
def test_spec_queries_return_the_same_rows_under_the_application_role(
    owner: ConnectionSettings, connect_as: Connect, name: str
) -> None:
    app = connect_as("shoppulse_app", "T001")
    app.query("BEGIN")
    as_app = app.query(SPEC_QUERIES[name])
    app.query("ROLLBACK")
    with closing(session(owner)) as s:
        s.query("BEGIN")
        as_owner = s.query(SPEC_QUERIES[name])
        s.query("ROLLBACK")
    assert as_app == as_owner
    assert as_app or name == "insert audit log"


def test_the_owner_is_not_subject_to_the_policies(owner: ConnectionSettings) -> None:
    assert query(owner, "SELECT count(DISTINCT tenant_id) FROM orders") == [(2,)]


def test_role_passwords_work_and_never_reach_the_logs(
    owner: ConnectionSettings, passwords: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rotated = {role: secrets.token_urlsafe(18) for role in passwords}
    options = ApplyOptions(
        sql_dir=SQL_DIR, role_passwords=tuple(RolePassword(r, p) for r, p in rotated.items())
    )

    engine.apply(owner, options, Deadline.after(60))

    with closing(session(owner.with_credentials("shoppulse_app", rotated["shoppulse_app"]))) as s:
        assert s.query("SELECT current_user") == [("shoppulse_app",)]
    with pytest.raises(AuthenticationError):
        session(owner.with_credentials("shoppulse_app", passwords["shoppulse_app"]))
    passwords.update(rotated)  # later tests in this module connect with the current ones
    for secret in rotated.values():
        assert secret not in caplog.text
    assert "login enabled for role shoppulse_app" in caplog.text
    assert repr(options).count("password=") == 0
