"""What PostgreSQL 13-18 allows inside a transaction block, judged from a statement's words."""

from __future__ import annotations

import itertools
import re

from db_init.splitter import Statement

# Statements that end, start or hand over the engine's own transaction.
TRANSACTION_CONTROL = {
    "BEGIN", "COMMIT", "ROLLBACK", "START", "END", "ABORT", "SAVEPOINT", "RELEASE"
}  # fmt: skip
_ALWAYS = {
    ("VACUUM",),
    ("CREATE", "DATABASE"),
    ("DROP", "DATABASE"),
    ("CREATE", "TABLESPACE"),
    ("DROP", "TABLESPACE"),
    ("ALTER", "SYSTEM"),
    ("DISCARD", "ALL"),
}
_CLUSTER_OPTIONS = {"VERBOSE", "TRUE", "FALSE", "ON", "OFF"}
_OFF = {"FALSE", "OFF", "NO"}
_OPTIONS = re.compile(r"\bWITH\s*\((?P<options>[^()]*)\)\s*$", re.IGNORECASE)
_OPTION = re.compile(r"(?P<name>\w+)\s*(?:=?\s*(?P<value>'[^']*'|[\w.]+))?")


def is_transaction_control(statement: Statement) -> bool:
    """BEGIN, COMMIT, SAVEPOINT, PREPARE TRANSACTION, ...: the engine owns the transaction."""
    words = statement.words
    return bool(words) and (
        words[0] in TRANSACTION_CONTROL or words[:2] == ("PREPARE", "TRANSACTION")
    )


def needs_autocommit(statement: Statement) -> bool:  # noqa: PLR0911 - one return per rule
    """True for statements PostgreSQL refuses in a transaction block whatever the database holds."""
    # State-dependent refusals (DROP SUBSCRIPTION of one with a slot, CLUSTER of a partitioned
    # table) are left to the server, whose 25001 error then comes with the fix.
    words = statement.words
    if not words:
        return False
    if words[:1] in _ALWAYS or words[:2] in _ALWAYS:
        return True
    head = words[0]
    if head == "REINDEX":
        return _reindex(words)
    if head == "CLUSTER":
        return all(word in _CLUSTER_OPTIONS for word in words[1:])  # no table: every table
    if words[:2] == ("ALTER", "DATABASE"):
        return _adjacent(words, "SET", "TABLESPACE")
    if words[:2] == ("CREATE", "SUBSCRIPTION"):
        options = _options(statement.sql)
        # connect = false implies create_slot = false; only creating a slot is refused
        return _enabled(options, "create_slot", default=_enabled(options, "connect", True))
    if words[:2] == ("ALTER", "SUBSCRIPTION"):
        if _adjacent(words, "REFRESH", "PUBLICATION"):
            return True
        changes = any(_adjacent(words, verb, "PUBLICATION") for verb in ("SET", "ADD", "DROP"))
        return changes and _enabled(_options(statement.sql), "refresh", default=True)
    if head in ("CREATE", "DROP") and "INDEX" in words[1:3]:
        return _concurrently(words)
    if words[:2] == ("ALTER", "TABLE") and "DETACH" in words:
        return _concurrently(words)
    return False


def adds_enum_value(statement: Statement) -> bool:
    """ALTER TYPE ... ADD VALUE: the new value is usable only after the transaction commits."""
    return statement.words[:2] == ("ALTER", "TYPE") and _adjacent(statement.words, "ADD", "VALUE")


def _reindex(words: tuple[str, ...]) -> bool:
    if _concurrently(words):
        return True
    kinds = [w for w in words[1:] if w in ("SCHEMA", "DATABASE", "SYSTEM", "TABLE", "INDEX")]
    return bool(kinds) and kinds[0] in ("SCHEMA", "DATABASE", "SYSTEM")


def _concurrently(words: tuple[str, ...]) -> bool:
    """CONCURRENTLY as a keyword or option, unless switched off (REINDEX (CONCURRENTLY false))."""
    if "CONCURRENTLY" not in words:
        return False
    after = words.index("CONCURRENTLY") + 1
    return not (after < len(words) and words[after] in _OFF)


def _adjacent(words: tuple[str, ...], first: str, second: str) -> bool:
    return any(a == first and b == second for a, b in itertools.pairwise(words))


def _options(sql: str) -> dict[str, str]:
    """The trailing WITH (name = value, ...) list, names lower-case, values as written."""
    found = _OPTIONS.search(sql)
    if found is None:
        return {}
    options: dict[str, str] = {}
    for part in found["options"].split(","):
        option = _OPTION.match(part.strip())
        if option:
            options[option["name"].lower()] = (option["value"] or "true").strip("'")
    return options


def _enabled(options: dict[str, str], name: str, default: bool) -> bool:
    if name not in options:
        return default
    return options[name].upper() not in _OFF | {"0"}
