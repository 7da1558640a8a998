"""Points 6 and 7: long statements report progress, Ctrl-C cancels on the server, dry runs."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from db_init.db import Session
from db_init.settings import ConnectionSettings
from tests.postgres import MIGRATIONS, add_migration, query, session
from tests.shoppulse_cli import last_line, make_project, run, start, url_env

EXIT_INTERRUPTED = 130


@pytest.fixture
def applied_project(target: ConnectionSettings, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """GIVEN a project whose database has the released migrations applied."""
    project = make_project(tmp_path / "shop")
    env = url_env(target)
    assert run("apply", cwd=project, env=env).returncode == 0
    return project, env


def _wait_for(condition: object, what: str, seconds: float = 30) -> None:
    give_up = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_long_statement_reports_elapsed_time(
    applied_project: tuple[Path, dict[str, str]],
) -> None:
    project, env = applied_project
    # GIVEN a migration whose statement runs for about 4 seconds
    add_migration(project / "sql", "V902__slow.sql", "SELECT pg_sleep(4);\n")
    # WHEN apply runs
    result = run("apply", cwd=project, env=env)
    # THEN a progress line names the file, the time so far and the statement
    assert result.returncode == 0, result.stderr
    assert "  still running migrations/V902__slow.sql (3s): SELECT pg_sleep(4)\n" in result.stderr


@pytest.fixture
def old_snapshot(target: ConnectionSettings) -> Iterator[Session]:
    """A session holding a snapshot open, which CREATE INDEX CONCURRENTLY must wait for."""
    with closing(session(target)) as holder:
        holder.query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.query("SELECT count(*) FROM orders")
        yield holder


def test_an_index_build_reports_postgres_progress_view(
    applied_project: tuple[Path, dict[str, str]], old_snapshot: Session
) -> None:
    project, env = applied_project
    add_migration(
        project / "sql",
        "V902__orders_store_index.sql",
        "-- shoppulse:non-transactional\n"
        "CREATE INDEX CONCURRENTLY idx_orders_store ON orders (store_id);\n",
    )
    # GIVEN an old snapshot the index build has to wait for; WHEN apply runs
    process = start("apply", "-v", cwd=project, env=env)
    assert process.stderr is not None
    seen: list[str] = []
    while not any("index build" in line for line in seen):
        line = process.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    # THEN the progress line shows the phase from pg_stat_progress_create_index
    report = next(line for line in seen if "index build" in line)
    assert "still running migrations/V902__orders_store_index.sql" in report
    assert ": index build waiting for old snapshots" in report
    old_snapshot.query("COMMIT")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "applied 1 script(s): V902" in out


def test_ctrl_c_cancels_the_running_statement_on_the_server(
    applied_project: tuple[Path, dict[str, str]], target: ConnectionSettings
) -> None:
    project, env = applied_project
    # GIVEN apply running a 60-second statement
    add_migration(
        project / "sql",
        "V902__very_slow.sql",
        "ALTER TABLE tenants ADD COLUMN note text;\nSELECT pg_sleep(60);\n",
    )
    process = start("apply", cwd=project, env=env)

    def sleeping() -> bool:
        rows = query(
            target, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'"
        )
        return bool(rows[0][0])

    _wait_for(sleeping, "the statement to start")
    # WHEN the user presses Ctrl-C
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    # THEN the process ends with 130 and says the statement was cancelled on the server
    assert process.returncode == EXIT_INTERRUPTED, err
    line = last_line(err)
    assert line.startswith("interrupted: the running statement was cancelled on the server")
    assert "cancelled (Ctrl-C); nothing from this run was committed" in line
    # AND the server is no longer running it, and nothing of V902 was kept
    assert not sleeping()
    assert query(target, "SELECT max(version) FROM shoppulse_meta.schema_history") == [
        (int(MIGRATIONS[-1][1:]),)
    ]
    columns = query(
        target,
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'tenants'::regclass AND attname = 'note'",
    )
    assert columns == [(0,)]


def test_drift_says_what_it_is_building(applied_project: tuple[Path, dict[str, str]]) -> None:
    project, env = applied_project
    result = run("drift", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert "drift: building the migrations in a scratch PostgreSQL" in result.stderr


def test_dry_run_rehearses_a_first_deploy_and_leaves_nothing(
    admin: ConnectionSettings, target: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN a database name that does not exist yet, and a non-transactional migration
    project = make_project(tmp_path / "shop")
    add_migration(
        project / "sql",
        "V902__orders_store_index.sql",
        "-- shoppulse:non-transactional\n"
        "CREATE INDEX CONCURRENTLY idx_orders_store ON orders (store_id);\n",
    )
    databases = query(admin, "SELECT datname FROM pg_database ORDER BY 1")
    # WHEN apply --dry-run --seeds runs
    result = run("apply", "--dry-run", "--seeds", cwd=project, env=url_env(target))
    # THEN every script was rehearsed (in a scratch database, even the non-transactional one)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"rehearsed in scratch database {target.database}_rehearsal_")
    assert first.endswith(
        f"(dropped) {len(MIGRATIONS) + 3} script(s): {' '.join(MIGRATIONS)} V902 S001 S002"
    )
    assert "does not exist yet: rehearsing its first deploy in scratch database" in result.stderr
    # AND no database was left behind, the target included
    assert query(admin, "SELECT datname FROM pg_database ORDER BY 1") == databases


def test_ctrl_c_during_generate_cancels_the_copy_and_loads_nothing(
    applied_project: tuple[Path, dict[str, str]], target: ConnectionSettings
) -> None:
    project, env = applied_project
    # GIVEN generate streaming a large load through COPY
    process = start(
        "generate", "--tenants", "20", "--orders", "2000000", "-q", cwd=project, env=env
    )

    def copying() -> bool:
        rows = query(target, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %'")
        return bool(rows[0][0])

    _wait_for(copying, "the COPY to start")
    # WHEN the user presses Ctrl-C
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    # THEN exit 130, the COPY is no longer running on the server, and no row was loaded
    assert process.returncode == EXIT_INTERRUPTED, err
    assert last_line(err).startswith(
        "interrupted: the running statement was cancelled on the server"
    )
    assert not copying()
    assert query(target, "SELECT count(*) FROM tenants") == [(0,)]
