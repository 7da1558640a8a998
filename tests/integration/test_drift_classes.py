"""Every kind of hand-made drift, made on a real database: `drift` names it, verify fails on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest

from db_init import drift, engine, verify
from db_init.db import quote_identifier
from db_init.deadline import Deadline
from db_init.errors import VerificationFailedError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.integration.drift_cases import BENIGN, OTHER, SECURITY, Case
from tests.postgres import SQL_DIR, drop_database, new_database_name, query, session

OPTIONS = ApplyOptions(sql_dir=SQL_DIR, apply_seeds=True, connect_budget_s=5)
EXPECTED = verify.load_expectations(SQL_DIR)


@pytest.fixture(scope="module")
def released(admin: ConnectionSettings) -> Iterator[ConnectionSettings]:
    """A database with the released migrations and seeds, copied for each test (a template)."""
    template = admin.with_database(new_database_name())
    engine.apply(template, OPTIONS, Deadline.after(120))
    yield template
    drop_database(admin, template.database)


@pytest.fixture
def live(admin: ConnectionSettings, released: ConnectionSettings) -> Iterator[ConnectionSettings]:
    """A fresh copy of the released database for one hand-made change."""
    name = new_database_name()
    query(admin, f"CREATE DATABASE {quote_identifier(name)} TEMPLATE {released.database}")
    yield admin.with_database(name)
    drop_database(admin, name)


def _drift_and_verify(
    live: ConnectionSettings, admin: ConnectionSettings, change: str, undo: str = ""
) -> tuple[drift.DriftReport, verify.Report]:
    query(live, change)
    try:
        report = drift.check(
            live, OPTIONS, Deadline.after(120), scratch=drift.existing_server(admin)
        )
        with closing(session(live)) as inspect:
            found = verify.check(inspect, EXPECTED)
    finally:
        if undo:
            query(live, undo)
    return report, found


def test_the_released_database_has_no_drift_and_verifies(
    live: ConnectionSettings, admin: ConnectionSettings
) -> None:
    report, found = _drift_and_verify(live, admin, "SELECT 1")

    assert report.differences == ()
    assert (found.problems, found.extras) == ([], [])


@pytest.mark.parametrize("case", SECURITY, ids=lambda c: c.id)
def test_security_drift_is_named_by_drift_and_fails_verify(
    case: Case, live: ConnectionSettings, admin: ConnectionSettings
) -> None:
    # GIVEN a hand-made change that widens what a tenant's session may see or do
    # WHEN drift and verification look at the database
    report, found = _drift_and_verify(live, admin, case.sql, case.undo)

    # THEN drift names the object, and verification fails on it (not a note)
    assert (case.kind, case.name) in [(d.kind, d.name) for d in report.differences]
    assert found.problems, found.extras
    object_name = case.name.split(" to ")[0].split()[-1].split(".")[-1].split("(")[0]
    assert any(object_name in problem for problem in found.problems), found.problems


@pytest.mark.parametrize("case", OTHER, ids=lambda c: c.id)
def test_other_drift_is_named_by_drift(
    case: Case, live: ConnectionSettings, admin: ConnectionSettings
) -> None:
    report, _ = _drift_and_verify(live, admin, case.sql, case.undo)

    assert (case.kind, case.name) in [(d.kind, d.name) for d in report.differences]


@pytest.mark.parametrize(("label", "change"), BENIGN, ids=[b[0] for b in BENIGN])
def test_benign_changes_stay_silent(
    label: str, change: str, live: ConnectionSettings, admin: ConnectionSettings
) -> None:
    report, found = _drift_and_verify(live, admin, change)

    assert report.differences == (), label
    assert (found.problems, found.extras) == ([], [])


def test_login_enabled_by_the_engine_is_not_drift(
    live: ConnectionSettings, admin: ConnectionSettings
) -> None:
    # LOGIN is what the engine sets for a role with a secret: neither state is drift
    report, found = _drift_and_verify(
        live, admin, "ALTER ROLE shoppulse_app LOGIN", "ALTER ROLE shoppulse_app NOLOGIN"
    )

    assert report.differences == () and found.problems == []


def test_apply_and_check_refuse_an_extra_using_true_policy(
    live: ConnectionSettings, admin: ConnectionSettings
) -> None:
    # GIVEN an extra permissive policy that lets every session see every tenant's users
    query(live, "CREATE POLICY open_rows ON users USING (true)")

    # THEN neither a no-op apply nor verify says "verified"
    with pytest.raises(VerificationFailedError, match=r"undeclared policy users\.open_rows"):
        engine.apply(live, OPTIONS, Deadline.after(60))
    with pytest.raises(VerificationFailedError, match=r"undeclared policy users\.open_rows"):
        engine.check(live, OPTIONS, Deadline.after(60))


def test_subset_tolerates_undeclared_objects_but_not_changed_declared_ones(
    live: ConnectionSettings,
) -> None:
    # GIVEN a database that a newer bundle changed: an extra policy, and a widened declared one
    query(live, "CREATE POLICY open_rows ON users USING (true)")
    with closing(session(live)) as inspect:
        extra_only = verify.check(inspect, EXPECTED, subset=True)
    query(live, "ALTER POLICY tenant_isolation ON orders USING (true)")
    with closing(session(live)) as inspect:
        widened = verify.check(inspect, EXPECTED, subset=True)

    # THEN the undeclared policy is only a note, the changed declared policy still fails
    assert extra_only.problems == []
    assert any("open_rows" in extra for extra in extra_only.extras)
    assert widened.problems == [
        "policy orders.tenant_isolation changed: expected ... PUBLIC using "
        "(((tenant_id)::text = current_setting('app.tenant_id'::text, true))) with check ..., "
        "live ... PUBLIC using (true) with check ..."
    ]
