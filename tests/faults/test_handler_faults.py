"""Faults through the custom resource: concurrent events, a killed backend, a held lock.

The handler's own faults (deadline, duplicate delivery, secrets, preflight) are in tests/handler.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from db_init.embedded import LocalServer
from db_init.settings import APPLICATION_NAME, ConnectionSettings
from db_init.simulator import CloudFormation, ResponseReceiver, offline_aws, put_secret
from tests.cloudformation import Stack, assert_failed, log_text, rds_secret
from tests.postgres import MIGRATIONS, SEEDS, query, session


@pytest.fixture
def stack(
    tmp_path: Path,
    pg_server: LocalServer,
    target: ConnectionSettings,
    sql_dir: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Stack]:
    """A custom resource over a fresh database; nothing sensitive may be logged or printed."""
    with ResponseReceiver(tmp_path / "receiver") as receiver, offline_aws():
        secret_string = rds_secret(target)
        arn = put_secret("shoppulse/db-admin", secret_string)
        cfn = CloudFormation(Stack.resource_for(sql_dir), receiver, timeout_s=60)
        stack = Stack(cfn, pg_server, target, sql_dir, arn, secret_string)
        yield stack
    captured = capsys.readouterr()
    records = caplog.get_records("call")
    assert records, "the handler logged nothing"
    assert stack.leaks(log_text(records) + captured.out + captured.err) == []


def test_concurrent_creates_from_two_containers_apply_once(stack: Stack) -> None:
    # GIVEN two Lambda containers receiving a Create for the same database at the same time
    events = [stack.cfn.event("Create", stack.properties()) for _ in range(2)]
    resources = [stack.resource_for(stack.sql_dir) for _ in range(2)]

    def deliver(index: int) -> Any:
        return stack.cfn.send(events[index], handler=resources[index])

    # WHEN both run
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(deliver, range(2)))
    # THEN both succeed with the same id, and everything was applied exactly once
    assert [r.status for r in responses] == ["SUCCESS", "SUCCESS"]
    assert responses[0].physical_id == responses[1].physical_id
    assert stack.history() == [*MIGRATIONS, *SEEDS]
    assert query(stack.target, "SELECT count(*) FROM tenants") == [(3,)]


def test_backend_killed_during_an_update_fails_it_and_changes_nothing(
    stack: Stack, admin: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN a created resource and an Update whose migration is in pg_sleep
    props = stack.properties()
    created = stack.cfn.create(props)
    before = stack.snapshot()
    new_sql = stack.release(tmp_path, "V902__slow.sql", "SELECT pg_sleep(20);\n")

    def kill_when_sleeping() -> None:
        for _ in range(250):
            rows = query(
                admin,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d "
                "AND application_name = :a AND query LIKE '%pg_sleep%'",
                d=stack.target.database,
                a=APPLICATION_NAME,
            )
            if rows:
                return
            time.sleep(0.02)

    # WHEN an operator terminates the backend
    with ThreadPoolExecutor(max_workers=1) as pool:
        killer = pool.submit(kill_when_sleeping)
        failed = stack.cfn.update(
            created.physical_id,
            stack.properties(new_sql),
            props,
            handler=stack.resource_for(new_sql),
        )
        killer.result()
    # THEN FAILED naming the file, and the database is exactly as before
    assert_failed(failed, "ConnectError: migrations/V902__slow.sql:1: ")
    assert failed.seconds < 5
    assert stack.snapshot() == before


def test_lock_held_by_the_application_fails_the_update_and_spares_the_application(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a created resource and an application transaction holding a row lock on tenants
    props = stack.properties()
    created = stack.cfn.create(props)
    before = stack.snapshot()
    new_sql = stack.release(tmp_path, "V902__probe.sql", "ALTER TABLE tenants ADD probe int;\n")
    with closing(session(replace(stack.target, application_name="shop-app"))) as app:
        app.query("BEGIN")
        app.query("UPDATE tenants SET plan_tier = 'Enterprise' WHERE tenant_id = 'T003'")
        # WHEN the Update runs with a 300 ms lock timeout
        failed = stack.cfn.update(
            created.physical_id,
            stack.properties(new_sql, LockTimeoutMs="300"),
            props,
            handler=stack.resource_for(new_sql),
        )
        # THEN FAILED with 55P03 naming file and line, nothing applied, the application commits
        assert_failed(failed, "MigrationFailedError [55P03]: migrations/V902__probe.sql:1: ")
        assert stack.snapshot() == before
        app.query("COMMIT")
    assert query(stack.target, "SELECT plan_tier FROM tenants WHERE tenant_id = 'T003'") == [
        ("Enterprise",)
    ]
