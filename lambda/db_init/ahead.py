"""A database ahead of the bundle: which recorded migrations are *future*, and what that allows."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from db_init.errors import FutureMigrationsError
from db_init.ledger import Entry
from db_init.scripts import Kind, Script, ScriptSet

log = logging.getLogger(__name__)
SHOWN = 3  # future versions named in a message; the rest are counted
LOGGED = 50  # future versions listed in the warning's fields, so one line stays small


def future_entries(scriptset: ScriptSet, history: Sequence[Entry]) -> tuple[Entry, ...]:
    """Recorded migrations newer than the newest bundled one, if the bundle is a prefix."""
    # A prefix: every bundled migration is recorded with its own checksum, and nothing below
    # the newest bundled version is recorded that the bundle lacks. Anything else (a gap, an
    # edited file, a bundled migration never applied) is not "future": the planner refuses it.
    if not scriptset.migrations:
        return ()  # an empty sql/ is a broken build, not an older one
    newest = scriptset.migrations[-1].version
    recorded = {e.version: e for e in history if e.kind is Kind.MIGRATION}
    later = tuple(recorded[v] for v in sorted(recorded) if v > newest)
    if not later:
        return ()
    bundled = {m.version: m.checksum for m in scriptset.migrations}
    if any(recorded.get(v) is None or recorded[v].checksum != c for v, c in bundled.items()):
        return ()
    if any(v not in bundled for v in recorded if v <= newest):
        return ()
    return later


def known(scriptset: ScriptSet, history: Sequence[Entry]) -> list[Entry]:
    """The history without its future migrations: what this bundle can plan against."""
    future = {e.version for e in future_entries(scriptset, history)}
    return [e for e in history if e.kind is not Kind.MIGRATION or e.version not in future]


def labels(entries: Sequence[Entry]) -> tuple[str, ...]:
    """`V004`, `V005`, ... of future entries."""
    return tuple(f"V{e.version:03d}" for e in entries)


def describe(entries: Sequence[Entry]) -> str:
    """`V004, V005, V006 (+3 more, newest V009__x.sql)` for messages."""
    shown = ", ".join(f"V{e.version:03d}" for e in entries[:SHOWN])
    more = f"+{len(entries) - SHOWN} more, " if len(entries) > SHOWN else ""
    return f"{shown} ({more}newest {entries[-1].script})"


def enforce(database: str, scriptset: ScriptSet, future: Sequence[Entry], *, policy: str) -> None:
    """Refuse future migrations under "fail"; under "ignore" say once that nothing is applied."""
    if not future:
        return
    newest = scriptset.migrations[-1].label
    if policy == "fail":
        raise FutureMigrationsError(
            f"{database} is ahead: future migrations {describe(future)} beyond this build's "
            f"{newest}; nothing was applied -- deploy the build that has them or set "
            "OnFutureMigrations (--on-future) to ignore"
        )
    log.warning(
        "database %s is ahead of this build: future migrations %s beyond its newest %s; "
        "nothing is applied and only what sql/ declares is verified (on-future: ignore)",
        database,
        describe(future),
        newest,
        extra={"future_versions": list(labels(future[:LOGGED]))},
    )


def hold_back(pending: Sequence[Script]) -> list[Script]:
    """Nothing runs over a newer schema: each seed this build would re-run is named and skipped."""
    for script in pending:
        log.warning(
            "%s/%s not applied: the database is ahead of this build",
            script.path.parent.name,
            script.name,
        )
    return []
