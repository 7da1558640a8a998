"""A failed run's one-line message, corrected to say what this run did keep."""

from __future__ import annotations

import re

from db_init import ledger
from db_init.db import Session
from db_init.errors import DbInitError, MigrationFailedError
from db_init.scripts import Kind, Script

NOTHING_COMMITTED = "nothing from this run was committed"
# How the engine names what a failed run kept (ADD VALUE and non-transactional commit points)
KEPT = "committed by this run and kept:"
_KEPT_CLAIM = re.compile(re.escape(KEPT) + r"[^;]*")
# SQLSTATEs of "already exists": what a first migration meets on a database built by hand
ALREADY_EXISTS = frozenset({"42P07", "42710", "42P06", "42723", "42P16"})


def explain(
    error: DbInitError, session: Session, history: list[ledger.Entry], pending: list[Script]
) -> DbInitError:
    """`error` corrected by what the history now records: what stays committed, or `baseline`."""
    if (
        isinstance(error, MigrationFailedError)
        and not history
        and error.sqlstate in ALREADY_EXISTS
        and pending
    ):
        return built_without_tool(error, first_migration=pending[0].label)
    try:
        recorded = ledger.read(session)
    except DbInitError:  # the connection is gone: the message cannot be checked, so it stays
        return error
    before = {(e.kind, e.version) for e in history}
    kept = [_label(e.kind, e.version) for e in recorded if (e.kind, e.version) not in before]
    if not kept:
        return error
    rest = [s.label for s in pending if s.label not in kept]
    return committed_before(error, kept=kept, not_applied=rest)


def _label(kind: Kind, version: int) -> str:
    return f"{'V' if kind is Kind.MIGRATION else 'S'}{version:03d}"


def reworded(error: DbInitError, message: str) -> DbInitError:
    """`error` with a new message (same class, SQLSTATE and outcome)."""
    error.args = (" ".join(message.split()),)
    return error


def committed_before(error: DbInitError, *, kept: list[str], not_applied: list[str]) -> DbInitError:
    """Say which scripts of this run stay committed and which were not applied."""
    truth = f"{KEPT} {' '.join(kept)}; not applied: {' '.join(not_applied) or 'none'}"
    text = str(error)
    if _KEPT_CLAIM.search(text):  # the engine's own account, replaced by what the history holds
        return reworded(error, _KEPT_CLAIM.sub(lambda _: truth, text, count=1))
    for claim in (NOTHING_COMMITTED, "nothing was committed"):
        if claim in text:
            return reworded(error, text.replace(claim, truth))
    return reworded(error, f"{text}; {truth}")


def built_without_tool(error: DbInitError, *, first_migration: str) -> DbInitError:
    """On a database with objects but no history: suggest adopting it with `baseline`."""
    text = str(error).replace("fix the file; ", "")
    return reworded(
        error,
        f"{text}; the database has this object but no shoppulse-db history, so it was built "
        "without the tool: check it with `shoppulse-db drift`, then adopt it with "
        f"`shoppulse-db baseline --version {first_migration}` (or the newest migration it matches)",
    )


def with_note(error: DbInitError, note: str) -> DbInitError:
    """`error` with a note appended."""
    return reworded(error, f"{error}; {note}")
