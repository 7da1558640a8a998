"""shoppulse_data against the real test PostgreSQL, directly (no pooler in between)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from db_init.settings import ConnectionSettings
from shoppulse_data import AuthMode, ClientConfig, Connection, Login, StaticLogin, connect
from tests.postgres import query
from tests.tenants import APP_ROLE, AppDatabase, create_app_database

DATABASE = "data_access"
# A placeholder: these tests hand connect() a login directly, no secret is read.
LOCAL_SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:local-AbCdEf"


@pytest.fixture(scope="module")
def app_db(admin: ConnectionSettings) -> Iterator[AppDatabase]:
    """The migrated database with three tenants, dropped after the module."""
    yield create_app_database(admin, DATABASE)
    query(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def local_config(settings: ConnectionSettings, **overrides: object) -> ClientConfig:
    """A ClientConfig for a loopback server or pooler (plaintext is allowed only there)."""
    values: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "database": settings.database,
        "auth": AuthMode.SECRET,
        "secret_arn": LOCAL_SECRET,
        "tls": False,
    }
    return ClientConfig(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture
def app_connection(app_db: AppDatabase) -> Iterator[Connection]:
    """A direct connection as shoppulse_app."""
    login = StaticLogin(Login(APP_ROLE, app_db.passwords[APP_ROLE]))
    connection = connect(local_config(app_db.owner), login=login)
    yield connection
    connection.close()


OpenAs = Callable[[str], Connection]
