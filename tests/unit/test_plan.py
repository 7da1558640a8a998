"""Planning against a recorded history: pending order and refusals, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from db_init import ledger, scripts
from db_init.engine import plan_scripts
from db_init.errors import ChecksumMismatchError, HistoryError, MissingMigrationError
from db_init.scripts import Kind


@pytest.fixture
def scriptset(tmp_path: Path) -> scripts.ScriptSet:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "seeds").mkdir()
    for name in ("V001__one.sql", "V002__two.sql", "V003__three.sql"):
        (tmp_path / "migrations" / name).write_text(f"SELECT '{name}';")
    (tmp_path / "seeds" / "S001__s.sql").write_text("SELECT 's';")
    return scripts.load(tmp_path)


def _entry(script: scripts.Script, checksum: str | None = None) -> ledger.Entry:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    return ledger.Entry(script.kind, script.version, script.name, checksum or script.checksum, at)


def test_fresh_database_gets_everything_in_order(scriptset: scripts.ScriptSet) -> None:
    pending = plan_scripts(scriptset, [], with_seeds=True)
    assert [s.label for s in pending] == ["V001", "V002", "V003", "S001"]
    assert [s.label for s in plan_scripts(scriptset, [], with_seeds=False)] == [
        "V001",
        "V002",
        "V003",
    ]


def test_applied_scripts_are_skipped_and_unchanged_seeds_too(scriptset: scripts.ScriptSet) -> None:
    history = [_entry(scriptset.migrations[0]), _entry(scriptset.seeds[0])]
    assert [s.label for s in plan_scripts(scriptset, history, with_seeds=True)] == ["V002", "V003"]


def test_changed_seed_is_planned_again(scriptset: scripts.ScriptSet) -> None:
    history = [_entry(m) for m in scriptset.migrations] + [_entry(scriptset.seeds[0], "0" * 64)]
    assert [s.label for s in plan_scripts(scriptset, history, with_seeds=True)] == ["S001"]


def test_changed_migration_is_refused_naming_file_and_both_checksums(
    scriptset: scripts.ScriptSet,
) -> None:
    history = [_entry(scriptset.migrations[0], "a" * 64)]
    with pytest.raises(ChecksumMismatchError) as raised:
        plan_scripts(scriptset, history, with_seeds=False)
    message = str(raised.value)
    assert "migrations/V001__one.sql changed after it was applied" in message
    assert "a" * 12 in message
    assert scriptset.migrations[0].checksum[:12] in message


def test_missing_migration_is_refused(scriptset: scripts.ScriptSet) -> None:
    ghost = ledger.Entry(
        Kind.MIGRATION, 7, "V007__gone.sql", "b" * 64, datetime(2026, 1, 2, tzinfo=UTC)
    )
    with pytest.raises(MissingMigrationError, match=r"V007__gone\.sql was applied on 2026-01-02"):
        plan_scripts(scriptset, [ghost], with_seeds=False)


def test_out_of_order_migration_is_refused(scriptset: scripts.ScriptSet) -> None:
    history = [_entry(scriptset.migrations[0]), _entry(scriptset.migrations[2])]
    with pytest.raises(HistoryError, match=r"V002__two\.sql is older than the newest applied"):
        plan_scripts(scriptset, history, with_seeds=False)
