"""The drift gate before applying: a hand-made change on what a pending migration alters."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from db_init import drift, engine, scripts, sql_names
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


GATE_CASES = [
    pytest.param(
        "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END; $$",
        "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql\n"
        "AS $$ BEGIN NEW.updated_at = clock_timestamp(); RETURN NEW; END; $$;\n",
        "changed function public.set_updated_at()",
        "",
        id="function-by-name",
    ),
    pytest.param(
        "ALTER TABLE orders ADD COLUMN legacy_code varchar(5)",
        'ALTER TABLE "orders" ADD COLUMN channel varchar(20);\n',
        "unexpected column public.orders.legacy_code",
        "",
        id="quoted-identifier",
    ),
    pytest.param(
        "ALTER SEQUENCE fulfillment_fulfillment_id_seq CACHE 20",
        "ALTER TABLE fulfillment ADD COLUMN note text;\n",
        "changed sequence public.fulfillment_fulfillment_id_seq",
        "",
        id="identity-sequence-by-its-table",
    ),
    pytest.param(
        "ALTER ROLE shoppulse_analytics CONNECTION LIMIT 3",
        "GRANT SELECT ON orders TO shoppulse_analytics;\n",
        "changed role shoppulse_analytics",
        "ALTER ROLE shoppulse_analytics CONNECTION LIMIT -1",
        id="role-by-name",
    ),
]


@pytest.mark.parametrize("parser", [True, False], ids=["pglast", "fallback"])
@pytest.mark.parametrize(("change", "pending", "conflict", "undo"), GATE_CASES)
def test_gate_and_drift_agree_on_what_a_pending_migration_names(
    pg_server: LocalServer,
    admin: ConnectionSettings,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
    monkeypatch: pytest.MonkeyPatch,
    parser: bool,
    change: str,
    pending: str,
    conflict: str,
    undo: str,
) -> None:
    # GIVEN a hand-made change, and a pending migration that names the drifted object
    # (with PostgreSQL's parser, and with the Lambda's fallback that has none)
    monkeypatch.setattr(sql_names, "available", lambda: parser)
    engine.apply(target, options, deadline)
    query(target, change)
    try:
        migration = add_migration(sql_dir, "V902__touches_it.sql", pending)
        before = snapshot(pg_server, target)

        # WHEN drift looks, and the gate runs before applying
        report = drift.check(target, options, deadline, scratch=drift.existing_server(admin))
        with pytest.raises(DriftConflictError) as raised:
            engine.apply(target, replace(options, on_drift="fail"), deadline)
    finally:
        if undo:
            query(target, undo)

    # THEN both name the same conflict, and nothing was applied
    script = scripts.load(sql_dir).migration(902)
    assert script is not None and script.path == migration
    assert report.conflicts == drift.owners_named_in(report, [script])
    assert [str(d).split(":")[0] for d in report.conflicts] == [conflict]
    assert conflict in str(raised.value)
    assert snapshot(pg_server, target) == before
