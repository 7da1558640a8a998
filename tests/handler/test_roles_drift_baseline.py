"""The properties added for tenant isolation and safety: role secrets, OnDrift, Migrations, baseline."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from db_init.errors import AuthenticationError
from db_init.manifest import manifest_of
from db_init.simulator import put_secret
from tests.cloudformation import Stack, assert_failed
from tests.postgres import MIGRATIONS, SEEDS, query, session


def _role_secret(stack: Stack, role: str) -> tuple[str, str]:
    password = secrets.token_urlsafe(24)
    secret_string = json.dumps({"username": role, "password": password})
    stack.sensitive += [password, secret_string]  # the leak check looks for these too
    return put_secret(f"shoppulse/{role}", secret_string), password


def test_role_secrets_give_the_application_roles_their_passwords(stack: Stack) -> None:
    app_arn, app_password = _role_secret(stack, "shoppulse_app")
    analytics_arn, analytics_password = _role_secret(stack, "shoppulse_analytics")
    props = stack.properties(AppRoleSecretArn=app_arn, AnalyticsRoleSecretArn=analytics_arn)

    response = stack.cfn.create(props)

    assert response.status == "SUCCESS", response.reason
    for role, password in (
        ("shoppulse_app", app_password),
        ("shoppulse_analytics", analytics_password),
    ):
        with closing(session(stack.target.with_credentials(role, password))) as s:
            assert s.query("SELECT current_user") == [(role,)]
    with pytest.raises(AuthenticationError):
        session(stack.target.with_credentials("shoppulse_app", "not-the-password"))


def test_a_missing_role_secret_fails_the_create_and_applies_nothing(stack: Stack) -> None:
    missing = stack.secret_arn.replace("db-admin", "no-such-secret")
    response = stack.cfn.create(stack.properties(AppRoleSecretArn=missing))
    assert_failed(response, "CredentialsError: cannot read secret")
    assert stack.snapshot() == "<no database>"


def test_the_migrations_property_must_list_the_bundled_migrations(stack: Stack) -> None:
    stale = stack.cfn.create(stack.properties(Migrations="V001:00000000"))
    assert_failed(stale, "StaleAssetError: the Migrations property does not list")
    assert stack.snapshot() == "<no database>"

    current = stack.cfn.create(stack.properties(Migrations=",".join(manifest_of(stack.sql_dir))))
    assert current.status == "SUCCESS", current.reason


def test_on_drift_fail_refuses_an_update_over_drift_and_the_rollback_succeeds(
    stack: Stack, tmp_path: Path
) -> None:
    props = stack.properties(OnDrift="fail")
    created = stack.cfn.create(props)
    query(stack.target, "ALTER TABLE orders ADD COLUMN legacy_code varchar(5)")  # by hand
    before = stack.snapshot()
    new_sql = stack.release(
        tmp_path, "V902__orders_channel.sql", "ALTER TABLE orders ADD COLUMN channel text;\n"
    )

    failed = stack.cfn.update(
        created.physical_id,
        stack.properties(new_sql, OnDrift="fail"),
        props,
        handler=stack.resource_for(new_sql),
    )
    rollback = stack.cfn.update(
        created.physical_id, props, stack.properties(new_sql, OnDrift="fail")
    )

    assert_failed(
        failed, "DriftConflictError: live schema drifted on what pending migrations alter"
    )
    assert "public.orders.legacy_code" in failed.reason
    assert stack.snapshot() == before
    assert rollback.status == "SUCCESS", rollback.reason
    assert rollback.data["DriftCount"] == "1"  # the undeclared column, seen by verification


def test_on_drift_warn_applies_and_reports_the_drift_count(stack: Stack, tmp_path: Path) -> None:
    props = stack.properties()
    created = stack.cfn.create(props)
    assert created.data["DriftCount"] == "0"
    query(stack.target, "ALTER TABLE orders ADD COLUMN legacy_code varchar(5)")
    new_sql = stack.release(
        tmp_path, "V902__orders_channel.sql", "ALTER TABLE orders ADD COLUMN channel text;\n"
    )

    updated = stack.cfn.update(
        created.physical_id, stack.properties(new_sql), props, handler=stack.resource_for(new_sql)
    )

    assert updated.status == "SUCCESS", updated.reason
    assert updated.data["DriftCount"] == "1"
    assert stack.history() == [*MIGRATIONS, "V902", *SEEDS]


@pytest.mark.parametrize(
    ("name", "value"),
    [("OnDrift", "ignore"), ("Migrations", "all of them"), ("BaselineVersion", "latest")],
)
def test_malformed_new_properties_fail_with_a_clear_reason(
    stack: Stack, name: str, value: str
) -> None:
    response = stack.cfn.create(stack.properties(**{name: value}))
    assert_failed(
        response, f"SettingsError: {'baseline version' if name == 'BaselineVersion' else name}"
    )
    assert stack.snapshot() == "<no database>"


def test_baseline_version_adopts_a_database_the_original_script_built(stack: Stack) -> None:
    # GIVEN the database as the original init-database.sh left it: V001 and the seeds, no history
    postgres_admin = stack.target.with_database("postgres")
    query(postgres_admin, f"CREATE DATABASE {stack.target.database}")
    files = [
        stack.sql_dir / "migrations" / "V001__initial_schema.sql",
        *sorted((stack.sql_dir / "seeds").glob("*.sql")),
    ]
    subprocess.run(
        [str(stack.server.bin_dir / "psql"), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-h", stack.target.host,
         "-p", str(stack.target.port), "-U", stack.target.user, "-d", stack.target.database,
         *[arg for path in files for arg in ("-f", str(path))]],
        env=os.environ | {"PGPASSWORD": stack.target.password}, check=True, capture_output=True,
    )  # fmt: skip

    # WHEN the resource is created with BaselineVersion V001
    response = stack.cfn.create(stack.properties(BaselineVersion="V001"))

    # THEN V001 is recorded as a baseline (not re-run), and the later migrations applied on top
    assert response.status == "SUCCESS", response.reason
    rows = query(
        stack.target,
        "SELECT version, baseline FROM shoppulse_meta.schema_history WHERE kind = 'migration' ORDER BY 1",
    )
    assert rows[0] == (1, True)
    assert [f"V{v:03d}" for v, _ in rows] == MIGRATIONS
    assert not any(flag for _, flag in rows[1:])
