"""tenant_transaction on a real server: one tenant per transaction, committed or rolled back."""

from __future__ import annotations

from typing import Any

import pytest

from shoppulse_data import (
    Connection,
    DataAccessError,
    Login,
    QueryError,
    StaticLogin,
    TenantIdError,
    connect,
    record_audit,
    tenant_transaction,
)
from tests.data_access.conftest import local_config
from tests.postgres import query
from tests.tenants import APP_ROLE, ORDERS_PER_TENANT, USERS, AppDatabase

VISIBLE = "SELECT coalesce(string_agg(DISTINCT tenant_id, ','), ''), count(*) FROM orders"
SESSION_STATE = (
    "SELECT current_setting('app.tenant_id', true),"
    " (SELECT count(*) FROM pg_prepared_statements),"
    " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),"
    " pg_my_temp_schema()::int"
)


def _audit_rows(app_db: AppDatabase, action: str) -> list[tuple[Any, ...]]:
    return query(
        app_db.owner,
        "SELECT tenant_id, user_id, details->>'n' FROM audit_logs WHERE action = :a ORDER BY 3",
        a=action,
    )


@pytest.mark.parametrize("tenant", sorted(ORDERS_PER_TENANT))
def test_a_tenant_transaction_sees_exactly_its_tenants_rows(
    app_connection: Connection, tenant: str
) -> None:
    # GIVEN three tenants' orders WHEN shoppulse_app reads orders in a tenant transaction
    with tenant_transaction(app_connection, tenant) as transaction:
        rows = transaction.run(VISIBLE)
    # THEN only that tenant's rows, all of them
    assert rows == [(tenant, ORDERS_PER_TENANT[tenant])]


def test_the_statement_timeout_is_the_configs_and_the_server_enforces_it(
    app_db: AppDatabase,
) -> None:
    login = StaticLogin(Login(APP_ROLE, app_db.passwords[APP_ROLE]))
    connection = connect(local_config(app_db.owner, statement_timeout_ms=200), login=login)
    with tenant_transaction(connection, "T001") as transaction:
        assert transaction.run("SELECT current_setting('statement_timeout')") == [("200ms",)]
    with pytest.raises(QueryError) as cancelled, tenant_transaction(connection, "T001") as t:
        t.run("SELECT pg_sleep(5)")
    assert cancelled.value.sqlstate == "57014"
    with connection.transaction() as plain:  # and it ended with the transaction
        assert plain.run("SELECT current_setting('statement_timeout')") == [("0",)]
    connection.close()


def test_the_audit_row_commits_with_the_transaction(
    app_db: AppDatabase, app_connection: Connection
) -> None:
    # WHEN a tenant transaction records an audit entry and ends normally
    with tenant_transaction(app_connection, "T002") as transaction:
        log_id = record_audit(
            transaction,
            "test.commit",
            user_id=USERS["T002"],
            resource_type="orders",
            details={"n": "1"},
            ip_address="10.0.0.7",
        )
    # THEN the row is there, for that tenant and user
    assert _audit_rows(app_db, "test.commit") == [("T002", "U002", "1")]
    assert query(app_db.owner, "SELECT count(*) FROM audit_logs WHERE log_id = :i", i=log_id) == [
        (1,)
    ]


def test_an_error_rolls_back_the_audit_row_and_the_connection_stays_usable(
    app_db: AppDatabase, app_connection: Connection
) -> None:
    # WHEN the body raises after writing an audit entry
    with pytest.raises(RuntimeError, match="boom"), tenant_transaction(app_connection, "T001") as t:
        record_audit(t, "test.rollback", details={"n": "1"})
        raise RuntimeError("boom")
    # THEN nothing was kept, and the connection is idle and works
    assert _audit_rows(app_db, "test.rollback") == []
    assert app_connection.idle
    with tenant_transaction(app_connection, "T001") as transaction:
        assert transaction.run(VISIBLE) == [("T001", 3)]


def test_a_failed_statement_rolls_back_the_whole_transaction(
    app_db: AppDatabase, app_connection: Connection
) -> None:
    # WHEN a statement fails and the body swallows the error
    with (
        pytest.raises(QueryError, match="rolled back"),
        tenant_transaction(app_connection, "T003") as transaction,
    ):
        record_audit(transaction, "test.failed", details={"n": "1"})
        with pytest.raises(QueryError) as failed:
            transaction.run("SELECT 1 / 0")
        assert failed.value.sqlstate == "22012"
    # THEN the audit row written before it is gone too
    assert _audit_rows(app_db, "test.failed") == []
    assert app_connection.idle


def test_writing_another_tenants_row_is_refused_by_the_database(
    app_connection: Connection,
) -> None:
    with (
        pytest.raises(QueryError) as refused,
        tenant_transaction(app_connection, "T001") as transaction,
    ):
        transaction.run("INSERT INTO audit_logs (tenant_id, action) VALUES ('T002', 'test.cross')")
    assert refused.value.sqlstate == "42501"  # row-level security WITH CHECK


def test_nothing_outlives_the_transaction(app_connection: Connection) -> None:
    # GIVEN a tenant transaction that ran statements with parameters and an audit insert
    with tenant_transaction(app_connection, "T001") as transaction:
        transaction.run("SELECT count(*) FROM orders WHERE order_date > :d", d="2024-01-01")
        record_audit(transaction, "test.state")
    # WHEN the same session looks at itself afterwards (a plain transaction, no tenant)
    with app_connection.transaction() as plain:
        setting, prepared, advisory_locks, temp_schema = plain.run(SESSION_STATE)[0]
        visible = plain.run(VISIBLE)
    # THEN no tenant, no named prepared statement, no session lock, no temporary table
    assert setting in (None, "")
    assert (prepared, advisory_locks, temp_schema) == (0, 0, 0)
    assert visible == [("", 0)]


class _NothingMayBeSent:
    """Stands in for the driver connection: any use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} touched: something was about to be sent")


@pytest.mark.parametrize(
    "bad", ["", "T001'; DROP TABLE orders; --", "T" * 11, "T 01", "-T01", "T001\n", None, 7]
)
def test_a_malformed_tenant_id_is_refused_before_anything_is_sent(bad: object) -> None:
    connection = Connection(_NothingMayBeSent(), user="shoppulse_app")
    with (
        pytest.raises(TenantIdError, match="malformed"),
        tenant_transaction(connection, bad),  # type: ignore[arg-type]
    ):
        pytest.fail("the body must not run")


def test_a_transaction_inside_a_transaction_is_refused(app_connection: Connection) -> None:
    with (
        tenant_transaction(app_connection, "T001"),
        pytest.raises(DataAccessError, match="already open"),
        tenant_transaction(app_connection, "T002"),
    ):
        pytest.fail("nested tenant transactions must not start")
    assert app_connection.idle
