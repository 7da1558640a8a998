"""The non-transactional detector against the real server: GIVEN a statement inside a
transaction, THEN PostgreSQL refuses it (25001) exactly when the detector says it must run alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from db_init.db import Session
from db_init.errors import SqlError
from db_init.settings import ConnectionSettings
from db_init.splitter import split_statements
from db_init.transaction_rules import adds_enum_value, needs_autocommit
from tests import postgres

_SUBSCRIPTION = (
    "CREATE SUBSCRIPTION sub_t CONNECTION 'host=127.0.0.1 port=1 dbname=none' "
    "PUBLICATION pub_t WITH (connect = false)"
)
_TABLES = "CREATE TABLE t (a int PRIMARY KEY); CREATE INDEX t_a ON t (a)"
_PARTITIONS = (
    "CREATE TABLE p (a int) PARTITION BY RANGE (a); "
    "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10)"
)
_VIEW = "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a; CREATE UNIQUE INDEX mv_a ON mv (a)"

# (setup run first in the same transaction, the statement judged)
CASES = [
    ("", "VACUUM"),
    (_TABLES, "VACUUM (ANALYZE) t"),
    (_TABLES, "ANALYZE t"),
    ("", "CREATE DATABASE never_made"),
    ("", "DROP DATABASE IF EXISTS never_made"),
    ("", "ALTER DATABASE postgres SET TABLESPACE pg_default"),
    ("", "ALTER DATABASE postgres SET work_mem = '8MB'"),
    ("", "CREATE TABLESPACE never_made LOCATION '/nonexistent'"),
    ("", "DROP TABLESPACE IF EXISTS never_made"),
    ("", "ALTER SYSTEM SET work_mem = '8MB'"),
    ("", "DISCARD ALL"),
    ("", "DISCARD TEMP"),
    (_TABLES, "CREATE INDEX CONCURRENTLY t_a2 ON t (a)"),
    (_TABLES, "create unique index concurrently if not exists t_a3 on t (a)"),
    (_TABLES, "DROP INDEX CONCURRENTLY t_a"),
    (_TABLES, "REINDEX INDEX CONCURRENTLY t_a"),
    (_TABLES, "REINDEX (CONCURRENTLY) TABLE t"),
    (_TABLES, "REINDEX (CONCURRENTLY false) TABLE t"),
    (_TABLES, "REINDEX TABLE t"),
    ("", "REINDEX SCHEMA public"),
    ("", "REINDEX DATABASE"),
    ("", "REINDEX SYSTEM"),
    ("", "CLUSTER"),
    ("", "CLUSTER VERBOSE"),
    ("", "CLUSTER (VERBOSE)"),
    (_TABLES, "CLUSTER t USING t_a"),
    (_TABLES + '; CREATE TABLE "T2" (a int PRIMARY KEY)', 'CLUSTER "T2" USING "T2_pkey"'),
    (_PARTITIONS, "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY"),
    (_PARTITIONS, "ALTER TABLE p DETACH PARTITION p1"),
    (_VIEW, "REFRESH MATERIALIZED VIEW CONCURRENTLY mv"),
    ("", "CREATE SUBSCRIPTION sub_x CONNECTION 'host=127.0.0.1 port=1' PUBLICATION p"),
    ("", _SUBSCRIPTION),
    ("", _SUBSCRIPTION.replace("connect = false", "connect = false, create_slot = false")),
    ("", "DROP SUBSCRIPTION IF EXISTS never_made"),
    (
        _SUBSCRIPTION + "; ALTER SUBSCRIPTION sub_t ENABLE",
        "ALTER SUBSCRIPTION sub_t REFRESH PUBLICATION",
    ),
    (
        _SUBSCRIPTION + "; ALTER SUBSCRIPTION sub_t ENABLE",
        "ALTER SUBSCRIPTION sub_t SET PUBLICATION pub_u",
    ),
    (_SUBSCRIPTION, "ALTER SUBSCRIPTION sub_t SET PUBLICATION pub_u WITH (refresh = false)"),
    (_SUBSCRIPTION, "ALTER SUBSCRIPTION sub_t DISABLE"),
    ("CREATE TYPE mood AS ENUM ('ok')", "ALTER TYPE mood ADD VALUE 'great'"),
]


@pytest.fixture(scope="module")
def session(admin: ConnectionSettings) -> Iterator[Session]:
    """A session on a fresh database (every case rolls back), dropped afterwards."""
    name = postgres.new_database_name()
    postgres.query(admin, f'CREATE DATABASE "{name}"')
    with closing(postgres.session(admin.with_database(name))) as opened:
        yield opened
    postgres.drop_database(admin, name)


@pytest.mark.parametrize(("setup", "sql"), CASES, ids=[sql for _, sql in CASES])
def test_detector_matches_what_postgres_refuses_inside_a_transaction(
    session: Session, setup: str, sql: str
) -> None:
    # GIVEN the detector's verdict on the statement
    (statement,) = split_statements(sql, Path("case.sql"))
    refused_by_us = needs_autocommit(statement)
    # WHEN the server runs it inside a transaction block (rolled back either way)
    session.query("BEGIN")
    try:
        for part in split_statements(setup, Path("setup.sql")):
            session.query(part.sql)
        try:
            session.query(statement.sql)
            refused_by_server = False
        except SqlError as error:
            assert error.sqlstate == "25001", f"{sql}: unexpected {error.one_line()}"
            refused_by_server = True
    finally:
        session.rollback_quietly()
    # THEN both agree
    assert refused_by_us == refused_by_server


def test_add_value_is_allowed_in_a_transaction_but_its_use_is_not(session: Session) -> None:
    # GIVEN an enum value added inside a transaction (what the engine commits after)
    (statement,) = split_statements("ALTER TYPE mood ADD VALUE 'great'", Path("x.sql"))
    assert adds_enum_value(statement) and not needs_autocommit(statement)
    session.query("BEGIN")
    try:
        session.query("CREATE TYPE mood AS ENUM ('ok')")
        session.query("COMMIT")
        session.query("BEGIN")
        session.query(statement.sql)
        # WHEN the same transaction uses it THEN PostgreSQL refuses: unsafe use of new value
        with pytest.raises(SqlError) as refused:
            session.query("SELECT 'great'::mood")
        assert refused.value.sqlstate == "55P04"
    finally:
        session.rollback_quietly()
