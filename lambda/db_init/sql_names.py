"""The object and role names a migration mentions, by PostgreSQL's parser where it is installed."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterable
from typing import Any

# Without the parser: comments, strings and dollar-quoted bodies are skipped; a quoted identifier
# keeps its case ("Orders" is not orders), an unquoted word folds to lower case as PostgreSQL does.
_TOKEN = re.compile(
    r"""--[^\n]*
      | /\*.*?\*/
      | [eE]'(?:\\.|''|[^'\\])*'
      | '(?:''|[^'])*'
      | (?P<dollar>\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$).*?(?P=dollar)
      | "(?P<quoted>(?:""|[^"])*)"
      | (?P<word>[A-Za-z_][A-Za-z_0-9$]*)""",
    re.VERBOSE | re.DOTALL,
)
# Parse-tree fields that hold names of what a statement changes; bodies and literals do not count.
_NOT_NAMES = frozenset({"defname", "priv_name", "location"})


def available() -> bool:
    """Whether PostgreSQL's parser (pglast) is installed; it is not in the Lambda bundle."""
    return importlib.util.find_spec("pglast") is not None


def named_in(statements: Iterable[str], *, parser: bool | None = None) -> frozenset[str]:
    """Every identifier the statements name (exact spelling, as the catalog stores it)."""
    use_parser = available() if parser is None else parser
    names: set[str] = set()
    for sql in statements:
        names |= _parsed(sql) if use_parser else _scanned(sql)
    return frozenset(names)


def _scanned(sql: str) -> set[str]:
    names: set[str] = set()
    for match in _TOKEN.finditer(sql):
        if match.group("quoted") is not None:
            names.add(match.group("quoted").replace('""', '"'))
        elif match.group("word"):
            names.add(match.group("word").lower())
    return names


def _parsed(sql: str) -> set[str]:
    from pglast.parser import ParseError, parse_sql_json  # noqa: PLC0415 - not in the Lambda

    try:
        tree = json.loads(parse_sql_json(sql))
    except ParseError:
        return _scanned(sql)  # the engine reports the syntax error when it runs the file
    names: set[str] = set()
    _walk(tree, names)
    return names


def _walk(node: Any, names: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, names)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in ("A_Const", "DoStmt") or (key == "DefElem" and value.get("defname") == "as"):
            continue  # literals, DO blocks and function bodies name nothing this file alters
        if key == "String" and isinstance(value, dict):
            names.add(str(value.get("sval", "")))
        elif isinstance(value, str) and key.endswith("name") and key not in _NOT_NAMES:
            names.add(value)
        else:
            _walk(value, names)
