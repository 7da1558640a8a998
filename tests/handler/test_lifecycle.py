"""Create, Update, rollback and Delete through the CloudFormation protocol, on a real database."""

from __future__ import annotations

from pathlib import Path

from db_init.scripts import sql_tree_checksum
from tests.cloudformation import MAX_BODY, Stack, assert_failed
from tests.postgres import MIGRATIONS, SEEDS

DATA_KEYS = {
    "SchemaVersion",
    "AppliedVersions",
    "TableCount",
    "TriggerCount",
    "Checksum",
    "DriftCount",
    "FutureVersions",
}
NEW_TABLE = """-- a new table; verification reports it as undeclared, which does not fail a run
CREATE TABLE store_notes (note_id bigint PRIMARY KEY, body text NOT NULL);
"""
BROKEN = """-- line 2 references a table that does not exist
ALTER TABLE no_such_table ADD COLUMN x int;
"""


def test_create_applies_schema_and_seeds_and_reports_them(stack: Stack) -> None:
    # GIVEN a database that does not exist yet
    assert stack.snapshot() == "<no database>"
    # WHEN CloudFormation creates the resource
    response = stack.cfn.create(stack.properties())
    # THEN SUCCESS with the attributes, and the schema + seeds are in the database
    assert response.status == "SUCCESS", response.reason
    target = stack.target
    assert response.physical_id == f"{target.database}@{target.host}:{target.port}"
    assert set(response.data) == DATA_KEYS
    assert response.data["SchemaVersion"] == MIGRATIONS[-1]
    assert response.data["AppliedVersions"] == ",".join(MIGRATIONS + SEEDS)
    assert response.data["Checksum"] == sql_tree_checksum(stack.sql_dir)
    assert int(response.data["TableCount"]) > 0
    assert int(response.data["TriggerCount"]) > 0
    assert len(response.body) <= MAX_BODY
    assert stack.history() == [*MIGRATIONS, *SEEDS]
    assert "public.tenants" in stack.tables()


def test_create_failing_verification_applies_nothing_and_its_delete_succeeds(
    stack: Stack,
) -> None:
    # GIVEN expectations that the migrations do not meet
    expected = stack.sql_dir / "expected_schema.toml"
    expected.write_text(
        expected.read_text() + '\n[tables.ghost.columns]\nid = "integer not null"\n'
    )
    # WHEN CloudFormation creates the resource
    response = stack.cfn.create(stack.properties())
    # THEN FAILED naming the expectations file, and no table or history was committed
    assert_failed(response, "VerificationFailedError: ")
    assert "expected_schema.toml" in response.reason
    assert "ghost" in response.reason
    assert stack.tables() == []
    # WHEN CloudFormation deletes the failed resource
    deleted = stack.cfn.delete(response.physical_id, stack.properties())
    # THEN SUCCESS at once, with the same id, and nothing changed
    assert deleted.status == "SUCCESS"
    assert deleted.physical_id == response.physical_id
    assert deleted.seconds < 2
    assert stack.tables() == []


