"""The lint: markers, the run context, positions, version awareness, and its edge cases.

Every rule's own flagged and passing examples are in docs/lint.md (tests/unit/test_lint_docs.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init import lint
from db_init.errors import LintError
from db_init.lint_config import LintSettings
from tests.postgres import SQL_DIR

# Existing tables and objects the linted migrations (V002 and later) work on.
BASE = """CREATE TABLE tenants (tenant_id varchar(10) PRIMARY KEY);
CREATE TABLE orders (
    order_id  integer PRIMARY KEY,
    tenant_id varchar(10),
    status    varchar(20),
    note      varchar(50),
    total     numeric(10,2),
    placed_at timestamp
);
CREATE TYPE mood AS ENUM ('ok');
CREATE SCHEMA archive;
"""


def _write(directory: Path, bodies: list[str], *, base: str = BASE) -> list[Path]:
    directory.mkdir(exist_ok=True)
    paths = []
    for number, body in enumerate([base, *bodies], start=1):
        path = directory / f"V{number:03d}__step.sql"
        path.write_text(body)
        paths.append(path)
    return paths


def _rules(
    directory: Path, bodies: list[str], *, settings: LintSettings | None = None
) -> list[str]:
    _write(directory, bodies)
    reports = lint.lint_paths([directory], settings=settings)
    return [f.rule for report in reports for f in report.errors]


def test_repository_migrations_lint_clean() -> None:
    """`make test` lints sql/: no finding without an allow marker, and every marker is used."""
    reports = lint.lint_paths([SQL_DIR / "migrations"])
    assert reports, "no migration was linted"
    assert [str(f) for r in reports for f in r.errors] == []
    allowed = {(r.path.name, f.rule) for r in reports for f in r.findings if f.allowed_by}
    markers = {(r.path.name, a.rule) for r in reports for a in r.allowances}
    assert markers == allowed, "an allow marker that allows nothing should be removed"


def test_finding_reads_file_line_column_rule_message_and_the_safe_way(tmp_path: Path) -> None:
    first, second = _write(tmp_path, ["-- tidy up\n\nALTER TABLE orders\n  DROP COLUMN note;\n"])

    [report] = [r for r in lint.lint_paths([first, second]) if r.path == second]

    assert [str(f) for f in report.errors] == [
        f"{second}:3:1 drop-column ALTER TABLE orders DROP COLUMN note: drops a column and its "
        "data; running code that selects it breaks -> stop using the column in one release, "
        "then drop it in a later migration"
    ]


def test_column_is_where_the_statement_starts(tmp_path: Path) -> None:
    _write(tmp_path, ["SELECT 1;   TRUNCATE orders;\n"])

    [finding] = lint.lint_paths([tmp_path])[-1].errors

    assert (finding.line, finding.column, finding.rule) == (1, 13, "truncate")


# -- markers --------------------------------------------------------------------------------


def test_marker_covers_only_the_statement_that_follows_it(tmp_path: Path) -> None:
    # GIVEN a marker above the first of two column drops
    _write(
        tmp_path,
        [
            "SELECT 1;\n"
            "-- allow: drop-column reason: note unused since release 4.2\n"
            "ALTER TABLE orders DROP COLUMN note;\n"
            "ALTER TABLE orders DROP COLUMN status;\n"
        ],
    )
    # WHEN the file is linted
    report = lint.lint_paths([tmp_path])[-1]
    # THEN the first drop is allowed and the second is still a finding
    assert [(f.rule, f.line, f.allowed_by) for f in report.allowed] == [
        ("drop-column", 3, "note unused since release 4.2")
    ]
    assert [(f.rule, f.line) for f in report.errors] == [("drop-column", 4)]


def test_stacked_markers_and_comments_between_cover_the_next_statement(tmp_path: Path) -> None:
    _write(
        tmp_path,
        [
            "SELECT 1;\n"
            "-- allow: drop-column reason: unused since 4.2\n"
            "-- allow: truncate reason: scratch rows only\n"
            "-- (two changes in one statement)\n"
            "ALTER TABLE orders DROP COLUMN note;\n"
            "TRUNCATE orders;\n"
        ],
    )

    report = lint.lint_paths([tmp_path])[-1]

    assert [f.rule for f in report.allowed] == ["drop-column"]
    assert [f.rule for f in report.errors] == ["truncate"]


def test_marker_for_another_rule_allows_nothing(tmp_path: Path) -> None:
    _write(
        tmp_path,
        ["-- allow: truncate reason: scratch rows\nALTER TABLE orders DROP COLUMN note;\n"],
    )

    assert [f.rule for f in lint.lint_paths([tmp_path])[-1].errors] == ["drop-column"]


def test_header_marker_before_a_blank_line_covers_the_whole_file(tmp_path: Path) -> None:
    # GIVEN the released form: a marker in the header comments, a blank line, then statements
    _write(
        tmp_path,
        [
            "-- V002: constraints shipped before any data existed\n"
            "-- allow: add-unique reason: released with V001; no environment holds rows yet\n"
            "\n"
            "ALTER TABLE orders ADD CONSTRAINT a UNIQUE (note);\n"
            "ALTER TABLE orders ADD CONSTRAINT b UNIQUE (status);\n"
        ],
    )

    report = lint.lint_paths([tmp_path])[-1]

    assert [f.line for f in report.allowed] == [4, 5]
    assert report.errors == ()


@pytest.mark.parametrize(
    "marker",
    ["-- allow: drop-column", "-- allow: drop-column reason:   ", "-- allow:"],
)
def test_marker_without_reason_is_itself_an_error_and_allows_nothing(
    marker: str, tmp_path: Path
) -> None:
    _write(tmp_path, [f"{marker}\nALTER TABLE orders DROP COLUMN note;\n"])

    report = lint.lint_paths([tmp_path])[-1]

    assert sorted((f.rule, f.line) for f in report.errors) == [
        ("allow-without-reason", 1),
        ("drop-column", 2),
    ]


def test_marker_naming_an_unknown_rule_is_an_error_with_a_did_you_mean(tmp_path: Path) -> None:
    _write(
        tmp_path,
        [
            "-- allow: drop-colum reason: typo\n"
            "-- allow: xyzzy reason: nothing like it\n"
            "-- allow: non-transactional reason: mark the file instead\n"
            "SELECT 1;\n"
        ],
    )

    report = lint.lint_paths([tmp_path])[-1]

    assert [(f.rule, f.line, f.message) for f in report.errors] == [
        ("unknown-rule", 1, "`drop-colum` is no lint rule; did you mean 'drop-column'?"),
        ("unknown-rule", 2, "`xyzzy` is no lint rule"),
        ("unknown-rule", 3, "`non-transactional` cannot be allowed by a marker"),
    ]


def test_marker_text_inside_a_function_body_is_not_a_marker(tmp_path: Path) -> None:
    # GIVEN marker-looking text that the SQL parser knows is part of a string, not a comment
    _write(
        tmp_path,
        [
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n"
            "-- allow: drop-column reason: not a real marker\n"
            "SELECT 1 $$;\n"
            "ALTER TABLE orders DROP COLUMN note;\n"
        ],
    )

    report = lint.lint_paths([tmp_path])[-1]

    assert [f.rule for f in report.errors] == ["drop-column"]
    assert report.allowances == ()


def test_allowances_without_the_parser_read_whole_line_markers() -> None:
    text = (
        "-- allow: drop-column reason: unused since 4.2\n"
        "ALTER TABLE orders DROP COLUMN note; -- allow: truncate reason: trailing, ignored\n"
        "  --   allow: rename-table reason: views keep the old name\n"
        "-- allow: truncate\n"
    )

    assert lint.allowances(text) == [
        lint.Allowance("drop-column", "unused since 4.2", 1),
        lint.Allowance("rename-table", "views keep the old name", 3),
    ]


# -- the run context ------------------------------------------------------------------------

FIRST_DEPLOY = [
    "CREATE TABLE jobs (id bigint PRIMARY KEY, queue text, state text);",
    "CREATE INDEX jobs_queue ON jobs (queue);\n"
    "ALTER TABLE jobs ADD COLUMN run_at timestamptz NOT NULL;\n"
    "ALTER TABLE jobs RENAME COLUMN state TO status;",
]


def test_without_a_database_a_table_from_an_earlier_file_is_existing(tmp_path: Path) -> None:
    # GIVEN no database: every earlier file is taken as applied, its tables as holding rows
    assert _rules(tmp_path, FIRST_DEPLOY) == [
        "create-index",
        "add-column-not-null",
        "rename-column",
    ]


def test_tables_of_migrations_pending_in_the_same_run_are_new(tmp_path: Path) -> None:
    # GIVEN an empty database: every migration is pending in this run
    paths = _write(tmp_path, FIRST_DEPLOY)
    context = lint.RunContext(pending=frozenset(p.name for p in paths))
    # WHEN linted in that context THEN nothing on the new table is "on an existing table"
    assert [f for r in lint.lint_paths([tmp_path], context=context) for f in r.errors] == []


RENAMED_IN_RUN = [
    "CREATE TABLE customers (id bigint PRIMARY KEY, created timestamptz);\n"
    "CREATE INDEX customers_created ON customers (created);",
    "ALTER TABLE customers RENAME TO accounts;\n"
    "ALTER INDEX customers_created RENAME TO accounts_created;",
    "DROP INDEX accounts_created;",
]


def test_a_new_table_or_index_renamed_in_the_same_run_stays_new(tmp_path: Path) -> None:
    # GIVEN an empty database: a table and its index are created, renamed, then the index dropped
    paths = _write(tmp_path, RENAMED_IN_RUN)
    # WHEN every file is pending THEN the renamed index is still new: dropping it is no finding
    context = lint.RunContext(pending=frozenset(p.name for p in paths))
    assert [f for r in lint.lint_paths([tmp_path], context=context) for f in r.errors] == []
    # AND without a database the same drop is flagged (so the check above can fail)
    assert _rules(tmp_path, RENAMED_IN_RUN) == ["rename-table", "drop-index"]


def test_tables_of_applied_migrations_stay_existing_against_a_database(tmp_path: Path) -> None:
    # GIVEN a database where V001 and V002 are applied and V003 is pending
    paths = _write(tmp_path, FIRST_DEPLOY)
    context = lint.RunContext(pending=frozenset({paths[2].name}))

    reports = lint.lint_paths([tmp_path], context=context)

    assert [r.pending for r in reports] == [False, False, True]
    assert [f.rule for f in reports[2].errors] == [
        "create-index",
        "add-column-not-null",
        "rename-column",
    ]


def test_the_context_describes_its_assumption() -> None:
    assert "no database given" in lint.RunContext().describe()
    assert "--against" in lint.RunContext().describe()
    assert "2 pending" in lint.RunContext(pending=frozenset({"a", "b"})).describe()


# -- verdicts that depend on the state, the version, the file --------------------------------


@pytest.mark.parametrize(
    ("change", "rewrites"),
    [
        ("note TYPE varchar(10)", True),  # narrowing checks every row
        ("note TYPE varchar", False),
        ("status TYPE text", False),
        ("total TYPE numeric(10,3)", True),  # a new scale rewrites
        ("total TYPE numeric", False),
        ("placed_at TYPE timestamp(3)", True),  # from unlimited precision: rounds every row
        ("placed_at TYPE timestamptz", True),
        ("note TYPE varchar(100) USING note || ''", True),
        ("unknown_col TYPE text", True),  # no known old type: assume the worst
    ],
)
def test_type_change_is_flagged_only_when_it_rewrites(
    change: str, rewrites: bool, tmp_path: Path
) -> None:
    fired = _rules(tmp_path, [f"ALTER TABLE orders ALTER COLUMN {change};"])
    assert fired == (["alter-column-type"] if rewrites else [])


def test_set_not_null_after_a_valid_check_added_in_one_statement_passes(tmp_path: Path) -> None:
    assert (
        _rules(
            tmp_path,
            [
                "ALTER TABLE orders ADD CONSTRAINT nn CHECK (status IS NOT NULL) NOT VALID;",
                "ALTER TABLE orders VALIDATE CONSTRAINT nn;\n"
                "ALTER TABLE orders ALTER COLUMN status SET NOT NULL;",
            ],
        )
        == []
    )


def test_set_not_null_on_another_column_than_the_check_is_flagged(tmp_path: Path) -> None:
    assert _rules(
        tmp_path,
        [
            "ALTER TABLE orders ADD CONSTRAINT nn CHECK (status IS NOT NULL) NOT VALID;",
            "ALTER TABLE orders VALIDATE CONSTRAINT nn;\n"
            "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;",
        ],
    ) == ["set-not-null"]


def test_a_view_under_another_name_does_not_excuse_a_rename(tmp_path: Path) -> None:
    fired = _rules(
        tmp_path,
        ["ALTER TABLE orders RENAME TO purchases;\nCREATE VIEW o AS SELECT * FROM purchases;"],
    )
    assert fired == ["rename-table"]


@pytest.mark.parametrize(
    ("column", "rule"),
    [
        ("token text DEFAULT md5(random()::text)", "add-column-volatile-default"),
        ("at timestamptz DEFAULT clock_timestamp()", "add-column-volatile-default"),
        ("n int DEFAULT my_counter()", "add-column-volatile-default"),  # user functions: volatile
        ("at timestamptz DEFAULT CURRENT_TIMESTAMP", None),
        ("flag boolean NOT NULL DEFAULT false", None),
        ("id int GENERATED ALWAYS AS IDENTITY", "add-column-serial"),
        ("id bigint PRIMARY KEY", "add-column-unique"),
    ],
)
def test_add_column_defaults_and_kinds(column: str, rule: str | None, tmp_path: Path) -> None:
    fired = _rules(tmp_path, [f"ALTER TABLE orders ADD COLUMN {column};"])
    assert fired == ([rule] if rule else [])


def test_a_constant_default_rewrites_before_postgresql_11_only(tmp_path: Path) -> None:
    change = ["ALTER TABLE orders ADD COLUMN channel text DEFAULT 'web';"]
    assert _rules(tmp_path, change, settings=LintSettings(pg_version=10)) == [
        "add-column-volatile-default"
    ]
    assert _rules(tmp_path, change, settings=LintSettings(pg_version=11)) == []


def test_disabled_rules_are_not_reported(tmp_path: Path) -> None:
    change = ["ALTER TABLE orders ADD COLUMN attributes json;\nTRUNCATE orders;"]
    settings = LintSettings(disabled=frozenset({"add-column-json"}))
    assert _rules(tmp_path, change, settings=settings) == ["truncate"]


def test_objects_created_in_the_same_file_are_new(tmp_path: Path) -> None:
    assert (
        _rules(
            tmp_path,
            [
                "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nDROP INDEX t_a;\n"
                "CREATE TYPE size AS ENUM ('s');\nALTER TYPE size RENAME VALUE 's' TO 'small';\n"
                "CREATE DOMAIN pos AS int;\nALTER DOMAIN pos ADD CONSTRAINT p CHECK (VALUE > 0);\n"
                "CREATE SCHEMA scratch;\nALTER SCHEMA scratch RENAME TO scratch2;\n"
                "ALTER TABLE t RENAME TO t2;\nALTER TABLE t2 ADD COLUMN b int NOT NULL;\n"
                "ALTER TABLE t2 ALTER COLUMN a DROP DEFAULT;\nCLUSTER t2 USING t_a;"
            ],
        )
        == []
    )


def test_syntax_error_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    _write(tmp_path, ["SELECT 1;\n\nCREATE TABLE t (\n  a int,,\n);\n"])

    report = lint.lint_paths([tmp_path])[-1]

    assert [(f.rule, f.line, f.column) for f in report.errors] == [("syntax-error", 4, 9)]


def test_refusal_names_the_pending_file_but_ignores_applied_and_allowed_ones(
    tmp_path: Path,
) -> None:
    paths = _write(
        tmp_path / "migrations",
        [
            "DROP TABLE orders;",  # V002: say it was applied long ago
            "-- allow: truncate reason: demo rows only\nTRUNCATE tenants;",
            "ALTER TABLE tenants RENAME TO customers;",
        ],
    )
    reports = lint.lint_paths([tmp_path / "migrations"])

    lint.refuse_unallowed(reports, names={paths[2].name})  # allowed: no error
    with pytest.raises(LintError, match=r"migrations/V004__step\.sql:1:1 rename-table") as raised:
        lint.refuse_unallowed(reports, names={paths[2].name, paths[3].name})

    assert "V002" not in str(raised.value)
    assert raised.value.outcome.value == "refused"
