"""INVALID indexes a failed CREATE INDEX CONCURRENTLY leaves behind: found and dropped."""

from __future__ import annotations

from db_init.db import Session, quote_identifier
from db_init.errors import DbInitError

_INVALID = """
SELECT n.nspname, c.relname FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid"""


def invalid(session: Session) -> set[tuple[str, str]]:
    """(schema, index) of every INVALID index in the database."""
    return {(str(schema), str(name)) for schema, name in session.query(_INVALID)}


def drop_new(session: Session, before: set[tuple[str, str]]) -> str:
    """Drop the INVALID indexes that appeared since `before`; a note saying what happened."""
    try:
        left = sorted(invalid(session) - before)
    except DbInitError:
        return "check for an INVALID index it may have left (pg_index.indisvalid)"
    notes: list[str] = []
    for schema, name in left:
        qualified = f"{quote_identifier(schema)}.{quote_identifier(name)}"
        try:
            session.query(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified}")
        except DbInitError as error:
            notes.append(
                f"it left the INVALID index {schema}.{name}; drop it before retrying: "
                f"DROP INDEX CONCURRENTLY {qualified} ({error.sqlstate or 'failed'})"
            )
        else:
            notes.append(f"dropped the INVALID index {schema}.{name} it left")
    return "; ".join(notes)
