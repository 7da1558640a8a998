"""The history table (what was applied, when, by whom) and the advisory lock around appliers."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from db_init.db import Session, StatementFailedError, as_error
from db_init.deadline import Deadline
from db_init.errors import DbInitError, LockBusyError
from db_init.scripts import Kind, Script

log = logging.getLogger(__name__)

SCHEMA = "shoppulse_meta"
TABLE = f"{SCHEMA}.schema_history"
# Two-int advisory lock key, per database: ('SPDB', 'MIGR') as ASCII.
LOCK_KEY = (0x53504442, 0x4D494752)

_CREATE = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        kind text NOT NULL CHECK (kind IN ('migration', 'seed')),
        version integer NOT NULL,
        description text NOT NULL,
        script text NOT NULL,
        checksum char(64) NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        duration_ms integer NOT NULL,
        applied_by text NOT NULL DEFAULT current_user,
        allowed jsonb,
        baseline boolean NOT NULL DEFAULT false,
        PRIMARY KEY (kind, version)
    )""",
    f"COMMENT ON TABLE {TABLE} IS 'Applied ShopPulse migrations and seeds (shoppulse-db)'",
)
# Columns added after the first release; ledgers created before them get them in ensure().
_LATER_COLUMNS = {
    "allowed": "jsonb",  # the lint allow markers ({rule, reason, line}) the file carried
    "baseline": "boolean NOT NULL DEFAULT false",  # recorded by `baseline`, not run by us
}


@dataclass(frozen=True)
class Entry:
    """One applied script as recorded."""

    kind: Kind
    version: int
    script: str
    checksum: str
    applied_at: datetime


def exists(session: Session) -> bool:
    """Whether the history table has been created in this database."""
    rows = session.query("SELECT to_regclass(:name) IS NOT NULL", name=TABLE)
    return bool(rows[0][0])


def read(session: Session) -> list[Entry]:
    """Every recorded script, ordered by kind and version."""
    if not exists(session):
        return []
    rows = session.query(
        f"SELECT kind, version, script, checksum, applied_at FROM {TABLE} ORDER BY kind, version"
    )
    return [Entry(Kind(k), int(v), s, c, at) for k, v, s, c, at in rows]


@dataclass(frozen=True)
class Detail:
    """How a recorded script was applied: for `status`."""

    checksum: str
    duration_ms: int
    applied_by: str
    baseline: bool


def details(session: Session) -> dict[tuple[Kind, int], Detail]:
    """Checksum, duration, applier and baseline flag of every recorded script."""
    if not exists(session):
        return {}
    columns = {
        row[0]
        for row in session.query(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:name) AND attnum > 0",
            name=TABLE,
        )
    }
    baseline = "baseline" if "baseline" in columns else "false"
    rows = session.query(
        f"SELECT kind, version, checksum, duration_ms, applied_by, {baseline} FROM {TABLE}"
    )
    return {(Kind(k), int(v)): Detail(c, int(d), str(by), bool(b)) for k, v, c, d, by, b in rows}


def ensure(session: Session) -> None:
    """Create the history schema and table if missing (inside the caller's transaction)."""
    present = {
        row[0]
        for row in session.query(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:name) AND attnum > 0",
            name=TABLE,
        )
    }
    if not present:
        try:
            session.execute_pipelined(_CREATE)
        except StatementFailedError as failed:
            raise as_error(failed.error) from failed.error
        return
    # Checked first so an up-to-date ledger is not locked ACCESS EXCLUSIVE on every run.
    for column, definition in _LATER_COLUMNS.items():
        if column not in present:
            session.query(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {column} {definition}")


@dataclass(frozen=True)
class Applied:
    """One script to record: how long it took and the lint allow markers it carried."""

    script: Script
    duration_ms: int
    allowed: Sequence[Mapping[str, object]] = ()
    baseline: bool = False


def record(session: Session, *applied: Applied) -> None:
    """Record scripts as applied, in one statement; a re-applied seed replaces its row."""
    if not applied:
        return
    rows: list[str] = []
    params: dict[str, object] = {}
    for n, item in enumerate(applied):
        rows.append(
            f"(:kind{n}, :version{n}, :description{n}, :script{n}, :checksum{n}, :duration_ms{n},"
            f" CAST(:allowed{n} AS jsonb), :baseline{n})"
        )
        params |= {
            f"kind{n}": item.script.kind.value,
            f"version{n}": item.script.version,
            f"description{n}": item.script.description,
            f"script{n}": item.script.name,
            f"checksum{n}": item.script.checksum,
            f"duration_ms{n}": item.duration_ms,
            f"allowed{n}": json.dumps(list(item.allowed)) if item.allowed else None,
            f"baseline{n}": item.baseline,
        }
    session.query(
        f"""INSERT INTO {TABLE}
              (kind, version, description, script, checksum, duration_ms, allowed, baseline)
            VALUES {", ".join(rows)}
            ON CONFLICT (kind, version) DO UPDATE SET
              description = EXCLUDED.description, script = EXCLUDED.script,
              checksum = EXCLUDED.checksum, duration_ms = EXCLUDED.duration_ms,
              allowed = EXCLUDED.allowed, baseline = EXCLUDED.baseline,
              applied_at = now(), applied_by = current_user""",
        **params,
    )


@contextmanager
def locked(session: Session, *, deadline: Deadline, wait_s: float) -> Iterator[None]:
    """Hold the per-database migration lock; wait up to `wait_s` for another applier."""
    give_up = min(deadline.at, time.monotonic() + wait_s)
    delay, announced = 0.05, False
    while not session.query("SELECT pg_try_advisory_lock(:a, :b)", a=LOCK_KEY[0], b=LOCK_KEY[1])[0][
        0
    ]:
        if time.monotonic() + delay > give_up:
            raise LockBusyError(
                f"another applier ({_holder(session)}) still holds the migration lock after "
                f"{wait_s:.0f}s; let it finish, then run again"
            )
        if not announced:
            log.info("waiting for another applier (%s) to finish", _holder(session))
            announced = True
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    try:
        yield
    finally:
        try:
            session.query("SELECT pg_advisory_unlock(:a, :b)", a=LOCK_KEY[0], b=LOCK_KEY[1])
        except DbInitError as error:  # a lost connection releases the lock with it
            log.warning("could not release the migration lock: %s", error.one_line())


def _holder(session: Session) -> str:
    rows = session.query(
        """SELECT a.pid, coalesce(a.application_name, '') FROM pg_locks l
           JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :a AND l.objid = :b
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
        a=LOCK_KEY[0],
        b=LOCK_KEY[1],
    )
    return f"pid {rows[0][0]} {rows[0][1]}".strip() if rows else "a session that just finished"
