"""A database user with too few privileges: no CREATE on the database, not the table owner."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_init import engine
from db_init.db import quote_identifier
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import MigrationFailedError, SqlError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.postgres import add_migration, query, snapshot

READ_ONLY_GRANTS = (
    "GRANT USAGE ON SCHEMA shoppulse_meta TO {role}",
    "GRANT SELECT, INSERT ON shoppulse_meta.schema_history TO {role}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
)


def test_user_without_create_on_the_database_fails_cleanly(
    pg_server: LocalServer,
    admin: ConnectionSettings,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
    make_role: Callable[..., ConnectionSettings],
) -> None:
    # GIVEN an empty database the user may connect to but not create schemas in
    query(admin, f"CREATE DATABASE {quote_identifier(target.database)}")
    role = make_role(target.database)
    before = snapshot(pg_server, target)
    # WHEN that user applies
    with pytest.raises(SqlError) as failure:
        engine.apply(role, options, deadline)
    # THEN it fails with 42501 and the database is exactly as before (still empty)
    assert failure.value.sqlstate == "42501"
    assert "permission denied" in str(failure.value)
    assert snapshot(pg_server, target) == before


def test_user_who_does_not_own_the_tables_fails_naming_file_and_line(
    pg_server: LocalServer,
    applied: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
    make_role: Callable[..., ConnectionSettings],
) -> None:
    # GIVEN a user who can read everything (history included) but owns nothing
    role = make_role(applied.database, grants=READ_ONLY_GRANTS)
    before = snapshot(pg_server, applied)
    add_migration(
        options.sql_dir,
        "V902__probe.sql",
        "ALTER TABLE tenants ADD COLUMN probe int;\n",
    )
    # WHEN that user applies
    with pytest.raises(MigrationFailedError) as failure:
        engine.apply(role, options, deadline)
    # THEN 42501 names the file and line and says what is missing; nothing changed
    line = failure.value.one_line()
    assert line.startswith("MigrationFailedError [42501]: migrations/V902__probe.sql:1: ")
    assert "lacks a privilege" in line
    assert snapshot(pg_server, applied) == before
