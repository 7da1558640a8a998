"""A throw-away embedded PostgreSQL for one benchmark run, and psql/pgbench beside it."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from db_init.db import connect_once, quote_identifier
from db_init.embedded import LocalServer
from db_init.settings import ConnectionSettings

REPO = Path(__file__).resolve().parents[1]
SQL_DIR = REPO / "sql"


@contextmanager
def throwaway_server() -> Iterator[tuple[LocalServer, ConnectionSettings]]:
    """Start a server in a temporary directory (fsync off, as in the tests); stop and delete it."""
    with tempfile.TemporaryDirectory(prefix="shoppulse-bench-") as data_dir:
        server = LocalServer(Path(data_dir), durable=False)
        admin = server.start(database="postgres")
        try:
            yield server, admin
        finally:
            server.stop()


def run_sql(settings: ConnectionSettings, *statements: str) -> None:
    """Run statements, each on its own, in autocommit."""
    with closing(connect_once(settings, operation_timeout_s=600)) as session:
        for statement in statements:
            session.query(statement)


def create_database(admin: ConnectionSettings, name: str) -> ConnectionSettings:
    """CREATE DATABASE name; settings for it."""
    run_sql(admin, f"CREATE DATABASE {quote_identifier(name)}")
    return admin.with_database(name)


def client_env(settings: ConnectionSettings) -> dict[str, str]:
    """Environment for psql/pgbench: the password stays out of argv."""
    return os.environ | {"PGPASSWORD": settings.password, "PGAPPNAME": "bench"}


def client_args(settings: ConnectionSettings) -> list[str]:
    """-h -p -U -d for libpq clients."""
    return [
        "-h",
        settings.host,
        "-p",
        str(settings.port),
        "-U",
        settings.user,
        "-d",
        settings.database,
    ]


def run_client(server: LocalServer, tool: str, settings: ConnectionSettings, *args: str) -> str:
    """Run psql/pgbench from the embedded server's bin/ and return stdout (raises on failure)."""
    result = subprocess.run(
        [str(server.bin_dir / tool), *client_args(settings), *args],
        env=client_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{tool} failed: {result.stderr.strip()[-400:]}")
    return result.stdout


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    """statistics.median, typed for floats."""
    return float(statistics.median(values))
