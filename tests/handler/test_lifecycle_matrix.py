"""Every step of a real stack's life, cases a-h of docs/rollbacks.md, through the real handler.

Each case drives the handler as CloudFormation would (events in, responses over HTTPS, the
secret in moto) against a real PostgreSQL, and asserts the response and the exact database
state (pg_dump before/after). "Old code" is the previous build: the sql/ tree without the
newest migration, bundled in its own function, with the properties its template set.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from db_init.deadline import Deadline
from db_init.handler import SchemaResource
from db_init.manifest import manifest_of
from db_init.properties import ResourceProperties
from db_init.settings import ConnectionSettings
from db_init.simulator import CloudFormation, Response
from tests import postgres
from tests.cloudformation import MAX_BODY, Stack, assert_failed, rds_secret
from tests.faults.relay import Mode, Relay
from tests.handler.test_failures import RotatingSecrets
from tests.postgres import LATEST, MIGRATIONS, SEEDS, query

NEXT = f"V{LATEST + 1:03d}"
# An expand-only release: a new table with rows, and a nullable column the old build never reads.
EXPAND = f"""-- expand: the previous build neither reads nor writes any of this
CREATE TABLE store_notes (note_id integer PRIMARY KEY, body text NOT NULL);
INSERT INTO store_notes (note_id, body) VALUES (1, 'written by {NEXT}'), (2, 'kept on rollback');
ALTER TABLE orders ADD COLUMN channel varchar(20);
"""
EXPAND_DECLARED = """
[tables.store_notes]
constraints = ["store_notes_pkey"]
indexes = ["store_notes_pkey"]

[tables.store_notes.columns]
note_id = "integer not null"
body = "text not null"
"""
# A contracting release: drops a column the previous build declares (and may still select).
CONTRACT = """-- contract, released together with the code change: what expand-then-contract avoids
-- allow: drop-column reason: the country field moved to the billing service in this release
ALTER TABLE tenants DROP COLUMN country;
"""
BROKEN = """-- line 2 would create a table; line 3 fails, so nothing of this file is kept
CREATE TABLE half_done (id integer PRIMARY KEY);
ALTER TABLE no_such_table ADD COLUMN x int;
"""


@dataclass(frozen=True)
class Build:
    """One build of the app: its bundled sql/, the properties its template sets, its function."""

    sql_dir: Path
    props: dict[str, str]
    handler: SchemaResource


def build(stack: Stack, sql_dir: Path, **overrides: str | None) -> Build:
    """The build bundling `sql_dir`, with the Migrations manifest its template carries."""
    manifest = ",".join(manifest_of(sql_dir))
    props = stack.properties(sql_dir, Migrations=manifest, **overrides)
    return Build(sql_dir, props, stack.resource_for(sql_dir))


def release(stack: Stack, tmp_path: Path, name: str, body: str, *, declared: str = "") -> Path:
    """The next build's sql/: one more migration, and expected_schema.toml updated to match."""
    new_sql = stack.release(tmp_path, name, body)
    expected = new_sql / "expected_schema.toml"
    text = expected.read_text()
    if "tenants DROP COLUMN country" in body:
        text = text.replace('country = "character varying(50)"\n', "", 1)
    if "orders ADD COLUMN channel" in body:
        marker = 'net_revenue = "numeric(10,2) not null"\n'
        text = text.replace(marker, marker + 'channel = "character varying(20)"\n', 1)
    expected.write_text(text + declared)
    return new_sql


@pytest.fixture
def old(stack: Stack) -> Build:
    """The build deployed first (the repository's sql/)."""
    return build(stack, stack.sql_dir)


@pytest.fixture
def new(stack: Stack, tmp_path: Path) -> Build:
    """The next build: the old sql/ plus the expand migration."""
    sql = release(stack, tmp_path, f"{NEXT}__store_notes.sql", EXPAND, declared=EXPAND_DECLARED)
    return build(stack, sql)


def update(stack: Stack, physical_id: str, to: Build, came_from: Build) -> Response:
    """An Update to `to` (its code and properties); `came_from`'s properties as the old ones."""
    return stack.cfn.update(physical_id, to.props, came_from.props, handler=to.handler)


