"""The documented example handler, run as a service would: secret login, through the pooler."""

from __future__ import annotations

import json

import boto3
import pytest

from db_init.settings import ConnectionSettings
from db_init.simulator import REGION, offline_aws, put_secret
from shoppulse_data import SecretLogin, TenantIdError
from shoppulse_data.example_handler import build
from tests.data_access.conftest import local_config
from tests.pgbouncer import PgBouncer
from tests.pooling.conftest import DATABASE
from tests.postgres import query
from tests.tenants import APP_ROLE, AppDatabase

AUDITED = "SELECT tenant_id, user_id, resource_type FROM audit_logs WHERE action = 'orders.summary'"


def test_the_example_handler_answers_for_its_tenant_and_audits_in_the_same_transaction(
    app_db: AppDatabase, bouncer: PgBouncer
) -> None:
    pooled = ConnectionSettings(
        host=bouncer.host,
        port=bouncer.port,
        user=APP_ROLE,
        password="",
        database=DATABASE,
        tls=False,
    )
    with offline_aws():
        # GIVEN the app role's secret (host/port are the instance's: the handler ignores them)
        secret = {
            "username": APP_ROLE,
            "password": app_db.passwords[APP_ROLE],
            "host": "instance",
            "port": 5432,
        }
        arn = put_secret("shoppulse/app", json.dumps(secret))
        client = boto3.client("secretsmanager", region_name=REGION)
        handle = build(local_config(pooled, secret_arn=arn), login=SecretLogin(arn, client=client))
        # WHEN it is invoked for two tenants on one warm container
        first = handle({"tenant_id": "T002", "user_id": "U002"}, None)
        second = handle({"tenant_id": "T001", "user_id": "U001"}, None)
        # THEN each answer is that tenant's, and each invocation left one audit row
        assert first == {"tenant_id": "T002", "completed_orders": 5, "net_revenue": "150.00"}
        assert second == {"tenant_id": "T001", "completed_orders": 3, "net_revenue": "60.00"}
        assert sorted(query(app_db.owner, AUDITED)) == [
            ("T001", "U001", "orders"),
            ("T002", "U002", "orders"),
        ]
        # WHEN the event names a malformed tenant THEN it is refused and nothing is written
        with pytest.raises(TenantIdError):
            handle({"tenant_id": "T001' OR true --"}, None)
        assert len(query(app_db.owner, AUDITED)) == 2
