"""Reaching the server: late, never, silent, wrong password, missing database, no CREATEDB."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import AuthenticationError, ConnectError, DbInitError, SqlError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.faults.relay import Mode, Relay, closed_port
from tests.postgres import MIGRATIONS, SEEDS, add_migration, query, snapshot

ADD_COLUMN = "ALTER TABLE tenants ADD COLUMN fault_probe integer;\n"


def _through(
    relay: Relay, target: ConnectionSettings, *, connect_timeout_s: float = 10.0
) -> ConnectionSettings:
    return replace(target, port=relay.port, connect_timeout_s=connect_timeout_s)


def test_server_accepting_late_succeeds_within_the_retry_budget(
    pg_server: LocalServer, applied: ConnectionSettings, options: ApplyOptions
) -> None:
    # GIVEN a proxy whose target registers only after 1.5 s, and a pending migration
    add_migration(options.sql_dir, "V902__probe.sql", ADD_COLUMN)
    with Relay(applied.port, refuse_for_s=1.5) as relay:
        # WHEN we apply with a 10 s retry budget
        result = engine.apply(
            _through(relay, applied), replace(options, connect_budget_s=10), Deadline.after(20)
        )
    # THEN the retries ride out the refusals and the migration is applied once
    assert relay.refused >= 2
    assert result.applied_versions == ["V902"]
    assert (
        query(applied, "SELECT count(*) FROM shoppulse_meta.schema_history")[0][0]
        == len(MIGRATIONS + SEEDS) + 1
    )


def test_server_never_accepting_fails_cleanly_before_the_deadline(
    pg_server: LocalServer, applied: ConnectionSettings, options: ApplyOptions
) -> None:
    # GIVEN nothing listening where the proxy should be
    before = snapshot(pg_server, applied)
    add_migration(options.sql_dir, "V902__probe.sql", ADD_COLUMN)
    unreachable = replace(applied, port=closed_port())
    # WHEN we apply with a 1.5 s retry budget inside a 5 s deadline
    with pytest.raises(ConnectError) as failure:
        engine.apply(unreachable, replace(options, connect_budget_s=1.5), Deadline.after(5))
    # THEN the budget, not the deadline, ends it (ConnectError, not DeadlineExceededError) with a
    # one-line reason, and nothing changed
    assert type(failure.value) is ConnectError
    assert f"127.0.0.1:{unreachable.port}" in failure.value.one_line()
    assert "\n" not in failure.value.one_line()
    assert snapshot(pg_server, applied) == before


def test_refusing_proxy_fails_cleanly_before_the_deadline(
    pg_server: LocalServer, applied: ConnectionSettings, options: ApplyOptions
) -> None:
    # GIVEN a proxy that accepts TCP and hangs up at once, for ever (target never registers)
    before = snapshot(pg_server, applied)
    add_migration(options.sql_dir, "V902__probe.sql", ADD_COLUMN)
    # WHEN the retry budget (30 s) is longer than the deadline (2 s)
    with (
        Relay(applied.port, mode=Mode.REFUSE) as relay,
        pytest.raises(DbInitError) as failure,
    ):
        engine.apply(
            _through(relay, applied), replace(options, connect_budget_s=30), Deadline.after(2)
        )
    # THEN the deadline wins: a clean failure after several attempts
    assert relay.refused >= 3
    assert failure.value.kind in ("ConnectError", "DeadlineExceededError")
    assert snapshot(pg_server, applied) == before


def test_silent_server_fails_before_the_deadline(
    pg_server: LocalServer, applied: ConnectionSettings, options: ApplyOptions
) -> None:
    # GIVEN a server that accepts TCP and never answers, a 1.5 s connect timeout
    before = snapshot(pg_server, applied)
    add_migration(options.sql_dir, "V902__probe.sql", ADD_COLUMN)
    # WHEN the deadline (2.5 s) ends in the middle of the second attempt
    with (
        Relay(applied.port, mode=Mode.SILENT) as relay,
        pytest.raises(DbInitError) as failure,
    ):
        engine.apply(
            _through(relay, applied, connect_timeout_s=1.5),
            replace(options, connect_budget_s=30),
            Deadline.after(2.5),
        )
    # THEN the second attempt is cut at the deadline: no third attempt is ever made
    assert 1 <= relay.accepted <= 2
    assert failure.value.kind in ("ConnectError", "DeadlineExceededError")
    assert snapshot(pg_server, applied) == before


def test_wrong_password_fails_fast_without_retrying_or_echoing_it(
    pg_server: LocalServer,
    applied: ConnectionSettings,
    options: ApplyOptions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a rotated password the caller does not know yet
    before = snapshot(pg_server, applied)
    wrong = applied.with_credentials(applied.user, "not-the-password-0x5eed")
    # WHEN we apply with a generous retry budget
    with (
        caplog.at_level(logging.INFO, logger="db_init"),
        pytest.raises(AuthenticationError) as failure,
    ):
        engine.apply(wrong, replace(options, connect_budget_s=30), Deadline.after(30))
    # THEN one attempt, not retried, fails with 28P01, says what to check, never shows the password
    attempts = [r.getMessage() for r in caplog.records if "connection attempt" in r.getMessage()]
    assert len(attempts) == 1 and attempts[0].endswith("not retried")
    line = failure.value.one_line()
    assert line.startswith("AuthenticationError [28P01]: ")
    assert "password" in line and "not-the-password-0x5eed" not in line
    assert snapshot(pg_server, applied) == before


def test_missing_database_without_createdb_fails_cleanly(
    pg_server: LocalServer,
    admin: ConnectionSettings,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
    make_role: Callable[..., ConnectionSettings],
) -> None:
    # GIVEN a database that does not exist and a user who may not create one
    role = make_role(target.database)
    # WHEN that user applies
    with pytest.raises(SqlError) as failure:
        engine.apply(role, options, deadline)
    # THEN it fails with 42501 naming the problem, and no database appears
    assert failure.value.sqlstate == "42501"
    assert "may not create it: create it first, or grant CREATEDB" in str(failure.value)
    assert not query(admin, "SELECT 1 FROM pg_database WHERE datname = :d", d=target.database)
    assert snapshot(pg_server, target) == "<no database>"
