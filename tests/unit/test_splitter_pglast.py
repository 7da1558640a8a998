"""The splitter against PostgreSQL's own parser (pglast): GIVEN SQL, THEN the same statements."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db_init.splitter import split_statements

pglast = pytest.importorskip("pglast")  # installed with the CLI requirements; never in the Lambda

CASES = Path(__file__).parent / "splitter_cases"


def _ours(text: str) -> list[str]:
    return [s.sql for s in split_statements(text, Path("generated.sql"))]


def _postgres(text: str) -> list[str]:
    return [piece.strip() for piece in pglast.split(text)]


# --- building blocks, each valid to PostgreSQL's grammar -------------------------------------
_LETTERS = "abcxyzé_ü"
_tag_name = st.text(alphabet=_LETTERS, min_size=1, max_size=3).flatmap(
    lambda head: st.text(alphabet=_LETTERS + "09", max_size=2).map(lambda tail: head + tail)
)
_tag = st.one_of(st.just("$$"), _tag_name.map(lambda t: f"${t}$"))
_chunk = st.text(alphabet="ab ;'\"$\\\n()-*/é", max_size=12)
_plain_string = _chunk.map(lambda s: "'" + s.replace("'", "''") + "'")
_escape_string = st.text(alphabet="ab ;'\"\\\n", max_size=10).map(
    lambda s: "E'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
)
_unicode_string = st.text(alphabet="ab ;'", max_size=8).map(
    lambda s: "U&'" + s.replace("'", "''") + "'"
)
_dollar_string = st.tuples(_tag, _chunk).map(lambda tc: tc[0] + tc[1].replace("$", "") + tc[0])
_quoted_name = st.text(alphabet="ab ;'\"$é", min_size=1, max_size=8).map(
    lambda s: '"' + s.replace('"', '""') + '"'
)
_name = st.one_of(
    st.sampled_from(["t", "orders", "x$$y", "é$1", "a$", "_z9"]),
    _quoted_name,
)
_literal = st.one_of(
    st.integers(0, 999).map(str), _plain_string, _escape_string, _unicode_string, _dollar_string
)
_comment = st.one_of(
    _chunk.map(lambda s: "--" + s.replace("\n", " ").replace("\r", " ") + "\n"),
    st.tuples(_chunk, _chunk).map(
        lambda ab: "/*" + _no_comment_edges(ab[0]) + "/*" + _no_comment_edges(ab[1]) + "*/*/"
    ),
)
_gap = st.one_of(st.just(" "), st.just("\n"), _comment.map(lambda c: f" {c} "))


def _no_comment_edges(text: str) -> str:
    return text.replace("/", "").replace("*", "")


@st.composite
def _statement(draw: st.DrawFn) -> str:
    gap = draw(_gap)
    kind = draw(st.integers(0, 5))
    if kind == 0:
        values = draw(st.lists(_literal, min_size=1, max_size=4))
        return f"SELECT{gap}{', '.join(values)} AS {draw(_name)}"
    if kind == 1:
        body = "; ".join(f"SELECT {v}" for v in draw(st.lists(_literal, min_size=1, max_size=3)))
        return (
            f"CREATE{gap}OR REPLACE FUNCTION {draw(_name)}() RETURNS int LANGUAGE sql "
            f"BEGIN ATOMIC {body}; SELECT CASE WHEN true THEN 1 ELSE 2 END; END"
        )
    if kind == 2:
        inner = "; ".join(
            f"INSERT INTO log VALUES ({v})" for v in draw(st.lists(_literal, max_size=3))
        )
        return f"CREATE RULE r AS ON INSERT TO {draw(_name)} DO ALSO ({inner}{gap}; NOTIFY c)"
    if kind == 3:
        tag = draw(_tag)
        body = draw(_chunk).replace("$", "")
        return f"DO {tag} BEGIN PERFORM 1; -- {body}\nEND {tag}"
    if kind == 4:
        return f"COMMENT ON TABLE {draw(_name)}{gap}IS {draw(_literal.filter(_is_string))}"
    return f"CREATE TABLE {draw(_name)} (a int DEFAULT {draw(_literal)}{gap}, b text)"


def _is_string(literal: str) -> bool:
    return not literal.isdigit()


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.tuples(_statement(), _gap), min_size=1, max_size=6))
def test_generated_sql_splits_exactly_as_postgres_parses_it(parts: list[tuple[str, str]]) -> None:
    # GIVEN statements of every lexical class, separated by `;` and comments
    text = "".join(f"{statement}{gap};{gap}" for statement, gap in parts)
    # WHEN both split it THEN the statements are the same, one for one
    assert _ours(text) == _postgres(text)


@pytest.mark.parametrize("path", sorted(CASES.glob("*.sql")), ids=lambda p: p.name)
def test_hand_written_real_world_files_split_as_postgres_parses_them(path: Path) -> None:
    # GIVEN files written the way projects write migrations (no psql-only input)
    text = path.read_text()
    # THEN the splitter agrees with PostgreSQL's parser on every statement
    ours, theirs = _ours(text), _postgres(text)
    assert len(ours) > 5
    assert ours == theirs
