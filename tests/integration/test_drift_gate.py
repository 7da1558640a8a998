"""The drift gate before applying: a hand-made change on what a pending migration alters."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import DriftConflictError, SettingsError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.postgres import add_migration, query, snapshot

CHANNEL = "ALTER TABLE orders ADD COLUMN channel varchar(20);\n"


@pytest.fixture
def drifted(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> ConnectionSettings:
    """A database at the released version, then changed by hand on orders."""
    engine.apply(target, options, deadline)
    query(target, "ALTER TABLE orders ADD COLUMN legacy_code varchar(5)")
    return target


def test_fail_refuses_drift_on_what_a_pending_migration_alters_and_changes_nothing(
    pg_server: LocalServer,
    drifted: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    add_migration(sql_dir, "V902__orders_channel.sql", CHANNEL)
    before = snapshot(pg_server, drifted)

    with pytest.raises(DriftConflictError) as raised:
        engine.apply(drifted, replace(options, on_drift="fail"), deadline)

    assert "unexpected column public.orders.legacy_code" in str(raised.value)
    assert raised.value.outcome.value == "refused"
    assert snapshot(pg_server, drifted) == before


def test_warn_applies_and_reports_the_drift(
    drifted: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_migration(sql_dir, "V902__orders_channel.sql", CHANNEL)
    caplog.set_level(logging.WARNING)

    result = engine.apply(drifted, options, deadline)

    assert result.applied_versions == ["V902"]
    assert result.drift_count == 1
    assert "drift: unexpected column public.orders.legacy_code" in caplog.text


def test_drift_elsewhere_does_not_block_a_migration_on_another_table(
    drifted: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    add_migration(sql_dir, "V902__tenants_note.sql", "ALTER TABLE tenants ADD COLUMN note text;\n")

    result = engine.apply(drifted, replace(options, on_drift="fail"), deadline)

    assert result.applied_versions == ["V902"] and result.drift_count == 1


def test_a_no_op_run_counts_undeclared_objects_without_a_scratch_build(
    drifted: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    result = engine.apply(drifted, replace(options, on_drift="fail"), deadline)

    assert result.applied == ()
    assert result.drift_count == 1  # the undeclared orders.legacy_code
    assert "drift" not in result.timings_ms


def test_unknown_policy_is_a_usage_error(sql_dir: Path) -> None:
    with pytest.raises(SettingsError, match="on-drift must be one of warn, fail, off"):
        ApplyOptions(sql_dir=sql_dir, on_drift="maybe")
