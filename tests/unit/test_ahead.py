"""Future migrations: the bundle as a prefix of the history, without a database."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from db_init import ahead, ledger, scripts, verify
from db_init.catalog import MIGRATOR, Entry
from db_init.engine import Result, plan_scripts
from db_init.errors import ChecksumMismatchError, FutureMigrationsError, MissingMigrationError
from db_init.response import MAX_RESPONSE_BYTES, data, fit, future_versions, size
from db_init.scripts import Kind
from tests.unit.test_response import ENVELOPE

AT = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def scriptset(tmp_path: Path) -> scripts.ScriptSet:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "seeds").mkdir()
    for name in ("V001__one.sql", "V002__two.sql", "V003__three.sql"):
        (tmp_path / "migrations" / name).write_text(f"SELECT '{name}';")
    (tmp_path / "seeds" / "S001__s.sql").write_text("SELECT 's';")
    return scripts.load(tmp_path)


def _recorded(scriptset: scripts.ScriptSet) -> list[ledger.Entry]:
    return [
        ledger.Entry(s.kind, s.version, s.name, s.checksum, AT)
        for s in (*scriptset.migrations, *scriptset.seeds)
    ]


def _newer(version: int) -> ledger.Entry:
    return ledger.Entry(Kind.MIGRATION, version, f"V{version:03d}__newer.sql", "f" * 64, AT)


def test_versions_above_a_fully_recorded_bundle_are_future_and_plan_nothing(
    scriptset: scripts.ScriptSet,
) -> None:
    # GIVEN a history with every bundled migration and seed, plus V004 and V005 from a newer build
    history = [*_recorded(scriptset), _newer(4), _newer(5)]
    # WHEN it is classified and planned
    future = ahead.future_entries(scriptset, history)
    # THEN V004 and V005 are future, nothing is pending, and nothing is refused
    assert ahead.labels(future) == ("V004", "V005")
    assert plan_scripts(scriptset, history, with_seeds=True) == []


def test_a_gap_in_the_middle_is_still_refused(scriptset: scripts.ScriptSet) -> None:
    # GIVEN V002 recorded by no bundled file (the bundle is not a prefix), and a newer V004
    history = [e for e in _recorded(scriptset) if e.version != 2 or e.kind is Kind.SEED]
    history += [_newer(4)]
    # THEN nothing is future, and V004 is refused as a missing file, as today
    assert ahead.future_entries(scriptset, history) == ()
    with pytest.raises(MissingMigrationError, match=r"V004__newer\.sql was applied"):
        plan_scripts(scriptset, history, with_seeds=False)


def test_a_changed_bundled_checksum_is_still_refused(scriptset: scripts.ScriptSet) -> None:
    # GIVEN V002 recorded with another checksum, and a newer V004
    history = [replace(e, checksum="a" * 64) if e.version == 2 else e for e in _recorded(scriptset)]
    history += [_newer(4)]
    # THEN nothing is future and the edit is refused
    assert ahead.future_entries(scriptset, history) == ()
    with pytest.raises(ChecksumMismatchError, match=r"V002__two\.sql changed"):
        plan_scripts(scriptset, history, with_seeds=False)


def test_a_recorded_version_below_the_newest_bundled_one_is_not_future(
    scriptset: scripts.ScriptSet, tmp_path: Path
) -> None:
    # GIVEN a bundle with V001, V003 only and a history V001, V002, V003, V004
    (tmp_path / "migrations" / "V002__two.sql").unlink()
    bundle = scripts.load(tmp_path)
    history = [*_recorded(scriptset), _newer(4)]
    # THEN V004 is not future: V002 is missing from the middle of the bundle
    assert ahead.future_entries(bundle, history) == ()
    with pytest.raises(MissingMigrationError, match=r"V002__two\.sql"):
        plan_scripts(bundle, history, with_seeds=False)


def test_fail_policy_refuses_naming_the_future_versions(scriptset: scripts.ScriptSet) -> None:
    future = tuple(_newer(v) for v in range(4, 10))
    with pytest.raises(FutureMigrationsError) as raised:
        ahead.enforce("shoppulse", scriptset, future, policy="fail")
    line = raised.value.one_line()
    assert line == (
        "FutureMigrationsError: shoppulse is ahead: future migrations V004, V005, V006 (+3 more, "
        "newest V009__newer.sql) beyond this build's V003; nothing was applied -- deploy the "
        "build that has them or set OnFutureMigrations (--on-future) to ignore"
    )
    assert len(line) <= 250


def test_ignore_policy_warns_once(
    scriptset: scripts.ScriptSet, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="db_init"):
        ahead.enforce("shoppulse", scriptset, (_newer(4),), policy="ignore")
    [record] = caplog.records
    assert record.getMessage().startswith(
        "database shoppulse is ahead of this build: future migrations V004 (newest V004__newer"
    )
    assert "nothing is applied" in record.getMessage()


def test_subset_verification_lets_undeclared_objects_pass_but_not_changed_ones() -> None:
    # GIVEN a declared table t and a live database whose future migrations added a column and a
    # table (the catalog as verify reads it)
    table = verify.TableShape({"id": "integer not null"}, frozenset(), frozenset(), frozenset())
    expected = verify.SchemaShape({"t": table}, frozenset())
    live = {
        ("table", "public.t"): Entry("public.t", "table"),
        ("column", "public.t.id"): Entry("public.t", "integer not null"),
        ("column", "public.t.extra"): Entry("public.t", "text"),
        ("table", "public.added"): Entry("public.added", "table"),
        ("owner", "table public.t"): Entry("public.t", MIGRATOR),
        ("owner", "table public.added"): Entry("public.added", MIGRATOR),
    }
    # WHEN compared as a subset THEN the additions are only reported
    report = verify.compare(expected, live, subset=True)
    assert report.problems == []
    assert "undeclared table added" in report.extras
    # AND a changed declared column still fails
    live[("column", "public.t.id")] = Entry("public.t", "bigint not null")
    assert verify.compare(expected, live, subset=True).problems == [
        "column t.id is 'bigint not null', expected 'integer not null'"
    ]


def test_future_versions_collapse_runs_and_cap_a_long_list() -> None:
    assert future_versions(()) == ""
    assert future_versions(("V004", "V005", "V006", "V009")) == "V004-V006,V009"
    scattered = tuple(f"V{v:03d}" for v in range(10, 2000, 2))  # 995 versions, no runs
    capped = future_versions(scattered)
    assert capped == "V010,V012,V014,V016,V018,V020,V022,...,V1998"


def test_a_long_future_list_keeps_the_response_under_4096_bytes() -> None:
    # GIVEN a database ahead by 995 scattered versions, with a history as long
    future = tuple(f"V{v:03d}" for v in range(10, 2000, 2))
    recorded = tuple(f"V{v:03d}" for v in range(1, 10)) + future
    result = Result("shoppulse", False, (), (), 1998, 8, 8, "c" * 64, recorded, future=future)
    # WHEN the Data are fitted into the response
    fitted = fit(data(result), ENVELOPE)
    # THEN the whole body fits, FutureVersions is capped, and the newest is still named
    assert size(ENVELOPE, fitted) <= MAX_RESPONSE_BYTES
    assert fitted["FutureVersions"].endswith(",...,V1998")
    assert len(json.dumps(fitted["FutureVersions"])) < 100
