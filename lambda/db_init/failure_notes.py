"""A failed run's one-line message, corrected to say what this run did keep."""

from __future__ import annotations

from db_init.errors import DbInitError

NOTHING_COMMITTED = "nothing from this run was committed"
# SQLSTATEs of "already exists": what a first migration meets on a database built by hand
ALREADY_EXISTS = frozenset({"42P07", "42710", "42P06", "42723", "42P16"})


def reworded(error: DbInitError, message: str) -> DbInitError:
    """`error` with a new message (same class, SQLSTATE and outcome)."""
    error.args = (" ".join(message.split()),)
    return error


def committed_before(error: DbInitError, *, kept: list[str], not_applied: list[str]) -> DbInitError:
    """Say which scripts of this run stay committed and which were not applied."""
    truth = (
        f"committed by this run and kept: {' '.join(kept)}; "
        f"not applied: {' '.join(not_applied) or 'none'}"
    )
    text = str(error)
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
