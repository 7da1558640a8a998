"""Points 4, 5 and 8: validate, status, new, --version, config targets, the project's server, help."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from db_init.embedded import LocalServer
from db_init.settings import ConnectionSettings
from tests.postgres import MIGRATIONS, REPO, SEEDS, add_migration, database_url, query
from tests.shoppulse_cli import EXECUTABLE, last_line, make_project, run, url_env, user_env

EXIT_USAGE, EXIT_REFUSED = 2, 3


@pytest.fixture
def applied_project(target: ConnectionSettings, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """GIVEN a project whose database has the released migrations and seeds applied."""
    project = make_project(tmp_path / "shop")
    env = url_env(target)
    assert run("apply", "--seeds", cwd=project, env=env).returncode == 0
    return project, env


def test_validate_passes_a_clean_history_with_pending_scripts(
    applied_project: tuple[Path, dict[str, str]],
) -> None:
    project, env = applied_project
    add_migration(project / "sql", "V902__note.sql", "ALTER TABLE tenants ADD COLUMN note text;\n")
    # WHEN validate runs
    result = run("validate", cwd=project, env=env)
    # THEN exit 0: what was applied matches, the new one is pending in order
    assert result.returncode == 0, result.stderr
    applied = len(MIGRATIONS) + len(SEEDS)
    assert result.stdout.splitlines() == [
        f"valid: {applied} applied script(s) match their files; 1 pending"
    ]


def test_validate_and_status_exit_3_on_changed_missing_and_out_of_order(
    applied_project: tuple[Path, dict[str, str]], target: ConnectionSettings
) -> None:
    project, env = applied_project
    migrations = project / "sql" / "migrations"
    # GIVEN V902 applied, then V001 edited, V902's file deleted and an older V901 added
    v902 = add_migration(
        project / "sql", "V902__note.sql", "ALTER TABLE tenants ADD COLUMN note text;\n"
    )
    assert run("apply", cwd=project, env=env).returncode == 0
    before = query(target, "SELECT count(*) FROM shoppulse_meta.schema_history")
    first = migrations / "V001__initial_schema.sql"
    first.write_text(first.read_text() + "\n-- edited\n")
    v902.unlink()
    add_migration(project / "sql", "V901__late.sql", "SELECT 1;\n")
    # WHEN validate runs
    validate = run("validate", cwd=project, env=env)
    # THEN exit 3, one problem per line, and a one-line summary
    assert validate.returncode == EXIT_REFUSED
    lines = validate.stdout.splitlines()
    assert lines[0].startswith("changed: migrations/V001__initial_schema.sql (recorded sha256 ")
    assert lines[1] == "missing: migrations/V902__note.sql (applied, but the file is gone)"
    assert lines[2] == (
        "out of order: migrations/V901__late.sql is older than the newest applied migration "
        "V902; renumber it above V902"
    )
    assert last_line(validate.stderr).startswith("refused: HistoryError: 3 problem(s)")
    # AND status also exits 3, with checksum, applied_at, duration and applied_by columns
    status = run("status", cwd=project, env=env)
    assert status.returncode == EXIT_REFUSED
    header, *rows = status.stdout.splitlines()
    assert header.split() == [
        "state", "label", "script", "checksum", "applied_at", "duration", "applied_by"
    ]  # fmt: skip
    v002 = next(r for r in rows if "V002__" in r).split()
    assert v002[0] == "applied" and v002[-1] == target.user and v002[-2] == "ms"
    assert len(v002[3]) == 8 and v002[4][:4].isdigit()
    assert "status: 3 problem(s)" in status.stderr
    body = json.loads(run("status", "--json", cwd=project, env=env).stdout)
    assert body["ok"] is False and len(body["problems"]) == 3
    assert {r["state"] for r in body["scripts"]} == {"applied", "changed", "missing", "pending"}
    # AND nothing was written
    assert query(target, "SELECT count(*) FROM shoppulse_meta.schema_history") == before


def test_new_creates_the_next_numbered_migration_and_says_what_to_declare(tmp_path: Path) -> None:
    # GIVEN a project with V001-V003
    project = make_project(tmp_path / "shop")
    # WHEN `new` runs twice
    first = run("new", "Add order notes", cwd=project)
    second = run("new", "index notes", "--non-transactional", cwd=project)
    # THEN the next numbers are used, each file starts as documented, and the reminder is printed
    assert first.returncode == 0 and second.returncode == 0
    created = project / "sql" / "migrations" / f"V{len(MIGRATIONS) + 1:03d}__add_order_notes.sql"
    assert first.stdout.splitlines()[0] == f"created {created.relative_to(project)}"
    assert "declare what it creates in" in first.stdout and "expected_schema.toml" in first.stdout
    assert created.read_text().startswith(f"-- V{len(MIGRATIONS) + 1:03d}: Add order notes\n")
    nxt = project / "sql" / "migrations" / f"V{len(MIGRATIONS) + 2:03d}__index_notes.sql"
    assert nxt.read_text().startswith("-- shoppulse:non-transactional\n")
    # AND the new files pass `lint` (no statements yet) and `new` refuses a nameless migration
    assert run("lint", cwd=project).returncode == 0
    assert run("new", "--", "!!!", cwd=project).returncode == EXIT_USAGE


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"shoppulse-db {metadata.version('shoppulse-db')}"


def test_config_file_targets_are_used_with_target(
    target: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN shoppulse-db.toml with a staging target whose URL lives in an environment variable
    project = make_project(tmp_path / "shop")
    (project / "shoppulse-db.toml").write_text(
        'lock_timeout_ms = 2000\n\n[targets.staging]\ndatabase_url_env = "STAGING_DATABASE_URL"\n'
        f'database = "{target.database}"\n'
    )
    env = user_env(STAGING_DATABASE_URL=database_url(target.with_database("postgres")))
    # WHEN apply runs with --target staging from a subdirectory of the project
    (project / "docs").mkdir()
    result = run("apply", "--target", "staging", cwd=project / "docs", env=env)
    # THEN it reached that database (the config's database name over the URL's)
    assert result.returncode == 0, result.stderr
    assert f"target: {target.host}:{target.port}, database {target.database}" in result.stderr
    assert query(target, "SELECT count(*) FROM shoppulse_meta.schema_history")[0][0] == len(
        MIGRATIONS
    )
    # AND an unknown target, an unknown key and a password in the file are usage errors
    unknown = run("status", "--target", "prod", cwd=project, env=env)
    assert unknown.returncode == EXIT_USAGE
    assert "no target 'prod' in" in last_line(unknown.stderr) and "(targets: staging)" in (
        unknown.stderr
    )
    (project / "shoppulse-db.toml").write_text('[targets.staging]\ndatabse = "x"\n')
    typo = run("status", "--target", "staging", cwd=project, env=env)
    assert (
        typo.returncode == EXIT_USAGE and "unknown setting targets.staging.databse" in typo.stderr
    )
    (project / "shoppulse-db.toml").write_text(
        '[targets.staging]\ndatabase_url = "postgresql://u:hunter2@db.example/x"\n'
    )
    secret = run("status", "--target", "staging", cwd=project, env=env)
    assert secret.returncode == EXIT_USAGE and "carries a password" in secret.stderr
    assert "hunter2" not in secret.stderr


def test_pyproject_table_is_read_and_its_lint_key_left_to_the_lint(
    target: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN [tool.shoppulse-db] in pyproject.toml with a default target and a lint table
    project = make_project(tmp_path / "shop")
    (project / "pyproject.toml").write_text(
        '[tool.shoppulse-db]\ndefault_target = "local"\n\n[tool.shoppulse-db.lint]\ndisable = []\n\n'
        '[tool.shoppulse-db.targets.local]\ndatabase_url_env = "LOCAL_URL"\n'
    )
    env = user_env(LOCAL_URL=database_url(target))
    # WHEN plan runs without --target
    result = run("plan", cwd=project, env=env)
    # THEN the default target was used
    assert result.returncode == 0, result.stderr
    assert f"database {target.database}" in result.stderr
    assert result.stdout.splitlines()[0].startswith("pending migration V001 ")


@pytest.fixture
def bare_dir(tmp_path: Path) -> Path:
    """A directory that is not a project (no sql/ here or above)."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    return directory


