"""Faults while a migration runs: killed backend, cut network, lock and statement timeouts, deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import ConnectError, DeadlineExceededError, MigrationFailedError
from db_init.settings import APPLICATION_NAME, ApplyOptions, ConnectionSettings
from tests.faults.relay import Relay
from tests.postgres import add_migration, query, session, snapshot

SLEEPY = """-- a migration that is slow in its third statement
CREATE TABLE fault_probe (id integer PRIMARY KEY);
INSERT INTO fault_probe VALUES (1);
SELECT pg_sleep({seconds});
ALTER TABLE tenants ADD COLUMN fault_probe integer;
"""


def _in_background(call: Callable[[], engine.Result]) -> Future[engine.Result]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


def _our_backends(admin: ConnectionSettings, database: str, *, running: str = "") -> list[int]:
    rows = query(
        admin,
        "SELECT pid FROM pg_stat_activity WHERE datname = :d AND application_name = :a "
        "AND query LIKE :q",
        d=database,
        a=APPLICATION_NAME,
        q=f"%{running}%",
    )
    return [int(pid) for (pid,) in rows]


def _wait_for(condition: Callable[[], bool], *, within_s: float) -> None:
    give_up = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < give_up, "condition not reached in time"
        time.sleep(0.02)


def test_backend_terminated_mid_migration_leaves_nothing_applied(
    pg_server: LocalServer,
    admin: ConnectionSettings,
    applied: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    # GIVEN a migration that is in pg_sleep when an operator kills its backend
    before = snapshot(pg_server, applied)
    add_migration(options.sql_dir, "V902__sleepy.sql", SLEEPY.format(seconds=10))
    running = _in_background(lambda: engine.apply(applied, options, deadline))
    _wait_for(lambda: bool(_our_backends(admin, applied.database, running="pg_sleep")), within_s=5)
    # WHEN pg_terminate_backend hits it
    (pid,) = _our_backends(admin, applied.database, running="pg_sleep")
    assert query(admin, "SELECT pg_terminate_backend(:p)", p=pid) == [(True,)]
    # THEN the run fails naming the file and line, and the database is exactly as before
    with pytest.raises(ConnectError) as failure:
        running.result(timeout=10)
    assert "migrations/V902__sleepy.sql:4" in str(failure.value)
    assert "nothing was committed" in str(failure.value)
    assert snapshot(pg_server, applied) == before
    # AND the advisory lock died with the backend: a fixed file applies at once
    add_migration(options.sql_dir, "V902__sleepy.sql", SLEEPY.format(seconds=0))
    assert engine.apply(applied, options, deadline).applied_versions == ["V902"]


def test_network_cut_mid_migration_leaves_nothing_applied(
    pg_server: LocalServer,
    admin: ConnectionSettings,
    applied: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    # GIVEN a migration running through a relay, in pg_sleep
    before = snapshot(pg_server, applied)
    add_migration(options.sql_dir, "V902__sleepy.sql", SLEEPY.format(seconds=1))
    with Relay(applied.port) as relay:
        through = replace(applied, port=relay.port)
        running = _in_background(lambda: engine.apply(through, options, deadline))
        _wait_for(
            lambda: bool(_our_backends(admin, applied.database, running="pg_sleep")), within_s=5
        )
        # WHEN the network drops every packet of the connection
        relay.cut()
        # THEN the client fails at once with a one-line reason naming file and line
        with pytest.raises(ConnectError) as failure:
            running.result(timeout=5)
    assert "migrations/V902__sleepy.sql:4" in failure.value.one_line()
    # AND the orphaned backend rolls back on its own once it notices the client is gone
    _wait_for(lambda: not _our_backends(admin, applied.database), within_s=10)
    assert snapshot(pg_server, applied) == before


def test_lock_held_by_application_times_out_and_leaves_it_undisturbed(
    pg_server: LocalServer,
    applied: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    # GIVEN an application transaction that has updated a tenant and not committed yet
    before = snapshot(pg_server, applied)
    add_migration(options.sql_dir, "V902__probe.sql", "ALTER TABLE tenants ADD COLUMN probe int;\n")
    app_settings = replace(applied, application_name="shop-app")
    with closing(session(app_settings)) as app:
        app.query("BEGIN")
        app.query("UPDATE tenants SET plan_tier = 'Enterprise' WHERE tenant_id = 'T003'")
        (app_xid,) = app.query("SELECT pg_current_xact_id()::text")[0]
        # WHEN the migration needs ACCESS EXCLUSIVE on tenants, with a 300 ms lock timeout
        with pytest.raises(MigrationFailedError) as failure:
            engine.apply(applied, replace(options, lock_timeout_ms=300), deadline)
        # THEN lock_timeout (55P03, not the statement timeout or the deadline) ends the wait,
        # naming file and line, and nothing was applied
        assert failure.value.sqlstate == "55P03"
        assert "lock timeout" in str(failure.value)
        assert "migrations/V902__probe.sql:1" in str(failure.value)
        assert snapshot(pg_server, applied) == before
        # AND the application's transaction is the same one, still open, and commits
        assert app.query("SELECT pg_current_xact_id()::text") == [(app_xid,)]
        app.query("COMMIT")
    assert query(applied, "SELECT plan_tier FROM tenants WHERE tenant_id = 'T003'") == [
        ("Enterprise",)
    ]


def test_statement_timeout_fails_cleanly_naming_file_and_line(
    pg_server: LocalServer, applied: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    # GIVEN a migration whose third statement takes 5 s
    before = snapshot(pg_server, applied)
    add_migration(options.sql_dir, "V902__sleepy.sql", SLEEPY.format(seconds=5))
    # WHEN the statement timeout is 300 ms
    with pytest.raises(MigrationFailedError) as failure:
        engine.apply(applied, replace(options, statement_timeout_ms=300), deadline)
    # THEN the statement timeout (57014), not the 5 s sleep's end, fails it, naming the file and
    # the line, and nothing changed
    assert failure.value.sqlstate == "57014"
    assert "statement timeout" in str(failure.value)
    assert failure.value.one_line().startswith(
        "MigrationFailedError [57014]: migrations/V902__sleepy.sql:4: "
    )
    assert snapshot(pg_server, applied) == before


def test_deadline_reached_mid_migration_rolls_back_before_it(
    pg_server: LocalServer, applied: ConnectionSettings, options: ApplyOptions
) -> None:
    # GIVEN a migration that would take 10 s and a run with 1.5 s left (a Lambda near its end)
    before = snapshot(pg_server, applied)
    add_migration(options.sql_dir, "V902__sleepy.sql", SLEEPY.format(seconds=10))
    # WHEN it runs
    with pytest.raises(DeadlineExceededError) as failure:
        engine.apply(applied, options, Deadline.after(1.5))
    # THEN it stops at the deadline naming where, and nothing was committed
    assert "migrations/V902__sleepy.sql:4" in str(failure.value)
    assert snapshot(pg_server, applied) == before
