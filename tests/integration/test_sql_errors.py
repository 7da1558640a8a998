"""Server errors as users read them: GIVEN a failing migration or seed, THEN the one-line error
keeps DETAIL, HINT and the useful CONTEXT, names the failing line of the file (inside DO blocks,
function bodies and COPY rows too), and the database is exactly as it was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import MigrationFailedError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.postgres import REPO, add_migration, database_url, query, snapshot

DOCS = (REPO / "docs" / "sql.md").read_text()
# The examples of docs/sql.md, exactly as these tests produce them.
DO_BLOCK_ERROR = (
    "migrations/V901__check_stock.sql:8: stock below zero for 3 items; hint: restock before "
    "migrating; in the DO block, its line 6; fix the file; nothing from this run was committed"
)
TRIGGER_ERROR = (
    "migrations/V901__guard.sql:7: negative price for B-2; in guard_price() (line 4 of its "
    "body, called by line 13); fix the file; nothing from this run was committed"
)
DUPLICATE_ERROR = (
    "migrations/V901__codes.sql:3: duplicate key value violates unique constraint "
    '"discount_codes_pkey" (Key (code)=(WINTER) already exists); fix the file; nothing from '
    "this run was committed"
)


def _fails(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> MigrationFailedError:
    before = snapshot(pg_server, target)
    with pytest.raises(MigrationFailedError) as failed:
        engine.apply(target, options, deadline)
    assert snapshot(pg_server, target) == before
    return failed.value


def test_duplicate_key_says_which_key(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    # GIVEN a migration inserting a row twice
    add_migration(
        sql_dir,
        "V901__codes.sql",
        "CREATE TABLE discount_codes (code text PRIMARY KEY);\n"
        "INSERT INTO discount_codes VALUES ('WINTER');\n"
        "INSERT INTO discount_codes VALUES ('WINTER');\n",
    )
    # WHEN applied THEN the error names line 3 and the key, and nothing changed
    error = _fails(pg_server, target, options, deadline)
    assert str(error) == DUPLICATE_ERROR
    assert DUPLICATE_ERROR in DOCS
    assert error.sqlstate == "23505"
    assert error.server_fields()["constraint"] == "discount_codes_pkey"
    assert error.server_fields()["detail"] == "Key (code)=(WINTER) already exists."


def test_runtime_error_in_a_do_block_names_the_failing_line_and_keeps_the_hint(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    # GIVEN a DO block that raises on its 6th line (file line 8)
    add_migration(
        sql_dir,
        "V901__check_stock.sql",
        "-- stock must never go below zero\n"
        "SELECT 1;\n"
        "DO $check$\n"
        "DECLARE\n"
        "    short int := 3;\n"
        "BEGIN\n"
        "    IF short > 0 THEN\n"
        "        RAISE EXCEPTION 'stock below zero for % items', short\n"
        "            USING HINT = 'restock before migrating';\n"
        "    END IF;\n"
        "END\n"
        "$check$;\n",
    )
    # WHEN applied THEN the file line is the RAISE, with the hint and where in the block
    message = str(_fails(pg_server, target, options, deadline))
    assert message == DO_BLOCK_ERROR
    assert DO_BLOCK_ERROR in DOCS


def test_error_in_a_statement_inside_a_do_block_points_at_that_statement(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    add_migration(
        sql_dir,
        "V901__ratio.sql",
        "DO $$ BEGIN\n  PERFORM 1;\n  PERFORM 1 / 0;\nEND $$;\n",
    )
    message = str(_fails(pg_server, target, options, deadline))
    assert message.startswith("migrations/V901__ratio.sql:3: division by zero")


def test_error_raised_by_a_trigger_function_of_the_file_names_its_body_line(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    # GIVEN a function replaced later in the file, and a statement that fires its trigger
    add_migration(
        sql_dir,
        "V901__guard.sql",
        "CREATE TABLE price_list (sku text, price numeric);\n"
        "CREATE FUNCTION guard_price() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN RETURN NEW; END $$;\n"
        "CREATE OR REPLACE FUNCTION guard_price() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    IF NEW.price < 0 THEN\n"
        "        RAISE EXCEPTION 'negative price for %', NEW.sku;\n"
        "    END IF;\n"
        "    RETURN NEW;\n"
        "END $$;\n"
        "CREATE TRIGGER price_guard BEFORE INSERT ON price_list\n"
        "    FOR EACH ROW EXECUTE FUNCTION guard_price();\n"
        "INSERT INTO price_list VALUES ('A-1', 3), ('B-2', -1);\n",
    )
    # WHEN applied THEN the error names the RAISE in the replacement, and the INSERT's line
    message = str(_fails(pg_server, target, options, deadline))
    assert message == TRIGGER_ERROR
    assert TRIGGER_ERROR in DOCS


def test_syntax_error_in_a_function_body_names_its_line(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    add_migration(
        sql_dir,
        "V901__typo.sql",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    RETURN 1;\n"
        "    RETRUN 2;\n"
        "END $$;\n",
    )
    message = str(_fails(pg_server, target, options, deadline))
    assert message.startswith('migrations/V901__typo.sql:4: syntax error at or near "RETRUN"')


def test_cli_json_carries_every_server_field(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    engine.apply(target, options, deadline)
    add_migration(
        sql_dir,
        "V901__codes.sql",
        "CREATE TABLE codes (code text PRIMARY KEY);\nINSERT INTO codes VALUES ('A'), ('A');\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "db_init", "apply", "--json", "--sql-dir", str(sql_dir)],
        capture_output=True,
        text=True,
        env={
            "PYTHONPATH": str(REPO / "lambda"),
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            "DATABASE_URL": database_url(target),
        },
        timeout=120,
        check=False,
    )
    error = json.loads(result.stdout)["error"]
    assert error["server"]["detail"] == "Key (code)=(A) already exists."
    assert error["server"]["table"] == "codes"
    assert "migrations/V901__codes.sql:2:" in error["message"]


SEED_ROWS = (
    "-- pg_dump style: COPY with its rows\n"
    "CREATE TABLE IF NOT EXISTS gift_cards (code text PRIMARY KEY, cents int NOT NULL);\n"
    "COPY gift_cards (code, cents) FROM stdin;\n"
    "GC-1\t500\n"
    "GC-2\t2500\n"
    "{last}\n"
    "\\.\n"
    "INSERT INTO gift_cards VALUES ('GC-9', 1);\n"
)


def test_copy_from_stdin_in_a_seed_loads_its_rows(
    target: ConnectionSettings, options: ApplyOptions, sql_dir: Path, deadline: Deadline
) -> None:
    (sql_dir / "seeds" / "S901__gift_cards.sql").write_text(SEED_ROWS.format(last="GC-3\t7"))
    result = engine.apply(target, options, deadline)
    assert "S901" in result.applied_versions
    assert query(target, "SELECT code, cents FROM gift_cards ORDER BY code") == [
        ("GC-1", 500),
        ("GC-2", 2500),
        ("GC-3", 7),
        ("GC-9", 1),
    ]


def test_bad_copy_row_names_its_file_line_and_nothing_is_loaded(
    pg_server: LocalServer,
    target: ConnectionSettings,
    options: ApplyOptions,
    sql_dir: Path,
    deadline: Deadline,
) -> None:
    engine.apply(target, options, deadline)
    (sql_dir / "seeds" / "S901__gift_cards.sql").write_text(SEED_ROWS.format(last="GC-3\tlots"))
    error = _fails(pg_server, target, options, deadline)
    message = str(error)
    assert message.startswith("seeds/S901__gift_cards.sql:6: invalid input syntax for type integer")
    assert "COPY row 3" in message
