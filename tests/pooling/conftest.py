"""A real PgBouncer (transaction pooling, 2 server connections) in front of the test PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from db_init.settings import ConnectionSettings
from shoppulse_data import Connection, Login, StaticLogin, connect
from tests.data_access.conftest import local_config
from tests.pgbouncer import PgBouncer, PoolSettings
from tests.postgres import query
from tests.tenants import ANALYTICS_ROLE, APP_ROLE, AppDatabase, create_app_database

DATABASE = "pooling"
SERVER_CONNECTIONS = 2


@pytest.fixture(scope="module")
def app_db(admin: ConnectionSettings) -> Iterator[AppDatabase]:
    """The migrated database with three tenants, dropped after the module."""
    yield create_app_database(admin, DATABASE)
    query(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


@pytest.fixture
def bouncer(app_db: AppDatabase) -> Iterator[PgBouncer]:
    """A fresh pgbouncer per test (127.0.0.1, pool_mode = transaction, 2 server connections)."""
    settings = PoolSettings(
        server_host=app_db.owner.host,
        server_port=app_db.owner.port,
        database=DATABASE,
        users={role: app_db.passwords[role] for role in (APP_ROLE, ANALYTICS_ROLE)},
        pool_size=SERVER_CONNECTIONS,
        pool_mode="transaction",
    )
    running = PgBouncer(settings).start()
    yield running
    running.stop()


def pooled_settings(
    app_db: AppDatabase, bouncer: PgBouncer, role: str = APP_ROLE
) -> ConnectionSettings:
    """db_init-style settings for a client of the pooler (for the hand-written session pattern)."""
    return ConnectionSettings(
        host=bouncer.host,
        port=bouncer.port,
        user=role,
        password=app_db.passwords[role],
        database=DATABASE,
        tls=False,
    )


OpenPooled = Callable[[], Connection]


@pytest.fixture
def open_pooled(app_db: AppDatabase, bouncer: PgBouncer) -> Iterator[OpenPooled]:
    """Open shoppulse_data connections as shoppulse_app through the pooler; all closed after."""
    opened: list[Connection] = []
    login = StaticLogin(Login(APP_ROLE, app_db.passwords[APP_ROLE]))
    base = ConnectionSettings(
        host=bouncer.host,
        port=bouncer.port,
        user=APP_ROLE,
        password="",
        database=DATABASE,
        tls=False,
    )

    def open_one() -> Connection:
        connection = connect(local_config(base), login=login)
        opened.append(connection)
        return connection

    yield open_one
    for connection in opened:
        connection.close()
