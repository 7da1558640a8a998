"""Fault fixtures: an applied database, a relay in front of the server, a low-privilege role."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import DbInitError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.faults.relay import Relay
from tests.postgres import query

# Figures the suite reports at the end of the run (peak RSS of the large-file tests).
REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the measured figures after the test results."""
    if REPORT:
        terminalreporter.section("fault suite figures")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture
def applied(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> ConnectionSettings:
    """GIVEN a database with V001 and the seeds applied."""
    engine.apply(target, options, deadline)
    return target


@pytest.fixture
def relay(pg_server: LocalServer, admin: ConnectionSettings) -> Iterator[Relay]:
    """A forwarding relay in front of the test server."""
    with Relay(admin.port) as running:
        yield running


@pytest.fixture
def make_role(admin: ConnectionSettings) -> Iterator[Callable[..., ConnectionSettings]]:
    """Create login roles (random password, no CREATEDB); drop them after the test."""
    made: list[tuple[str, list[str]]] = []

    def make(database: str, *, grants: tuple[str, ...] = ()) -> ConnectionSettings:
        name = f"r_{uuid.uuid4().hex[:10]}"
        password = secrets.token_urlsafe(18)
        query(admin, f"CREATE ROLE {name} LOGIN NOCREATEDB PASSWORD '{password}'")
        made.append((name, [database]))
        for grant in grants:
            query(admin.with_database(database), grant.format(role=name))
        return admin.with_database(database).with_credentials(name, password)

    yield make
    for name, databases in made:
        for database in databases:
            with suppress(DbInitError):  # the database may never have been created
                query(admin.with_database(database), f"DROP OWNED BY {name}")
        query(admin, f"DROP ROLE IF EXISTS {name}")
