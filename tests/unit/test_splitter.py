"""The statement splitter: GIVEN SQL of each lexical class, WHEN split, THEN psql's statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init.errors import ScriptError
from db_init.splitter import Statement, body_offset, split_statements


def _split(text: str) -> list[Statement]:
    return list(split_statements(text, Path("x.sql")))


def _sql(text: str) -> list[str]:
    return [s.sql for s in _split(text)]


def test_begin_atomic_body_is_one_statement_and_case_end_does_not_close_it() -> None:
    text = (
        "CREATE FUNCTION total(a int, b int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n"
        "  SELECT CASE WHEN a > b THEN a ELSE b END;\n"
        "  SELECT a + b;\n"
        "END;\n"
        "SELECT total(1, 2);\n"
    )
    statements = _split(text)
    assert [s.line for s in statements] == [1, 6]
    assert statements[0].sql.endswith("SELECT a + b;\nEND")
    assert statements[0].words[:2] == ("CREATE", "FUNCTION")


@pytest.mark.parametrize(
    "head",
    [
        "CREATE PROCEDURE p()",
        "create or replace procedure p()",
        "CREATE OR REPLACE FUNCTION f() RETURNS void",
    ],
)
def test_begin_atomic_in_every_routine_form(head: str) -> None:
    text = (
        f"{head} LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); DELETE FROM t; END; SELECT 1"
    )
    assert len(_sql(text)) == 2


def test_begin_outside_a_routine_still_ends_at_the_semicolon() -> None:
    # psql's rule applies to CREATE FUNCTION/PROCEDURE only; BEGIN here is transaction control
    assert _sql("BEGIN; SELECT 1; END;") == ["BEGIN", "SELECT 1", "END"]


def test_semicolons_inside_parentheses_do_not_split_a_rule() -> None:
    text = (
        "CREATE RULE log_insert AS ON INSERT TO orders DO ALSO (\n"
        "  INSERT INTO audit VALUES (NEW.id);\n"
        "  NOTIFY orders\n"
        ");\n"
        "SELECT 1;"
    )
    statements = _split(text)
    assert [s.line for s in statements] == [1, 5]
    assert statements[0].sql.endswith("NOTIFY orders\n)")


def test_a_stray_closing_parenthesis_is_ignored_as_psql_ignores_it() -> None:
    assert _sql("SELECT 1); SELECT 2;") == ["SELECT 1)", "SELECT 2"]
    # psql never counts below zero: `) (` leaves one parenthesis open, holding the `;`
    assert _sql("SELECT 1) (; SELECT 2); SELECT 3") == ["SELECT 1) (; SELECT 2)", "SELECT 3"]


@pytest.mark.parametrize("tag", ["$$", "$fn$", "$é$", "$_x9$", "$ÄÖ_1$"])
def test_every_dollar_quote_tag_postgres_accepts(tag: str) -> None:
    text = f"DO {tag} BEGIN PERFORM 1; END {tag};\nSELECT 2;"
    assert _sql(text) == [f"DO {tag} BEGIN PERFORM 1; END {tag}", "SELECT 2"]


def test_other_tags_inside_a_dollar_quote_do_not_close_it() -> None:
    text = "SELECT $a$ $b$ ; $ab$ ; $$ ; $a$; SELECT 2"
    assert _sql(text) == ["SELECT $a$ $b$ ; $ab$ ; $$ ; $a$", "SELECT 2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT x$$y FROM t; SELECT 2", ["SELECT x$$y FROM t", "SELECT 2"]),
        ("SELECT é$$ FROM t; SELECT 2", ["SELECT é$$ FROM t", "SELECT 2"]),
        ("SELECT a1$ FROM t; SELECT 2", ["SELECT a1$ FROM t", "SELECT 2"]),
        ("SELECT 1 AS$$; SELECT 2", ["SELECT 1 AS$$", "SELECT 2"]),
        ("PREPARE p AS SELECT $1; SELECT 2", ["PREPARE p AS SELECT $1", "SELECT 2"]),
        ("SELECT 1$$;$$; SELECT 2", ["SELECT 1$$;$$", "SELECT 2"]),
    ],
)
def test_dollar_inside_names_parameters_and_after_numbers(text: str, expected: list[str]) -> None:
    assert _sql(text) == expected


def test_a_leading_byte_order_mark_is_not_part_of_the_first_statement() -> None:
    statements = _split("\ufeffCREATE TABLE t (a int);\nSELECT 1;")
    assert statements[0].sql == "CREATE TABLE t (a int)"
    assert statements[0].words[0] == "CREATE"
    assert [s.line for s in statements] == [1, 2]


def test_escape_strings_take_backslashes_and_plain_strings_do_not() -> None:
    text = r"SELECT E'it\'s;', e'\\'; SELECT 'C:\'; SELECT xe'a;'; SELECT 4"
    assert _sql(text) == [r"SELECT E'it\'s;', e'\\'", r"SELECT 'C:\'", "SELECT xe'a;'", "SELECT 4"]


def test_unicode_escape_strings_and_names_end_at_their_quote() -> None:
    text = "SELECT U&'d\\0061t;' UESCAPE '!', U&\"n;\"\"x\" FROM t; SELECT 2"
    assert _sql(text) == ["SELECT U&'d\\0061t;' UESCAPE '!', U&\"n;\"\"x\" FROM t", "SELECT 2"]


def test_standard_conforming_strings_off_makes_backslash_escape_plain_strings() -> None:
    text = (
        "SET standard_conforming_strings = off;\n"
        "INSERT INTO t VALUES ('it\\'s; fine');\n"
        "SET standard_conforming_strings TO 'on';\n"
        "INSERT INTO t VALUES ('C:\\');\n"
    )
    assert _sql(text)[1:] == [
        "INSERT INTO t VALUES ('it\\'s; fine')",
        "SET standard_conforming_strings TO 'on'",
        "INSERT INTO t VALUES ('C:\\')",
    ]


def test_unicode_strings_never_take_backslash_escapes_as_in_psql() -> None:
    text = "SET standard_conforming_strings = off; SELECT U&' \\' UESCAPE '!'; SELECT a&'\\';'; RESET ALL"
    assert _sql(text)[1:3] == ["SELECT U&' \\' UESCAPE '!'", "SELECT a&'\\';'"]


def test_a_file_that_leaves_standard_conforming_strings_off_is_refused() -> None:
    with pytest.raises(ScriptError, match=r"x.sql:2: standard_conforming_strings stays off"):
        _split("SELECT 1;\nSET SESSION standard_conforming_strings = of;\nSELECT 2;")


def test_nested_block_comments_and_line_comments_hide_semicolons() -> None:
    text = "/* outer; /* inner; */ still; */ SELECT 1; -- no; split\nSELECT /* ; */ 2 --;\n;"
    statements = _split(text)
    assert [s.sql for s in statements] == ["SELECT 1", "SELECT /* ; */ 2 --;"]
    assert [s.line for s in statements] == [1, 2]


def test_quoted_names_hold_semicolons_and_count_as_names() -> None:
    statements = _split('CLUSTER "Orders"; SELECT "a;""b" FROM t;')
    assert [s.sql for s in statements] == ['CLUSTER "Orders"', 'SELECT "a;""b" FROM t']
    assert len(statements[0].words) == 2  # the quoted table is a name, not nothing


def test_copy_from_stdin_rows_travel_with_their_statement() -> None:
    text = (
        "SET client_encoding = 'UTF8';\n"
        "COPY public.tenants (id, name) FROM stdin;\n"
        "1\tAcme; Inc\n"
        "2\tO'Brien \\N\n"
        "\\.\n"
        "SELECT 3;\n"
    )
    statements = _split(text)
    copy = statements[1]
    assert copy.sql == "COPY public.tenants (id, name) FROM stdin"
    assert copy.copy_data == "1\tAcme; Inc\n2\tO'Brien \\N\n"
    assert copy.copy_line == 3
    assert [s.line for s in statements] == [1, 2, 6]
    assert statements[2].copy_data is None


def test_copy_rows_end_at_the_end_of_the_file_as_in_psql() -> None:
    statements = _split("COPY t FROM STDIN WITH (FORMAT csv);\n1,a\r\n2,b\r\n")
    assert statements[0].copy_data == "1,a\r\n2,b\r\n"


def test_copy_to_a_file_or_program_has_no_rows() -> None:
    statements = _split("COPY t FROM '/tmp/x';\nSELECT 1;")
    assert statements[0].copy_data is None and len(statements) == 2


def test_text_after_copy_on_its_line_is_refused() -> None:
    with pytest.raises(ScriptError, match=r"x.sql:1: text after `COPY ... FROM stdin;`"):
        _split("COPY t FROM stdin; SELECT 1;\n1\n\\.\n")


@pytest.mark.parametrize(
    ("text", "line", "command", "advice"),
    [
        ("SELECT 1;\n\\set tenant 42\n", 2, "\\set", "psql variables do not exist here"),
        ("SELECT now() \\gset\n", 1, "\\gset", "compute the value in the SQL"),
        ("\\i other.sql\n", 1, "\\i", "put the included statements"),
        ("\n\n\\connect shop\n", 3, "\\connect", "runs in the target database"),
        ("\\copy t from 'x.csv'\n", 1, "\\copy", "COPY ... FROM stdin"),
        ("SELECT 1 \\; SELECT 2;\n", 1, "\\", "remove it or write it as SQL"),
    ],
)
def test_psql_meta_commands_are_refused_with_line_and_what_to_do(
    text: str, line: int, command: str, advice: str
) -> None:
    with pytest.raises(ScriptError) as refused:
        _split(text)
    message = str(refused.value)
    assert message.startswith(f"x.sql:{line}: `{command}` is a psql meta-command")
    assert advice in message


def test_backslashes_inside_literals_and_comments_are_not_meta_commands() -> None:
    text = "SELECT E'\\n', '\\set' -- \\set\n; /* \\i x */ SELECT $$\\gset$$;"
    assert len(_sql(text)) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1;\nSELECT 'abc", r"x.sql:2: unterminated ' quote"),
        ('SELECT "abc', r'x.sql:1: unterminated " quote'),
        ("\nSELECT $é$ abc", r"x.sql:2: unterminated \$é\$ quote"),
        ("SELECT 1; /* a /* b */", r"x.sql:1: unterminated /\* comment"),
        ("SELECT E'\\'", r"x.sql:1: unterminated ' quote"),
    ],
)
def test_unterminated_literals_are_refused_with_their_line(text: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        _split(text)


def test_lines_are_exact_across_crlf_and_long_files() -> None:
    text = "".join(f"SELECT {n};\r\n\r\n" for n in range(2000))
    statements = _split(text)
    assert [s.line for s in statements[-3:]] == [3995, 3997, 3999]


def test_body_offset_finds_the_code_of_do_blocks_and_routines() -> None:
    do = "DO LANGUAGE plpgsql $x$\nBEGIN\nEND $x$"
    assert do[body_offset(do) or 0 :].startswith("\nBEGIN")
    function = "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql"
    assert function[body_offset(function) or 0 :].startswith("SELECT 1'")
    assert body_offset("SELECT 'AS'") is None
