"""The destructive-change lint: every rule fails on its unsafe form and passes on its safe one."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init import lint
from db_init.errors import LintError
from tests.postgres import SQL_DIR

# Existing tables and objects the linted migrations (V002 and later) work on.
BASE = """CREATE TABLE tenants (tenant_id varchar(10) PRIMARY KEY);
CREATE TABLE orders (
    order_id  integer PRIMARY KEY,
    tenant_id varchar(10),
    status    varchar(20),
    note      varchar(50),
    total     numeric(10,2)
);
CREATE TYPE mood AS ENUM ('ok');
CREATE SCHEMA archive;
"""
NON_TRANSACTIONAL = "-- shoppulse:non-transactional\n"

# rule -> (unsafe migrations after BASE, safe migrations after BASE doing the same job)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "drop-table": (
        ["DROP TABLE orders;"],
        ["CREATE TABLE scratch (a int);\nDROP TABLE scratch;"],
    ),
    "drop-column": (
        ["ALTER TABLE orders DROP COLUMN note;"],
        ["CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;"],
    ),
    "drop-schema": (["DROP SCHEMA archive CASCADE;"], ["CREATE SCHEMA reporting;"]),
    "drop-type": (["DROP TYPE mood;"], ["ALTER TYPE mood ADD VALUE 'great';"]),
    "truncate": (
        ["TRUNCATE orders;"],
        ["CREATE TABLE staging (a int);\nTRUNCATE staging;"],
    ),
    "delete-without-where": (
        ["DELETE FROM orders;"],
        ["DELETE FROM orders WHERE status = 'Test';"],
    ),
    "update-without-where": (
        ["UPDATE orders SET status = 'Done';"],
        ["UPDATE orders SET status = 'Done' WHERE status IS NULL;"],
    ),
    "alter-column-type": (
        ["ALTER TABLE orders ALTER COLUMN tenant_id TYPE integer USING tenant_id::integer;"],
        ["ALTER TABLE orders ALTER COLUMN note TYPE varchar(100);"],  # widening: no rewrite
    ),
    "set-not-null": (
        [
            "ALTER TABLE orders ADD CONSTRAINT orders_status_nn CHECK (status IS NOT NULL) NOT VALID;\n"
            "ALTER TABLE orders VALIDATE CONSTRAINT orders_status_nn;\n"
            "ALTER TABLE orders ALTER COLUMN status SET NOT NULL;"
        ],
        [
            "ALTER TABLE orders ADD CONSTRAINT orders_status_nn CHECK (status IS NOT NULL) NOT VALID;",
            "ALTER TABLE orders VALIDATE CONSTRAINT orders_status_nn;",
            "ALTER TABLE orders ALTER COLUMN status SET NOT NULL;",
        ],
    ),
    "add-foreign-key": (
        [
            "ALTER TABLE orders ADD CONSTRAINT orders_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (tenant_id);"
        ],
        [
            "ALTER TABLE orders ADD CONSTRAINT orders_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (tenant_id) NOT VALID;",
            "ALTER TABLE orders VALIDATE CONSTRAINT orders_tenant_fkey;",
        ],
    ),
    "add-check": (
        ["ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);"],
        ["ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT VALID;"],
    ),
    "add-unique": (
        ["ALTER TABLE orders ADD CONSTRAINT orders_note_key UNIQUE (note);"],
        [
            NON_TRANSACTIONAL
            + "CREATE UNIQUE INDEX CONCURRENTLY orders_note_key ON orders (note);",
            "ALTER TABLE orders ADD CONSTRAINT orders_note_key UNIQUE USING INDEX orders_note_key;",
        ],
    ),
    "create-index": (
        ["CREATE INDEX idx_orders_status ON orders (status);"],
        [NON_TRANSACTIONAL + "CREATE INDEX CONCURRENTLY idx_orders_status ON orders (status);"],
    ),
    "rename-table": (
        ["ALTER TABLE orders RENAME TO purchases;"],
        ["CREATE VIEW purchases AS SELECT * FROM orders;"],
    ),
    "rename-column": (
        ["ALTER TABLE orders RENAME COLUMN note TO remark;"],
        ["ALTER TABLE orders ADD COLUMN remark varchar(50);"],
    ),
    "non-transactional": (
        ["CREATE INDEX CONCURRENTLY idx_orders_status ON orders (status);"],
        [NON_TRANSACTIONAL + "CREATE INDEX CONCURRENTLY idx_orders_status ON orders (status);"],
    ),
    "transaction-control": (
        ["BEGIN;\nALTER TABLE orders ADD COLUMN channel text;\nCOMMIT;"],
        ["ALTER TABLE orders ADD COLUMN channel text;"],
    ),
}


def _write(directory: Path, bodies: list[str]) -> list[Path]:
    directory.mkdir(exist_ok=True)
    paths = []
    for number, body in enumerate([BASE, *bodies], start=1):
        path = directory / f"V{number:03d}__step.sql"
        path.write_text(body)
        paths.append(path)
    return paths


def _rules(directory: Path, bodies: list[str]) -> list[str]:
    _write(directory, bodies)
    return [f.rule for report in lint.lint_paths([directory]) for f in report.errors]


def test_every_rule_has_a_case() -> None:
    meta = {"syntax-error", "allow-without-reason", "unknown-rule"}
    assert set(CASES) == set(lint.RULES) - meta


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fails_on_the_unsafe_form(rule: str, tmp_path: Path) -> None:
    # GIVEN a migration set whose later files make the change the unsafe way
    unsafe, _ = CASES[rule]
    # WHEN it is linted THEN that rule, and no other, fires
    assert set(_rules(tmp_path, unsafe)) == {rule}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_passes_on_the_safe_form(rule: str, tmp_path: Path) -> None:
    _, safe = CASES[rule]
    assert _rules(tmp_path, safe) == []


def test_repository_migrations_lint_clean() -> None:
    """`make test` lints sql/: no finding without an allow marker, and every marker is used."""
    reports = lint.lint_paths([SQL_DIR / "migrations"])
    assert reports, "no migration was linted"
    assert [str(f) for r in reports for f in r.errors] == []
    allowed = {(r.path.name, f.rule) for r in reports for f in r.findings if f.allowed_by}
    markers = {(r.path.name, a.rule) for r in reports for a in r.allowances}
    assert markers == allowed, "an allow marker that allows nothing should be removed"


def test_finding_reads_file_line_rule_message_and_the_safe_way(tmp_path: Path) -> None:
    first, second = _write(tmp_path, ["-- tidy up\n\nALTER TABLE orders\n  DROP COLUMN note;\n"])

    [report] = [r for r in lint.lint_paths([first, second]) if r.path == second]

    assert [str(f) for f in report.errors] == [
        f"{second}:3 drop-column ALTER TABLE orders DROP COLUMN note: drops a column and its "
        "data; running code that selects it breaks -> stop using the column in one release, "
        "then drop it in a later migration"
    ]


def test_allow_marker_with_reason_allows_that_rule_only(tmp_path: Path) -> None:
    _write(
        tmp_path,
        [
            "-- allow: drop-column reason: note unused since release 4.2\n"
            "ALTER TABLE orders DROP COLUMN note;\n"
            "TRUNCATE orders;\n"
        ],
    )

    report = lint.lint_paths([tmp_path])[-1]

    assert [(f.rule, f.allowed_by) for f in report.allowed] == [
        ("drop-column", "note unused since release 4.2")
    ]
    assert [f.rule for f in report.errors] == ["truncate"]
    assert report.allowances == (lint.Allowance("drop-column", "note unused since release 4.2", 1),)


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


def test_marker_naming_an_unknown_or_unallowable_rule_is_an_error(tmp_path: Path) -> None:
    _write(
        tmp_path,
        [
            "-- allow: drop-colum reason: typo\n"
            "-- allow: non-transactional reason: mark the file instead\n"
            "SELECT 1;\n"
        ],
    )

    report = lint.lint_paths([tmp_path])[-1]

    assert [(f.rule, f.line) for f in report.errors] == [("unknown-rule", 1), ("unknown-rule", 2)]


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


def test_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    _write(tmp_path, ["SELECT 1;\n\nCREATE TABLE t (\n  a int,,\n);\n"])

    report = lint.lint_paths([tmp_path])[-1]

    assert [(f.rule, f.line) for f in report.errors] == [("syntax-error", 4)]


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
    with pytest.raises(LintError, match=r"migrations/V004__step\.sql:1 rename-table") as raised:
        lint.refuse_unallowed(reports, names={paths[2].name, paths[3].name})

    assert "V002" not in str(raised.value)
    assert raised.value.outcome.value == "refused"


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
