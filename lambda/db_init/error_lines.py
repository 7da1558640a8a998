"""Which line of a file a server error points at: its position, a PL/pgSQL line, a COPY row."""

from __future__ import annotations

import re
from dataclasses import dataclass

from db_init.db import ServerError
from db_init.scripts import Script
from db_init.splitter import Statement, body_offset

_PLPGSQL = re.compile(r"^PL/pgSQL function (?P<routine>.+?) line (?P<line>\d+)", re.MULTILINE)
_COPY_ROW = re.compile(r"^COPY [^\n]*?, line (?P<line>\d+)")
_ROUTINE = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+"
    r"(?:(?:\"[^\"]+\"|[^\s.(\"]+)\s*\.\s*)?(?:\"(?P<quoted>[^\"]+)\"|(?P<name>[^\s(\"]+))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Location:
    """The file line to name, and what to say instead of the server's CONTEXT (None: keep it)."""

    line: int
    context: str | None = None


def locate(script: Script, statement: Statement, error: ServerError) -> Location:
    """The failing line: of a DO block or routine of this file, a COPY row, or the position."""
    routine = _PLPGSQL.search(error.context or "")
    if routine is not None:
        found = _routine_line(script, statement, routine["routine"], int(routine["line"]))
        if found is not None:
            return found
    row = _COPY_ROW.match(error.context or "")
    if row is not None and statement.copy_data is not None:
        number = int(row["line"])
        return Location(statement.copy_line + number - 1, f"COPY row {number}")
    return Location(script.line_of(statement, error.position))


def _routine_line(
    script: Script, statement: Statement, routine: str, body_line: int
) -> Location | None:
    if routine == "inline_code_block":
        if not statement.words or statement.words[0] != "DO":
            return None
        line = _body_line(statement, body_line)
        return None if line is None else Location(line, f"in the DO block, its line {body_line}")
    name = routine.split("(", 1)[0].rsplit(".", 1)[-1].strip('"').lower()
    statements = script.statements
    upto = next((k for k, s in enumerate(statements) if s is statement), len(statements) - 1)
    for candidate in reversed(statements[: upto + 1]):  # the latest definition before the failure
        defined = _ROUTINE.match(candidate.sql)
        if defined is None:
            continue
        defined_name = defined["quoted"] or (defined["name"] or "").lower()
        if defined_name.lower() != name:
            continue
        line = _body_line(candidate, body_line)
        if line is None:
            return None
        called = f", called by line {statement.line}" if candidate is not statement else ""
        return Location(line, f"in {routine} (line {body_line} of its body{called})")
    return None


def _body_line(statement: Statement, body_line: int) -> int | None:
    offset = body_offset(statement.sql)
    if offset is None:
        return None
    return statement.line + statement.sql.count("\n", 0, offset) + body_line - 1
