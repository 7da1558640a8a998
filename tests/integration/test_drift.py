"""Drift: the live catalog against the one the migrations build in a scratch database."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from db_init import catalog_cache, drift, engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.postgres import LATEST, MIGRATIONS, REPO, add_migration, database_url, query, snapshot

HAND_MADE_CHANGES = """
ALTER TABLE orders ADD COLUMN legacy_code varchar(5);
DROP INDEX idx_orders_status;
ALTER TABLE tenants ALTER COLUMN plan_tier SET DEFAULT 'Basic';
ALTER TABLE tenants DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON tenants;
DROP TRIGGER trg_users_updated_at ON users;
"""


def _cli(*args: str, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO / "lambda"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "db_init", *args],
        capture_output=True,
        text=True,
        env=env | ({"TMPDIR": str(tmpdir)} if tmpdir else {}),
        check=False,
        timeout=180,
    )


@pytest.fixture
def applied(target: ConnectionSettings, options: ApplyOptions, deadline: Deadline) -> None:
    """The target database with the repository's migrations and seeds applied by us."""
    engine.apply(target, options, deadline)


@pytest.mark.usefixtures("applied")
def test_freshly_applied_database_has_no_drift(
    admin: ConnectionSettings, target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    report = drift.check(target, options, deadline, scratch=drift.existing_server(admin))

    assert report.differences == ()
    assert report.compared_with == LATEST
    # 8 tables with their columns, constraints, indexes and triggers, plus the trigger function
    assert report.object_count > 100
    assert report.pending_owners == ()


@pytest.mark.usefixtures("applied")
def test_hand_made_changes_are_each_reported_and_nothing_is_changed(
    pg_server: LocalServer,
    admin: ConnectionSettings,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    # GIVEN someone changed the live schema by hand
    query(target, HAND_MADE_CHANGES)
    before = snapshot(pg_server, target)

    # WHEN drift is checked
    report = drift.check(target, options, deadline, scratch=drift.existing_server(admin))

    # THEN every change is one difference, kind by kind, and the database is untouched
    assert [str(d) for d in report.differences] == [
        "changed row security public.tenants: expected enabled, live off",
        "unexpected column public.orders.legacy_code: character varying(5)",
        "changed default public.tenants.plan_tier: expected 'Standard'::character varying, "
        "live 'Basic'::character varying",
        "missing index public.orders.idx_orders_status: CREATE INDEX idx_orders_status ON "
        "public.orders USING btree (status)",
        "missing trigger public.users.trg_users_updated_at: CREATE TRIGGER trg_users_updated_at "
        "BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
        "missing policy public.tenants.tenant_isolation: permissive for all to PUBLIC using "
        "(((tenant_id)::text = current_setting('app.tenant_id'::text, true))) with check "
        "(((tenant_id)::text = current_setting('ap ...",
    ]
    assert report.drift_count == 6
    assert snapshot(pg_server, target) == before


@pytest.mark.usefixtures("applied")
def test_changed_function_body_is_drift(
    admin: ConnectionSettings, target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> None:
    query(
        target,
        "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END; $$",
    )

    report = drift.check(target, options, deadline, scratch=drift.existing_server(admin))

    assert [(d.change, d.kind, d.name) for d in report.differences] == [
        ("changed", "function", "public.set_updated_at()")
    ]


@pytest.mark.usefixtures("applied")
def test_drift_on_an_object_a_pending_migration_alters_is_a_conflict(
    admin: ConnectionSettings,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    # GIVEN drift on orders and on tenants, and a pending migration that alters orders only
    query(target, "ALTER TABLE orders ADD COLUMN legacy_code varchar(5)")
    query(target, "ALTER TABLE tenants ADD COLUMN legacy_code varchar(5)")
    add_migration(
        sql_dir, "V902__orders_channel.sql", "ALTER TABLE orders ADD COLUMN channel text;"
    )

    report = drift.check(target, options, deadline, scratch=drift.existing_server(admin))

    # THEN it compares with what the database recorded (the release) and flags only orders drift
    assert report.compared_with == LATEST
    assert report.pending_owners == ("public.orders",)
    assert [d.name for d in report.conflicts] == ["public.orders.legacy_code"]
    assert report.drift_count == 2


def test_default_scratch_is_an_embedded_server_that_is_removed_afterwards(
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine.apply(target, options, deadline)
    scratch_root = tmp_path / "scratch"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))

    report = drift.check(target, options, deadline)

    assert report.differences == () and report.object_count > 100 and report.built
    # the scratch server is stopped and deleted; only the expected catalog is kept, for reuse
    assert [p.name for p in scratch_root.iterdir()] == [catalog_cache.directory().name]
    assert drift.check(target, options, deadline).built is False


@pytest.mark.usefixtures("applied")
def test_cli_drift_exit_codes_and_json(target: ConnectionSettings, sql_dir: Path) -> None:
    clean = _cli("drift", "--database-url", database_url(target), "--sql-dir", str(sql_dir))
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith(
        f"no drift: {target.database} matches the migrations up to {MIGRATIONS[-1]}"
    )

    query(target, "ALTER TABLE orders ADD COLUMN legacy_code varchar(5)")
    drifted = _cli(
        "drift", "--json", "--database-url", database_url(target), "--sql-dir", str(sql_dir)
    )

    assert drifted.returncode == 1, drifted.stderr
    body = json.loads(drifted.stdout)
    assert body["ok"] is False and body["report"]["drift_count"] == 1
    assert body["report"]["differences"][0] == {
        "change": "unexpected",
        "kind": "column",
        "name": "public.orders.legacy_code",
        "owner": "public.orders",
        "expected": None,
        "live": "character varying(5)",
    }


DOCS = REPO / "docs" / "drift.md"
DOCS_MARKER = "<!-- example: tests/integration/test_drift.py -->"


def _documented_example() -> list[str]:
    """The fenced block after the marker in docs/drift.md, without its `$` command line."""
    text = DOCS.read_text(encoding="utf-8").split(DOCS_MARKER, 1)[1]
    block = text.split("```", 2)[1].splitlines()[1:]
    return [line for line in block if not line.startswith("$ ")]


@pytest.mark.usefixtures("applied")
def test_cli_shows_a_changed_definition_as_a_diff_and_json_keeps_both_texts(
    target: ConnectionSettings, sql_dir: Path, tmp_path: Path
) -> None:
    # GIVEN a widened policy, an extra privilege, and a trigger function that no longer works
    query(target, "GRANT TRUNCATE ON orders TO shoppulse_app")
    query(target, "ALTER POLICY tenant_isolation ON users USING (true)")
    query(
        target,
        "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql\n"
        "AS $function$\nBEGIN\n    RETURN NEW;\nEND;\n$function$",
    )
    url = database_url(target)

    shown = _cli("drift", "--database-url", url, "--sql-dir", str(sql_dir), tmpdir=tmp_path)
    as_json = _cli("drift", "--json", "--database-url", url, "--sql-dir", str(sql_dir))
    body = json.loads(as_json.stdout)

    # THEN the kind and name come first, then the lines that changed (as docs/drift.md shows);
    # the one slow step says what it does; --json has both texts
    assert shown.returncode == 1, shown.stderr
    assert "building the expected catalog: 3 migration(s)" in shown.stderr
    printed = shown.stdout.replace(target.database, "shoppulse").splitlines()
    assert printed == _documented_example()
    function = next(d for d in body["report"]["differences"] if d["kind"] == "function")
    assert "NEW.updated_at = now();" in function["expected"]
    assert function["live"].endswith("BEGIN\n    RETURN NEW;\nEND;\n$function$")
