"""Loading migration files: GIVEN a file, WHEN loaded, THEN its statements or a refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init import scripts, transaction_rules
from db_init.errors import NonTransactionalStatementError, ScriptError
from db_init.scripts import Kind


def _split(text: str) -> list[scripts.Statement]:
    return list(scripts.split_statements(text, Path("x.sql")))


def _write(directory: Path, name: str, body: str) -> Path:
    (directory / "migrations").mkdir(parents=True, exist_ok=True)
    path = directory / "migrations" / name
    path.write_text(body)
    return path


def test_split_honours_quotes_comments_and_dollar_bodies() -> None:
    text = (
        "-- header; not a statement\n"
        "CREATE TABLE a (x text DEFAULT 'a;b''c');\n"
        "/* block; /* nested; */ still comment */\n"
        "CREATE FUNCTION f() RETURNS trigger AS $fn$ BEGIN x := 1; RETURN NEW; END $fn$ "
        "LANGUAGE plpgsql;\n"
        "SELECT \"we;ird\" FROM a; SELECT E'it\\'s;'\n"
    )
    statements = _split(text)
    assert [s.line for s in statements] == [2, 4, 5, 5]
    assert statements[0].sql == "CREATE TABLE a (x text DEFAULT 'a;b''c')"
    assert "RETURN NEW; END $fn$" in statements[1].sql
    assert statements[3].sql == "SELECT E'it\\'s;'"
    assert statements[1].words[:3] == ("CREATE", "FUNCTION", "F")
    assert "BEGIN" not in statements[1].words  # dollar-quoted body is masked


def test_split_reports_unterminated_quote_with_line() -> None:
    with pytest.raises(ScriptError, match=r"x.sql:2: unterminated \$\$ quote"):
        _split("SELECT 1;\nDO $$ BEGIN")


def test_line_of_maps_server_position_to_file_line() -> None:
    statement = _split("\n\nCREATE TABLE t (\n  a int,\n  b nonsense\n);")[0]
    script = scripts.Script(Kind.MIGRATION, 1, "t", Path("V001__t.sql"), "0", True, (statement,))
    position = statement.sql.index("nonsense") + 1
    assert script.line_of(statement, position) == 5
    assert script.line_of(statement, None) == 3


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX CONCURRENTLY i ON t (a)",
        "create unique index concurrently i on t (a)",
        "DROP INDEX CONCURRENTLY i",
        "REINDEX INDEX CONCURRENTLY i",
        "VACUUM t",
        "CREATE DATABASE x",
        "ALTER SYSTEM SET work_mem = '8MB'",
        "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
    ],
)
def test_statements_that_cannot_run_in_a_transaction_are_detected(sql: str) -> None:
    assert transaction_rules.needs_autocommit(_split(sql)[0])


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX i ON t (a)",
        "COMMENT ON TABLE t IS 'VACUUM nightly; CREATE INDEX CONCURRENTLY later'",
        "CREATE TABLE concurrently_log (a int)",
    ],
)
def test_ordinary_statements_are_transactional(sql: str) -> None:
    assert not transaction_rules.needs_autocommit(_split(sql)[0])


def test_unmarked_file_with_concurrent_index_is_refused_with_how_to_mark(tmp_path: Path) -> None:
    _write(
        tmp_path, "V001__a.sql", "CREATE TABLE t (a int);\n\nCREATE INDEX CONCURRENTLY i ON t (a);"
    )
    with pytest.raises(NonTransactionalStatementError) as raised:
        scripts.load(tmp_path)
    assert "V001__a.sql:3" in str(raised.value)
    assert "-- shoppulse:non-transactional" in str(raised.value)


def test_marked_file_must_hold_one_statement(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "V001__a.sql",
        "-- shoppulse:non-transactional\nCREATE INDEX CONCURRENTLY i ON t (a);\nSELECT 1;",
    )
    with pytest.raises(ScriptError, match="exactly one statement"):
        scripts.load(tmp_path)


def test_marked_file_loads_as_non_transactional(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "V002__i.sql",
        "-- shoppulse:non-transactional\nCREATE INDEX CONCURRENTLY i ON t (a);",
    )
    (migration,) = scripts.load(tmp_path).migrations
    assert not migration.transactional
    assert migration.label == "V002"


@pytest.mark.parametrize(
    "name", ["V1_bad.sql", "v001__lower.sql", "V001__has space.sql", "001.sql"]
)
def test_misnamed_file_is_refused(tmp_path: Path, name: str) -> None:
    _write(tmp_path, name, "SELECT 1;")
    with pytest.raises(ScriptError, match="file name must look like"):
        scripts.load(tmp_path)


def test_duplicate_version_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "V001__a.sql", "SELECT 1;")
    _write(tmp_path, "V1__b.sql", "SELECT 1;")
    with pytest.raises(ScriptError, match="version 1 also used"):
        scripts.load(tmp_path)


@pytest.mark.parametrize("control", ["BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION"])
def test_transaction_control_in_a_migration_is_refused(tmp_path: Path, control: str) -> None:
    _write(tmp_path, "V001__a.sql", f"SELECT 1;\n{control};")
    with pytest.raises(
        ScriptError, match=rf"V001__a.sql:2: {control.split(maxsplit=1)[0]} is not allowed"
    ):
        scripts.load(tmp_path)


def test_versions_sort_numerically_and_checksums_follow_bytes(tmp_path: Path) -> None:
    _write(tmp_path, "V010__ten.sql", "SELECT 10;")
    _write(tmp_path, "V002__two.sql", "SELECT 2;")
    before = scripts.load(tmp_path)
    assert [m.version for m in before.migrations] == [2, 10]
    _write(tmp_path, "V002__two.sql", "SELECT 2; ")
    after = scripts.load(tmp_path)
    assert after.migrations[0].checksum != before.migrations[0].checksum
    assert after.checksum != before.checksum
    assert after.migrations[1].checksum == before.migrations[1].checksum


def test_repository_sql_loads() -> None:
    loaded = scripts.load(Path(__file__).resolve().parents[2] / "sql")
    assert loaded.migrations[0].name == "V001__initial_schema.sql"
    assert [s.label for s in loaded.seeds] == ["S001", "S002"]


def test_empty_statements_and_dollar_signs_outside_quotes_are_handled() -> None:
    statements = _split(";;\nPREPARE p AS SELECT $1;\nSELECT a$b FROM t;  -- trailing; comment\n")
    assert [s.sql for s in statements] == ["PREPARE p AS SELECT $1", "SELECT a$b FROM t"]
    assert [s.line for s in statements] == [2, 3]


def test_tree_checksum_ignores_bytecode_caches(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "V001__a.sql").write_bytes(b"a")
    before = scripts.sql_tree_checksum(tmp_path)
    (tmp_path / "migrations" / "__pycache__").mkdir()
    (tmp_path / "migrations" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    assert scripts.sql_tree_checksum(tmp_path) == before


def test_comment_only_migration_is_accepted_with_no_statements(tmp_path: Path) -> None:
    # GIVEN a history step that only explains (long-lived projects keep such files)
    _write(tmp_path, "V001__a.sql", "SELECT 1;")
    _write(tmp_path, "V002__note.sql", "-- superseded by V003; kept so the history stays whole\n")
    _write(tmp_path, "V003__empty.sql", "")
    # WHEN loaded THEN each is a migration with nothing to run
    loaded = scripts.load(tmp_path)
    assert [(m.label, len(m.statements)) for m in loaded.migrations] == [
        ("V001", 1),
        ("V002", 0),
        ("V003", 0),
    ]


def test_byte_order_mark_does_not_hide_the_marker(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "V001__i.sql",
        "\ufeff-- shoppulse:non-transactional\nCREATE INDEX CONCURRENTLY i ON t (a);",
    )
    (migration,) = scripts.load(tmp_path).migrations
    assert not migration.transactional
    assert migration.statements[0].line == 2
    assert not migration.text.startswith("\ufeff")


def test_copy_rows_in_a_migration_are_refused_with_where_they_belong(tmp_path: Path) -> None:
    _write(tmp_path, "V001__a.sql", "CREATE TABLE t (a int);\nCOPY t FROM stdin;\n1\n\\.\n")
    with pytest.raises(
        ScriptError, match=r"V001__a.sql:2: COPY ... FROM stdin rows are read only in seed files"
    ):
        scripts.load(tmp_path)


def test_prepare_transaction_is_refused_as_transaction_control(tmp_path: Path) -> None:
    _write(tmp_path, "V001__a.sql", "SELECT 1;\nPREPARE TRANSACTION 'x';")
    with pytest.raises(ScriptError, match=r"V001__a.sql:2: PREPARE TRANSACTION is not allowed"):
        scripts.load(tmp_path)


def test_psql_meta_command_in_a_migration_is_refused_at_load(tmp_path: Path) -> None:
    _write(tmp_path, "V001__a.sql", "CREATE TABLE t (a int);\n\\set ON_ERROR_STOP on\n")
    with pytest.raises(ScriptError, match=r"V001__a.sql:2: `\\set` is a psql meta-command"):
        scripts.load(tmp_path)


def test_begin_atomic_function_is_not_mistaken_for_transaction_control(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "V001__f.sql",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\nEND;\n",
    )
    (migration,) = scripts.load(tmp_path).migrations
    assert len(migration.statements) == 1


def test_files_adding_enum_values_are_known_before_running(tmp_path: Path) -> None:
    _write(tmp_path, "V001__a.sql", "ALTER TYPE \"Speed\" ADD VALUE 'x' BEFORE 'y';")
    _write(tmp_path, "V002__b.sql", "ALTER TYPE t ADD ATTRIBUTE value int;")
    first, second = scripts.load(tmp_path).migrations
    assert first.adds_enum_values and not second.adds_enum_values


def test_the_documented_meta_command_refusal_is_what_loading_says(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "sql.md").read_text()
    _write(tmp_path / "sql", "V001__a.sql", "CREATE TABLE t (a int);\n\\set tenant 42\n")
    with pytest.raises(ScriptError) as refused:
        scripts.load(tmp_path / "sql")
    shown = str(refused.value).replace(str(tmp_path) + "/", "")
    assert shown.startswith("sql/migrations/V001__a.sql:2: `\\set` is a psql meta-command")
    assert shown in docs