def test_update_applies_a_new_migration_and_keeps_the_physical_id(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a created resource
    props = stack.properties()
    created = stack.cfn.create(props)
    # WHEN a new build adds V902 (new code, new SqlChecksum) and CloudFormation updates
    new_sql = stack.release(tmp_path, "V902__store_notes.sql", NEW_TABLE)
    new_props = stack.properties(new_sql)
    updated = stack.cfn.update(
        created.physical_id, new_props, props, handler=stack.resource_for(new_sql)
    )
    # THEN SUCCESS, same id, V902 applied exactly once
    assert updated.status == "SUCCESS", updated.reason
    assert updated.physical_id == created.physical_id
    assert updated.data["SchemaVersion"] == "V902"
    assert updated.data["AppliedVersions"] == ",".join([*MIGRATIONS, "V902", *SEEDS])
    assert updated.data["Checksum"] == new_props["SqlChecksum"]
    assert stack.history() == [*MIGRATIONS, "V902", *SEEDS]
    assert "public.store_notes" in stack.tables()


def test_failing_update_rolls_back_and_the_rollback_update_succeeds(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a created resource and the database as it stands
    props = stack.properties()
    created = stack.cfn.create(props)
    before = stack.snapshot()
    # WHEN a new build's V902 fails
    new_sql = stack.release(tmp_path, "V902__broken.sql", BROKEN)
    new_props = stack.properties(new_sql)
    failed = stack.cfn.update(
        created.physical_id, new_props, props, handler=stack.resource_for(new_sql)
    )
    # THEN FAILED with SQLSTATE, file and line, the old id, and the database untouched
    assert_failed(failed, "MigrationFailedError [42P01]: migrations/V902__broken.sql:2:")
    assert failed.physical_id == created.physical_id
    assert stack.snapshot() == before
    # WHEN CloudFormation rolls back: old code, old properties, the failed ones as "old"
    rolled_back = stack.cfn.update(created.physical_id, props, new_props)
    # THEN SUCCESS (nothing pending, verified), and still exactly the same database
    assert rolled_back.status == "SUCCESS", rolled_back.reason
    assert rolled_back.physical_id == created.physical_id
    assert rolled_back.data == created.data
    assert stack.snapshot() == before


def test_delete_never_drops_and_answers_at_once(stack: Stack) -> None:
    # GIVEN a created resource
    created = stack.cfn.create(stack.properties())
    before = stack.snapshot()
    # WHEN CloudFormation deletes it
    deleted = stack.cfn.delete(created.physical_id, stack.properties())
    # THEN SUCCESS within a second (no 120 s crhelper sleep) and the database is retained
    assert deleted.status == "SUCCESS"
    assert deleted.physical_id == created.physical_id
    assert deleted.seconds < 1
    assert stack.snapshot() == before


def test_delete_with_unknown_or_empty_id_succeeds_without_touching_anything(
    stack: Stack,
) -> None:
    # GIVEN nothing was ever created, and properties that would not even parse
    bad = stack.properties(ApplySeeds="maybe", Typo="x")
    # WHEN CloudFormation deletes an unknown id, and an empty one
    unknown = stack.cfn.delete("somedb@elsewhere:5432", bad)
    empty = stack.cfn.delete("", bad)
    # THEN both SUCCESS quickly with a non-empty id, and no database appeared
    assert (unknown.status, empty.status) == ("SUCCESS", "SUCCESS")
    assert unknown.physical_id == "somedb@elsewhere:5432"
    assert empty.physical_id == "Schema-not-created"
    assert max(unknown.seconds, empty.seconds) < 1
    assert stack.snapshot() == "<no database>"


def test_duplicate_delivery_applies_once_and_answers_the_same(stack: Stack) -> None:
    # GIVEN one Create event
    event = stack.cfn.event("Create", stack.properties())
    # WHEN it is delivered twice (a Lambda retry)
    first = stack.cfn.send(event)
    after_first = stack.snapshot()
    second = stack.cfn.send(event)
    # THEN both answer the same, and the second changed nothing
    assert first.status == second.status == "SUCCESS"
    assert first.document == second.document
    assert stack.snapshot() == after_first
    assert stack.history() == [*MIGRATIONS, *SEEDS]


def test_noop_update_applies_nothing_and_answers_the_same(stack: Stack) -> None:
    # GIVEN a created resource
    props = stack.properties()
    created = stack.cfn.create(props)
    # WHEN CloudFormation sends an Update with nothing pending
    updated = stack.cfn.update(created.physical_id, props, props)
    # THEN SUCCESS, same answer, and nothing applied (its speed is bench/noop_update.py's job)
    assert updated.status == "SUCCESS"
    assert updated.data == created.data
    assert stack.history() == [*MIGRATIONS, *SEEDS]