def ahead_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warning lines saying the database is ahead of the build that ran."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "db_init.ahead" and r.levelno == logging.WARNING
    ]


def note_rows(stack: Stack) -> list[tuple[Any, ...]]:
    """What the expand migration wrote."""
    return query(stack.target, "SELECT note_id, body FROM store_notes ORDER BY note_id")


# --- a: Create, Update adding a migration, rollback Update, the forward Update again -----------


def test_a_rollback_after_a_successful_schema_update_succeeds_and_keeps_the_migration(
    stack: Stack, old: Build, new: Build, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a created stack, then an Update to the next build that applied its migration
    created = stack.cfn.create(old.props)
    forward = update(stack, created.physical_id, new, old)
    assert forward.status == "SUCCESS", forward.reason
    assert forward.data["AppliedVersions"] == ",".join([*MIGRATIONS, NEXT, *SEEDS])
    after_forward = stack.snapshot()
    caplog.clear()
    # WHEN a later resource fails and CloudFormation rolls back: old code, old properties
    rollback = update(stack, created.physical_id, old, new)
    # THEN SUCCESS, reporting the future version, with one warning and nothing applied
    assert rollback.status == "SUCCESS", rollback.reason
    assert rollback.physical_id == created.physical_id
    assert rollback.data == forward.data | {
        "FutureVersions": NEXT,
        "Checksum": old.props["SqlChecksum"],
    }
    assert rollback.data["SchemaVersion"] == NEXT  # what the database holds, not the build
    assert rollback.data["DriftCount"] == "0"  # what the future migration added is not drift
    print(f"rollback Update, database ahead: {rollback.seconds * 1000:.0f} ms end to end")
    [warning] = ahead_warnings(caplog)
    assert f"future migrations {NEXT} (newest {NEXT}__store_notes.sql)" in warning
    assert "nothing is applied" in warning
    # AND the database keeps the migration and its rows, byte for byte
    assert stack.snapshot() == after_forward
    assert note_rows(stack) == [(1, f"written by {NEXT}"), (2, "kept on rollback")]
    # WHEN the forward Update is deployed again
    again = update(stack, created.physical_id, new, old)
    # THEN SUCCESS with the forward answer, and nothing was applied
    assert again.status == "SUCCESS", again.reason
    assert again.data == forward.data
    assert again.data["FutureVersions"] == ""
    assert stack.snapshot() == after_forward
    assert stack.history() == [*MIGRATIONS, NEXT, *SEEDS]


def test_a_rollback_over_a_contracting_migration_succeeds_and_names_the_difference(
    stack: Stack, old: Build, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a release that dropped a column the previous build declares
    created = stack.cfn.create(old.props)
    contract = build(stack, release(stack, tmp_path, f"{NEXT}__drop_country.sql", CONTRACT))
    forward = update(stack, created.physical_id, contract, old)
    assert forward.status == "SUCCESS", forward.reason
    after_forward = stack.snapshot()
    caplog.clear()
    # WHEN CloudFormation rolls back to the previous build
    rollback = update(stack, created.physical_id, old, contract)
    # THEN the rollback still completes (failing could not restore the column), flagging it
    assert rollback.status == "SUCCESS", rollback.reason
    assert rollback.data["FutureVersions"] == NEXT
    assert rollback.data["DriftCount"] == "1"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "verification (database ahead of this build): missing column tenants.country" in (
        warnings
    )
    assert stack.snapshot() == after_forward


def test_a_rollback_of_an_adopted_database_with_baseline_version_succeeds(
    stack: Stack, old: Build, tmp_path: Path
) -> None:
    # GIVEN a stack whose template passes BaselineVersion (a database adopted earlier)
    created = stack.cfn.create(old.props)
    adopted = build(stack, old.sql_dir, BaselineVersion="V001")
    assert update(stack, created.physical_id, adopted, old).status == "SUCCESS"
    sql = release(stack, tmp_path, f"{NEXT}__store_notes.sql", EXPAND, declared=EXPAND_DECLARED)
    newer = build(stack, sql, BaselineVersion="V001")
    assert update(stack, created.physical_id, newer, adopted).status == "SUCCESS"
    after_forward = stack.snapshot()
    # WHEN CloudFormation rolls back to the previous build
    rollback = update(stack, created.physical_id, adopted, newer)
    # THEN the baseline step does not refuse the future version either
    assert rollback.status == "SUCCESS", rollback.reason
    assert rollback.data["FutureVersions"] == NEXT
    assert stack.snapshot() == after_forward


# --- b: an Update with a failing migration, and its rollback ----------------------------------


def test_b_failing_update_changes_nothing_and_its_rollback_succeeds(
    stack: Stack, old: Build, tmp_path: Path
) -> None:
    # GIVEN a created stack
    created = stack.cfn.create(old.props)
    before = stack.snapshot()
    broken = build(stack, release(stack, tmp_path, f"{NEXT}__broken.sql", BROKEN))
    # WHEN an Update to a build whose migration fails on its second statement
    failed = update(stack, created.physical_id, broken, old)
    # THEN FAILED naming file, line and SQLSTATE; the id kept; not even line 2 was committed
    assert_failed(failed, f"MigrationFailedError [42P01]: migrations/{NEXT}__broken.sql:3: ")
    assert failed.physical_id == created.physical_id
    assert stack.snapshot() == before
    # WHEN CloudFormation rolls back
    rollback = update(stack, created.physical_id, old, broken)
    # THEN SUCCESS with the created answer, and the database is exactly as before
    assert rollback.status == "SUCCESS", rollback.reason
    assert rollback.data == created.data
    assert stack.snapshot() == before


# --- c: a failed Create and the Delete that follows it ----------------------------------------


def test_c_failed_create_is_followed_by_a_delete_that_succeeds_and_drops_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a first build whose newest migration fails
    broken = build(stack, release(stack, tmp_path, f"{NEXT}__broken.sql", BROKEN))
    failed = stack.cfn.create(broken.props, handler=broken.handler)
    assert_failed(failed, f"MigrationFailedError [42P01]: migrations/{NEXT}__broken.sql:3: ")
    assert failed.physical_id == stack.physical_id_for_target()
    left = stack.snapshot()
    assert stack.tables() == []  # the database was created, nothing in it was committed
    # WHEN CloudFormation deletes the failed resource
    deleted = stack.cfn.delete(failed.physical_id, broken.props, handler=broken.handler)
    # THEN SUCCESS with the same id, and the (empty) database is retained as it was
    assert deleted.status == "SUCCESS"
    assert deleted.physical_id == failed.physical_id
    assert stack.snapshot() == left


# --- d: a new stack's Create over a retained, fully migrated database -------------------------


def test_d_new_stacks_create_over_a_retained_database_changes_nothing(
    stack: Stack, old: Build
) -> None:
    # GIVEN a stack that created the database and was then deleted (the database is retained)
    created = stack.cfn.create(old.props)
    assert stack.cfn.delete(created.physical_id, old.props).status == "SUCCESS"
    retained = stack.snapshot()
    # WHEN a new stack (another StackId, a fresh function) creates its resource over it
    second = CloudFormation(old.handler, stack.cfn.receiver, stack_name="ShopPulseDatabase-new")
    response = second.create(old.props)
    # THEN SUCCESS with the same identity and answer, and nothing changed
    assert response.status == "SUCCESS", response.reason
    assert response.physical_id == created.physical_id
    assert response.data == created.data
    assert response.document["StackId"] == second.stack_id != stack.cfn.stack_id
    assert stack.leaks(response.body.decode()) == []
    assert stack.snapshot() == retained


# --- e: an older build deployed on purpose over a newer database ------------------------------


@pytest.mark.parametrize("policy", ["ignore", "fail"])
def test_e_older_build_over_a_newer_database_warns_under_ignore_and_fails_under_fail(
    stack: Stack, old: Build, new: Build, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a database created by the newer build
    created = stack.cfn.create(new.props, handler=new.handler)
    assert created.status == "SUCCESS", created.reason
    newer = stack.snapshot()
    caplog.clear()
    # WHEN the older build is deployed over it, with OnFutureMigrations set as given
    older = build(stack, old.sql_dir, OnFutureMigrations=policy)
    response = update(stack, created.physical_id, older, new)
    # THEN ignore: SUCCESS with a warning; fail: FAILED naming the future version
    if policy == "ignore":
        assert response.status == "SUCCESS", response.reason
        assert response.data["FutureVersions"] == NEXT
        assert len(ahead_warnings(caplog)) == 1
    else:
        assert_failed(
            response,
            f"FutureMigrationsError: {stack.target.database} is ahead: future migrations "
            f"{NEXT} (newest {NEXT}__store_notes.sql) beyond this build's {MIGRATIONS[-1]}; "
            "nothing was applied",
        )
        assert "OnFutureMigrations (--on-future) to ignore" in response.reason
    # AND in both cases the database is exactly as the newer build left it
    assert stack.snapshot() == newer


def test_on_future_migrations_takes_only_ignore_or_fail(stack: Stack) -> None:
    response = stack.cfn.create(stack.properties(OnFutureMigrations="sometimes"))
    assert_failed(response, 'SettingsError: OnFutureMigrations must be "ignore" or "fail"')
    assert stack.snapshot() == "<no database>"


# --- f: a replacement, and the Delete of the old physical id ----------------------------------


@pytest.fixture
def other_database(admin: ConnectionSettings) -> Iterator[str]:
    """A second database name for a replacement; dropped after the test."""
    name = postgres.new_database_name()
    yield name
    postgres.drop_database(admin, name)


@pytest.mark.parametrize("changed", ["Host", "DatabaseName"])
def test_f_replacement_then_delete_of_the_old_id_both_succeed_and_drop_nothing(
    stack: Stack, old: Build, other_database: str, changed: str
) -> None:
    # GIVEN a created stack
    created = stack.cfn.create(old.props)
    before = stack.snapshot()
    moved = stack.target.with_database(other_database)
    value = {"Host": "localhost", "DatabaseName": other_database}[changed]
    replaced = build(stack, old.sql_dir, **{changed: value})
    # WHEN an Update names another endpoint or database (CloudFormation sees a new id)
    response = update(stack, created.physical_id, replaced, old)
    # THEN SUCCESS under the new identity
    assert response.status == "SUCCESS", response.reason
    host = "localhost" if changed == "Host" else stack.target.host
    database = moved.database if changed == "DatabaseName" else stack.target.database
    assert response.physical_id == f"{database}@{host}:{stack.target.port}"
    assert response.physical_id != created.physical_id
    # WHEN CloudFormation, in its cleanup phase, deletes the old physical id
    deleted = stack.cfn.delete(created.physical_id, old.props)
    # THEN SUCCESS, and the old database is untouched (a new database got the schema)
    assert deleted.status == "SUCCESS"
    assert deleted.physical_id == created.physical_id
    assert stack.snapshot() == before
    if changed == "DatabaseName":
        history = query(moved, "SELECT count(*) FROM shoppulse_meta.schema_history")
        assert history == [(len(MIGRATIONS) + len(SEEDS),)]


# --- g: the first deploy while the proxy target registers, and a rotation mid-login -----------


def _attempt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "db_init.db" and r.getMessage().startswith("connection attempt ")
    ]


def test_g_first_deploy_retries_a_registering_proxy_and_rereads_a_rotated_secret(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a proxy that turns connections away for 3 s (its target is still registering),
    # and a secret whose first rotation finishes right after the handler read it
    rotating = RotatingSecrets(stack, rds_secret(stack.target, password="before-rotation-pw"))
    stack.sensitive.append(rotating.stale)
    with Relay(stack.target.port, refuse_for_s=3.0) as proxy:
        props = stack.properties(Port=str(proxy.port))
        handler = stack.resource_for(stack.sql_dir, secrets=rotating)
        # WHEN CloudFormation creates the resource
        response = stack.cfn.send(stack.cfn.event("Create", props), handler=handler)
    # THEN SUCCESS after one re-read of the secret, with the whole schema applied
    assert response.status == "SUCCESS", response.reason
    assert rotating.reads == 2
    assert stack.history() == [*MIGRATIONS, *SEEDS]
    # AND one log line per failed attempt, saying what failed, never a password
    lines = _attempt_lines(caplog)
    turned_away = [line for line in lines if "retrying in" in line]
    assert turned_away
    assert len(turned_away) == proxy.refused - 1  # the other refusal was the preflight's probe
    assert all(f"to 127.0.0.1:{proxy.port} failed: ConnectError: " in x for x in turned_away)
    [stale_login] = [line for line in lines if "AuthenticationError [28P01]" in line]
    assert stale_login.endswith("; not retried")
    assert "the secret has changed since, retrying once" in caplog.text


def test_g_connection_attempts_go_on_until_the_handlers_deadline_then_fail_cleanly(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a proxy whose target never registers, and a Lambda with 12 s left
    with Relay(stack.target.port, mode=Mode.REFUSE) as proxy:
        props = stack.properties(Port=str(proxy.port))
        # WHEN CloudFormation creates the resource
        response = stack.cfn.create(props, timeout_s=12)
    # THEN our own FAILED (not the runtime's timeout), after attempts that filled the deadline
    assert_failed(response, "ConnectError: ")
    lines = _attempt_lines(caplog)
    assert len(lines) >= 5
    assert all("retrying in" in line for line in lines[:-1])
    assert lines[-1].endswith("; giving up: retry budget spent")
    assert stack.snapshot() == "<no database>"


def test_g_the_connect_budget_is_the_handlers_deadline_not_a_fixed_120_s() -> None:
    # GIVEN a Lambda with 15 minutes left (the handler's deadline keeps its margin)
    props = ResourceProperties.from_properties(
        {
            "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            "DatabaseName": "shoppulse",
            "SqlChecksum": "0" * 64,
        }
    )
    deadline = Deadline.after(870)
    # WHEN the engine options are derived
    options = props.apply_options(postgres.SQL_DIR, deadline)
    # THEN connection attempts may go on for as long as the deadline allows
    assert 860 < options.connect_budget_s <= 870


# --- h: the same rollback Update delivered twice ----------------------------------------------


def test_h_duplicate_rollback_delivery_answers_the_same_and_applies_nothing_twice(
    stack: Stack, old: Build, new: Build
) -> None:
    # GIVEN a forward Update that applied the next build's migration
    created = stack.cfn.create(old.props)
    assert update(stack, created.physical_id, new, old).status == "SUCCESS"
    after_forward = stack.snapshot()
    # WHEN the rollback Update is delivered twice (a Lambda retry of the same event)
    event = stack.cfn.event(
        "Update", old.props, physical_id=created.physical_id, old_properties=new.props
    )
    first = stack.cfn.send(event, handler=old.handler)
    after_first = stack.snapshot()
    second = stack.cfn.send(event, handler=old.handler)
    # THEN both answer exactly the same, and neither changed the database
    assert first.status == "SUCCESS", first.reason
    assert first.document == second.document
    assert after_first == after_forward
    assert stack.snapshot() == after_forward
    assert stack.history() == [*MIGRATIONS, NEXT, *SEEDS]


# --- the FutureVersions attribute stays inside the 4096-byte response -------------------------


def test_a_long_future_list_is_capped_and_the_response_fits_4096_bytes(
    stack: Stack, old: Build
) -> None:
    # GIVEN a database on which a newer build recorded 600 scattered migrations
    created = stack.cfn.create(old.props)
    versions = range(LATEST + 10, LATEST + 10 + 1200, 2)
    query(
        stack.target,
        "INSERT INTO shoppulse_meta.schema_history "
        "(kind, version, description, script, checksum, duration_ms) "
        "SELECT 'migration', v, 'newer', format('V%s__newer.sql', v), repeat('f', 64), 0 "
        "FROM unnest(CAST(:versions AS int[])) AS v",
        versions="{" + ",".join(map(str, versions)) + "}",
    )
    before = stack.snapshot()
    # WHEN CloudFormation rolls back to (or deploys) the older build
    response = stack.cfn.update(created.physical_id, old.props, old.props)
    # THEN SUCCESS within 4096 bytes; FutureVersions names the first ones and the newest
    assert response.status == "SUCCESS", response.reason
    assert len(response.body) <= MAX_BODY
    print(f"600 future versions: response body {len(response.body)} bytes")
    future = response.data["FutureVersions"].split(",")
    assert future[0] == f"V{versions[0]:03d}"
    assert future[-2:] == ["...", f"V{versions[-1]:03d}"]
    assert len(future) == 9  # seven, "...", the newest
    assert response.data["SchemaVersion"] == f"V{versions[-1]:03d}"
    assert stack.snapshot() == before


# --- b': a forward Update that committed part of itself before failing -----------------------


def test_b_partly_committed_update_leaves_its_committed_part_and_the_rollback_succeeds(
    stack: Stack, old: Build, tmp_path: Path
) -> None:
    # GIVEN a build whose expand migration commits before a non-transactional one fails
    created = stack.cfn.create(old.props)
    sql = release(stack, tmp_path, f"{NEXT}__store_notes.sql", EXPAND, declared=EXPAND_DECLARED)
    after = f"V{LATEST + 2:03d}__notes_index.sql"
    postgres.add_migration(
        sql,
        after,
        "-- shoppulse:non-transactional\n"
        "CREATE INDEX CONCURRENTLY idx_notes_missing ON store_notes (no_such_column);\n",
    )
    partial = build(stack, sql)
    # WHEN the Update fails on the second migration
    failed = update(stack, created.physical_id, partial, old)
    assert_failed(failed, f"MigrationFailedError [42703]: migrations/{after}:2: ")
    committed = stack.snapshot()
    assert stack.history() == [*MIGRATIONS, NEXT, *SEEDS]
    # WHEN CloudFormation rolls back to the previous build
    rollback = update(stack, created.physical_id, old, partial)
    # THEN SUCCESS: the committed migration is future to the previous build, and is kept
    assert rollback.status == "SUCCESS", rollback.reason
    assert rollback.data["FutureVersions"] == NEXT
    assert stack.snapshot() == committed


def test_a_rollback_does_not_rerun_a_seed_the_newer_build_changed(
    stack: Stack, old: Build, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a newer build that added a migration and changed a seed, deployed over the stack
    created = stack.cfn.create(old.props)
    sql = release(stack, tmp_path, f"{NEXT}__store_notes.sql", EXPAND, declared=EXPAND_DECLARED)
    seed = sql / "seeds" / old_seed_name()
    seed.write_text(seed.read_text() + "\n-- reworded in the newer build\n")
    newer = build(stack, sql)
    assert update(stack, created.physical_id, newer, old).status == "SUCCESS"
    after_forward = stack.snapshot()
    caplog.clear()
    # WHEN CloudFormation rolls back to the previous build (whose seed file differs)
    rollback = update(stack, created.physical_id, old, newer)
    # THEN SUCCESS, the older seed is named and not run, and nothing changed
    assert rollback.status == "SUCCESS", rollback.reason
    assert f"seeds/{old_seed_name()} not applied: the database is ahead of this build" in [
        r.getMessage() for r in caplog.records
    ]
    assert stack.snapshot() == after_forward


def old_seed_name() -> str:
    """The last seed the repository ships."""
    return postgres.RELEASED.seeds[-1].name


def test_docs_lifecycle_table_names_the_tests_that_prove_it() -> None:
    # GIVEN docs/rollbacks.md, whose table names a test for every case
    text = (postgres.REPO / "docs" / "rollbacks.md").read_text()
    named = {n for n in re.findall(r"`(test_[a-z0-9_]+)", text)}
    here = {n for n in globals() if n.startswith("test_")}
    # THEN every test it names exists, and every case test here is in the docs
    assert named - here == set()
    assert {n for n in here if re.match(r"test_[a-h]_", n)} <= named
