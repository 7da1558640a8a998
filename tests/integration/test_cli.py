"""The command line as a user runs it: default embedded target, exit codes, JSON, one-line errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from db_init.embedded import LocalServer
from db_init.settings import ConnectionSettings
from tests.postgres import (
    MIGRATIONS,
    RELEASED,
    REPO,
    SEEDS,
    add_migration,
    database_url,
    query,
    snapshot,
)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO / "lambda"), "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "-m", "db_init", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def embedded_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    LocalServer(data).stop()


def test_default_target_is_an_embedded_server_it_starts_and_says_so(
    embedded_dir: Path, tmp_path: Path
) -> None:
    applied = _cli(
        "apply",
        "--seeds",
        "--data-dir",
        str(embedded_dir),
        "--sql-dir",
        str(REPO / "sql"),
        cwd=tmp_path,
    )

    assert applied.returncode == 0, applied.stderr
    assert "target: embedded PostgreSQL" in applied.stderr
    everything = MIGRATIONS + SEEDS
    assert f"applied {len(everything)} script(s): {' '.join(everything)}" in applied.stdout
    assert f"verified: schema version {MIGRATIONS[-1]}, 8 tables, 7 triggers" in applied.stdout

    status = _cli(
        "status", "--json", "--data-dir", str(embedded_dir), "--sql-dir", str(REPO / "sql")
    )
    states = {row["script"]: row["state"] for row in json.loads(status.stdout)["scripts"]}
    assert states == {s.name: "applied" for s in RELEASED.migrations + RELEASED.seeds}
    stopped = _cli("server", "stop", "--data-dir", str(embedded_dir))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not LocalServer(embedded_dir).is_running()


def test_refused_failed_and_usage_have_distinct_exit_codes_and_one_line_errors(
    pg_server: LocalServer, target: ConnectionSettings, sql_dir: Path
) -> None:
    url = database_url(target)
    assert _cli("apply", "--database-url", url, "--sql-dir", str(sql_dir)).returncode == 0
    add_migration(sql_dir, "V902__bad.sql", "CREATE TABLE t (a int);\nSELECT * FROM nowhere;\n")
    before = snapshot(pg_server, target)

    failed = _cli("apply", "--database-url", url, "--sql-dir", str(sql_dir))
    assert failed.returncode == 1
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .startswith(
            'failed: MigrationFailedError [42P01]: migrations/V902__bad.sql:2: relation "nowhere" does not exist'
        )
    )

    (sql_dir / "migrations" / "V902__bad.sql").unlink()
    first = sql_dir / "migrations" / "V001__initial_schema.sql"
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    refused = _cli("apply", "--json", "--database-url", url, "--sql-dir", str(sql_dir))
    assert refused.returncode == 3
    body = json.loads(refused.stdout)
    assert body["ok"] is False and body["outcome"] == "refused"
    assert body["error"]["kind"] == "ChecksumMismatchError"

    usage = _cli("apply", "--database-url", "mysql://nope")
    assert usage.returncode == 2 and "usage: postgresql://" not in usage.stderr
    assert "must start with postgresql://" in usage.stderr
    assert _cli("apply", "--no-such-flag").returncode == 2

    assert snapshot(pg_server, target) == before
    for run in (failed, refused, usage):
        assert target.password not in run.stdout + run.stderr


def test_wrong_password_fails_with_a_clear_line_and_never_echoes_it(
    target: ConnectionSettings,
) -> None:
    url = database_url(target).replace(f":{target.password}@", ":not-the-password@")
    result = _cli("plan", "--database-url", url)
    assert result.returncode == 1
    assert "AuthenticationError [28P01]" in result.stderr
    assert "not-the-password" not in result.stderr + result.stdout


def test_dry_run_and_plan_print_what_would_happen(
    admin: ConnectionSettings, target: ConnectionSettings, sql_dir: Path
) -> None:
    plan = _cli(
        "plan", "--seeds", "--database-url", database_url(target), "--sql-dir", str(sql_dir)
    )
    assert plan.returncode == 0
    assert plan.stdout.splitlines() == [
        f"pending {s.kind.value:9} {s.label} {_sha8(sql_dir, f'{s.path.parent.name}/{s.name}')} "
        f"{s.path.parent.name}/{s.name}"
        for s in RELEASED.migrations + RELEASED.seeds
    ]
    query(admin, f"CREATE DATABASE {target.database}")  # a dry run never creates one
    rehearsal = _cli(
        "apply", "--dry-run", "--database-url", database_url(target), "--sql-dir", str(sql_dir)
    )
    assert rehearsal.returncode == 0
    assert f"rehearsed (rolled back) {len(MIGRATIONS)} script(s): {' '.join(MIGRATIONS)}" in (
        rehearsal.stdout
    )
    after = _cli("plan", "--database-url", database_url(target), "--sql-dir", str(sql_dir))
    assert "pending migration V001 " in after.stdout


def _sha8(sql_dir: Path, name: str) -> str:
    return hashlib.sha256((sql_dir / name).read_bytes()).hexdigest()[:8]


def test_help_lists_every_command() -> None:
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("apply", "plan", "verify", "status", "server"):
        assert command in result.stdout
