"""`apply --dry-run` on a database that does not exist yet: rehearsed in a scratch database."""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace

from db_init import engine
from db_init.db import Session, connect, quote_identifier
from db_init.deadline import Deadline
from db_init.errors import DbInitError, SqlError
from db_init.settings import ApplyOptions, ConnectionSettings

log = logging.getLogger(__name__)

_INVALID_CATALOG = "3D000"


def dry_run(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> tuple[engine.Result, str | None]:
    """Rehearse `apply`; (result, scratch database used, or None when the target existed)."""
    rehearse = replace(options, dry_run=True)
    try:
        return engine.apply(target, rehearse, deadline), None
    except SqlError as error:
        if error.sqlstate != _INVALID_CATALOG:
            raise
    scratch = f"{target.database[:40]}_rehearsal_{secrets.token_hex(4)}"
    log.info(
        "database %s does not exist yet: rehearsing its first deploy in scratch database %s "
        "(dropped afterwards)",
        target.database,
        scratch,
    )
    maintenance = _maintenance(target, options, deadline)
    try:
        _create(maintenance, target, scratch)
        try:
            # A scratch database is thrown away, so even non-transactional scripts are rehearsed.
            result = engine.apply(
                target.with_database(scratch), replace(options, dry_run=False), deadline
            )
        finally:
            maintenance.query(f"DROP DATABASE IF EXISTS {quote_identifier(scratch)} WITH (FORCE)")
    finally:
        maintenance.close()
    return (
        replace(
            result,
            database=target.database,
            dry_run=True,
            pending=tuple(a.script for a in result.applied),
            recorded=(),
        ),
        scratch,
    )


def _maintenance(target: ConnectionSettings, options: ApplyOptions, deadline: Deadline) -> Session:
    return connect(
        target.with_database(target.maintenance_database),
        deadline=deadline,
        retry_budget_s=options.connect_budget_s,
    )


def _create(maintenance: Session, target: ConnectionSettings, scratch: str) -> None:
    try:
        maintenance.query(f"CREATE DATABASE {quote_identifier(scratch)}")
    except DbInitError as error:
        if error.sqlstate == "42501":
            raise SqlError(
                f'database "{target.database}" does not exist and {target.user} may not create '
                "a scratch database to rehearse in: grant CREATEDB, or create the database first",
                sqlstate=error.sqlstate,
                where=None,
            ) from None
        raise
