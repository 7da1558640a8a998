"""The command line over a database ahead of sql/: status marks future versions, policies decide."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.integration.test_cli import _cli
from tests.postgres import LATEST, RELEASED, add_migration, database_url, snapshot

NEXT = f"V{LATEST + 1:03d}"
NEXT_FILE = f"{NEXT}__store_notes.sql"


@pytest.fixture
def ahead(target: ConnectionSettings, sql_dir: Path, tmp_path: Path) -> str:
    """GIVEN a database migrated by a newer build (one more migration than sql_dir has)."""
    newer = tmp_path / "sql-newer"
    shutil.copytree(sql_dir, newer)
    add_migration(newer, NEXT_FILE, "CREATE TABLE store_notes (note_id integer PRIMARY KEY);\n")
    engine.apply(target, ApplyOptions(sql_dir=newer, apply_seeds=True), Deadline.after(120))
    return database_url(target)


def test_status_marks_the_newer_builds_migration_as_future(ahead: str, sql_dir: Path) -> None:
    # WHEN status runs with the older sql/
    shown = _cli("status", "--database-url", ahead, "--sql-dir", str(sql_dir))
    as_json = _cli("status", "--json", "--database-url", ahead, "--sql-dir", str(sql_dir))
    # THEN the newer migration is "future", the bundled ones "applied", exit 0
    assert shown.returncode == 0, shown.stderr
    [line] = [x for x in shown.stdout.splitlines() if NEXT_FILE in x]
    assert line.split()[:3] == ["future", NEXT, f"migrations/{NEXT_FILE}"]
    states = {r["script"]: r["state"] for r in json.loads(as_json.stdout)["scripts"]}
    assert states[NEXT_FILE] == "future"
    assert {states[m.name] for m in RELEASED.migrations} == {"applied"}


@pytest.mark.parametrize("command", ["apply", "verify", "plan"])
def test_ignore_warns_and_changes_nothing_and_fail_refuses_with_exit_3(
    pg_server: LocalServer,
    target: ConnectionSettings,
    ahead: str,
    sql_dir: Path,
    command: str,
) -> None:
    before = snapshot(pg_server, target)
    # WHEN the command runs with the older sql/ under the default policy (ignore)
    ignored = _cli(command, "--database-url", ahead, "--sql-dir", str(sql_dir))
    # THEN exit 0, with the warning naming the future version on stderr
    assert ignored.returncode == 0, ignored.stderr
    assert f"is ahead of this build: future migrations {NEXT} (newest {NEXT_FILE})" in (
        ignored.stderr
    )
    said = {
        "apply": f"nothing to apply: the database is ahead of sql/ (future: {NEXT})",
        "verify": f"note: the database is ahead of sql/ (future: {NEXT}); only what sql/ "
        "declares was verified",
        "plan": "nothing pending",
    }
    assert said[command] in ignored.stdout.splitlines()
    # WHEN it runs with --on-future fail
    refused = _cli(
        command, "--on-future", "fail", "--database-url", ahead, "--sql-dir", str(sql_dir)
    )
    # THEN exit 3 (refused) with one line naming the future version
    assert refused.returncode == 3
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"refused: FutureMigrationsError: {target.database} is ahead: future migrations {NEXT} "
        )
    )
    # AND neither run changed the database
    assert snapshot(pg_server, target) == before


def test_on_future_accepts_only_ignore_or_fail(ahead: str, sql_dir: Path) -> None:
    result = _cli("apply", "--on-future", "sometimes", "--database-url", ahead)
    assert result.returncode == 2
    assert "invalid choice: 'sometimes'" in result.stderr
