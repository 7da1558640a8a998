"""Point 2: messages say what happened: partial commits, INVALID indexes, hand-built databases."""

from __future__ import annotations

from pathlib import Path

from db_init.embedded import LocalServer
from db_init.settings import ConnectionSettings
from tests.postgres import MIGRATIONS, RELEASED, add_migration, query, snapshot
from tests.shoppulse_cli import last_line, make_project, run, url_env

EXIT_FAILED = 1

DUPLICATES = """CREATE TABLE loyalty_cards (card_no int NOT NULL);
INSERT INTO loyalty_cards VALUES (1), (2), (2);
"""
UNIQUE_CONCURRENTLY = """-- shoppulse:non-transactional
CREATE UNIQUE INDEX CONCURRENTLY loyalty_cards_card_no ON loyalty_cards (card_no);
"""


def _history(target: ConnectionSettings) -> list[int]:
    rows = query(
        target,
        "SELECT version FROM shoppulse_meta.schema_history WHERE kind = 'migration' ORDER BY 1",
    )
    return [version for (version,) in rows]


def test_failed_unique_index_after_a_committed_migration_tells_the_truth_and_cleans_up(
    target: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN the released schema applied, then a transactional V902 that loads duplicate card
    # numbers and a non-transactional V903 building a unique index CONCURRENTLY over them
    project = make_project(tmp_path / "shop")
    env = url_env(target)
    assert run("apply", cwd=project, env=env).returncode == 0
    add_migration(project / "sql", "V902__loyalty_cards.sql", DUPLICATES)
    add_migration(project / "sql", "V903__loyalty_cards_unique.sql", UNIQUE_CONCURRENTLY)
    # WHEN apply runs
    failed = run("apply", cwd=project, env=env)
    # THEN exit 1 and the line names what stays committed (V902) and what was not applied (V903)
    assert failed.returncode == EXIT_FAILED
    line = last_line(failed.stderr)
    assert line.startswith(
        "failed: MigrationFailedError [23505]: migrations/V903__loyalty_cards_unique.sql:2: "
        'could not create unique index "loyalty_cards_card_no"'
    )
    assert "committed by this run and kept: V902; not applied: V903" in line
    assert "nothing from this run was committed" not in line
    # AND the INVALID index the failed build left was dropped, as the line says
    assert "dropped the INVALID index public.loyalty_cards_card_no it left" in line
    assert query(target, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == [(0,)]
    assert _history(target) == [m.version for m in RELEASED.migrations] + [902]
    # WHEN the data is fixed and apply runs again
    query(target, "DELETE FROM loyalty_cards WHERE ctid = (SELECT max(ctid) FROM loyalty_cards)")
    retry = run("apply", cwd=project, env=env)
    # THEN V903 applies (no "already exists")
    assert retry.returncode == 0, retry.stderr
    assert "applied 1 script(s): V903" in retry.stdout
    assert _history(target)[-1] == 903


def test_a_database_built_by_hand_is_recognised_and_baseline_suggested(
    pg_server: LocalServer, target: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN a database built with the spec's script (V001 run by hand, no history)
    project = make_project(tmp_path / "shop")
    env = url_env(target)
    query(target.with_database("postgres"), f"CREATE DATABASE {target.database}")
    for statement in RELEASED.migrations[0].statements:  # the file's statements, in order
        query(target, statement.sql)
    before = snapshot(pg_server, target)
    # WHEN apply runs
    result = run("apply", cwd=project, env=env)
    # THEN exit 1, the line says it was built without the tool and names `baseline`
    assert result.returncode == EXIT_FAILED
    line = last_line(result.stderr)
    assert "already exists" in line and "fix the file" not in line
    assert "built without the tool" in line
    assert f"`shoppulse-db baseline --version {MIGRATIONS[0]}`" in line
    # AND the database is exactly as it was
    assert snapshot(pg_server, target) == before


def test_read_only_commands_never_speak_of_commits(
    target: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN a database with the released schema, and a new migration not applied yet
    project = make_project(tmp_path / "shop")
    env = url_env(target)
    assert run("apply", cwd=project, env=env).returncode == 0
    add_migration(project / "sql", "V902__note.sql", "ALTER TABLE tenants ADD COLUMN note text;\n")
    # WHEN verify runs (it fails: V902 is not applied)
    result = run("verify", cwd=project, env=env)
    # THEN the line says what is wrong and that nothing was changed, never "committed"
    assert result.returncode == EXIT_FAILED
    line = last_line(result.stderr)
    assert line.startswith("failed: VerificationFailedError: schema does not match")
    assert "V902__note.sql not applied" in line
    assert "committed" not in line and "nothing was changed" in line
