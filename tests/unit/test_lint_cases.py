"""bench/lint_cases.toml: lint flags every dangerous case and no safe one (squawk not needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.lint_vs_squawk import Case, load_cases, ours_flags
from db_init import lint

SETUP, CASES = load_cases()


def test_the_cases_are_many_labelled_and_uniquely_named() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert sum(c.dangerous for c in CASES) >= 50
    assert sum(not c.dangerous for c in CASES) >= 35
    sources = {c.source.split()[0] for c in CASES}
    assert {"squawk", "strong_migrations", "Eugene"} <= sources


@pytest.mark.parametrize("case", [c for c in CASES if c.dangerous], ids=lambda c: c.name)
def test_dangerous_case_is_flagged(case: Case) -> None:
    # GIVEN the shared schema (holding rows) and the case's earlier files, all applied
    # WHEN the case is linted THEN it has a finding
    assert ours_flags(case, SETUP), f"missed: {case.source}"


@pytest.mark.parametrize("case", [c for c in CASES if not c.dangerous], ids=lambda c: c.name)
def test_safe_case_is_not_flagged(case: Case) -> None:
    assert not ours_flags(case, SETUP), f"false alarm: {case.source}"


def test_the_setup_itself_lints_clean() -> None:
    [report] = lint.lint_texts([(Path("V001__setup.sql"), SETUP)])
    assert report.errors == ()
