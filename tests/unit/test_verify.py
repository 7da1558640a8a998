"""Comparing declared expectations with a catalog shape, without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init import verify
from db_init.errors import ScriptError, VerificationFailedError

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def _shape(columns: dict[str, str], indexes: set[str]) -> verify.SchemaShape:
    table = verify.TableShape(columns, frozenset({"t_pkey"}), frozenset(indexes), frozenset())
    return verify.SchemaShape({"t": table}, frozenset())


def test_declared_schema_covers_the_eight_spec_tables() -> None:
    expected = verify.load_expectations(SQL_DIR)
    assert sorted(expected.tables) == sorted(
        [
            "tenants",
            "users",
            "orders",
            "fulfillment",
            "marketing_campaigns",
            "role_metric_visibility",
            "governance_rules",
            "audit_logs",
        ]
    )
    assert expected.functions == {"set_updated_at"}
    assert expected.trigger_count == 7  # every table with updated_at; audit_logs is append-only


def test_missing_and_mistyped_objects_are_problems_and_extras_are_not() -> None:
    expected = _shape({"id": "integer not null", "name": "text"}, {"t_pkey", "idx_t_name"})
    live = _shape({"id": "bigint not null", "extra": "text"}, {"t_pkey", "idx_manual"})
    report = verify.compare(expected, live)
    assert report.problems == [
        "column t.id is 'bigint not null', expected 'integer not null'",
        "missing column t.name",
        "missing index t.idx_t_name",
    ]
    assert report.extras == ["undeclared column t.extra", "undeclared index t.idx_manual"]


def test_failure_message_is_one_line_and_counts_the_rest() -> None:
    error = VerificationFailedError([f"missing index t.i{n}" for n in range(5)])
    assert "\n" not in str(error)
    assert "(+2 more)" in str(error)
    assert error.one_line().startswith("VerificationFailedError: schema does not match")


def test_broken_expectations_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / verify.EXPECTATIONS_FILE).write_text("[tables.t]\ncolumns = 3\n")
    with pytest.raises(ScriptError, match="unexpected layout"):
        verify.load_expectations(tmp_path)