def test_outside_a_project_nothing_is_started(bare_dir: Path) -> None:
    # WHEN commands that would use the embedded server run outside a project
    for args in (("status",), ("apply",), ("server", "start")):
        result = run(*args, cwd=bare_dir)
        # THEN they refuse in one line (exit 2) and create nothing there
        assert result.returncode == EXIT_USAGE, args
        assert "not inside a project" in last_line(result.stderr)
        assert "Traceback" not in result.stderr
    assert list(bare_dir.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def project_server(tmp_path: Path) -> Iterator[Path]:
    """A project whose embedded server the test starts; stopped afterwards."""
    project = make_project(tmp_path / "shop")
    yield project
    LocalServer(project / ".shoppulse-db").stop()


def test_server_start_port_url_and_make_clean(project_server: Path) -> None:
    project = project_server
    port = _free_port()
    # WHEN the server is started on a chosen port
    started = run("server", "start", "--port", str(port), cwd=project)
    # THEN it listens there and `server url` prints a URL that works
    assert started.returncode == 0, started.stderr
    assert f"at 127.0.0.1:{port}" in started.stdout
    status = json.loads(run("server", "status", "--json", cwd=project).stdout)
    assert status == {
        "ok": True, "command": "server", "running": True, "port": port,
        "data_dir": str(project / ".shoppulse-db"),
    }  # fmt: skip
    url = run("server", "url", cwd=project).stdout.strip()
    password = (project / ".shoppulse-db" / "superuser.password").read_text().strip()
    assert url == f"postgresql://postgres:{password}@127.0.0.1:{port}/shoppulse?sslmode=disable"
    applied = run("apply", "--database-url", url, cwd=project)
    assert applied.returncode == 0, applied.stderr
    # AND another port while it runs is refused, naming the one it uses
    other = run("server", "start", "--port", str(_free_port()), cwd=project)
    assert other.returncode == EXIT_USAGE
    assert f"already runs on port {port}" in other.stderr
    # WHEN `make clean` runs in the project (a copy of the Makefile, the venv linked in)
    pid = int((project / ".shoppulse-db" / "pgdata" / "postmaster.pid").read_text().split()[0])
    shutil.copy(REPO / "Makefile", project / "Makefile")
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "shoppulse-db").symlink_to(EXECUTABLE)
    clean = subprocess.run(
        ["make", "clean"], cwd=project, capture_output=True, text=True, check=False, timeout=120
    )
    # THEN the server was stopped before its files were removed
    assert clean.returncode == 0, clean.stderr
    assert "stopped" in clean.stdout
    assert not (project / ".shoppulse-db").exists()
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its parent to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_each_subcommand_shows_only_its_options(tmp_path: Path) -> None:
    def help_of(*command: str) -> str:
        result = run(*command, "--help", cwd=tmp_path)
        assert result.returncode == 0
        return result.stdout

    # THEN lint and new show no connection options; apply shows them and its own
    for command in ("lint", "new"):
        text = help_of(command)
        assert "--database-url" not in text and "--lock-timeout-ms" not in text, command
    apply = help_of("apply")
    assert "--database-url" in apply and "--dry-run" in apply and "--on-drift" in apply
    assert "--dry-run" not in help_of("plan") and "--tenants" not in apply
    # AND server --help explains each action
    server = help_of("server")
    for action in ("start", "stop", "status", "url", "psql"):
        assert f"\n  {action} " in server, action
    assert "superuser.password" in server and "--database-url" not in server


def test_generate_starts_after_the_tenants_that_exist(
    applied_project: tuple[Path, dict[str, str]], target: ConnectionSettings
) -> None:
    project, env = applied_project
    # WHEN generate runs without --first-tenant next to the seeded T001-T003
    result = run("generate", "--tenants", "2", "--orders", "40", cwd=project, env=env)
    # THEN it loads T004-T005
    assert result.returncode == 0, result.stderr
    assert "(tenants T004-T005)" in result.stdout
    assert query(target, "SELECT min(tenant_id), max(tenant_id), count(*) FROM tenants") == [
        ("T001", "T005", 5)
    ]
