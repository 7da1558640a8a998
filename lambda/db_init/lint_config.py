"""Lint settings: PostgreSQL version, rules switched off, paths; from `[tool.shoppulse-db.lint]`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from db_init.errors import SettingsError
from db_init.lint_catalog import RULES

# The oldest engine version infra/database.py deploys; verdicts that depend on the version
# (a constant default is free from 11, SET NOT NULL trusts a CHECK from 12) follow it.
DEFAULT_PG_VERSION = 16
OLDEST_PG_VERSION = 9
TABLE = ("tool", "shoppulse-db", "lint")
_KEYS = ("pg-version", "disable", "paths")


@dataclass(frozen=True)
class LintSettings:
    """How to lint: which PostgreSQL the verdicts assume, which rules are off, what to lint."""

    pg_version: int = DEFAULT_PG_VERSION
    disabled: frozenset[str] = field(default_factory=frozenset)
    paths: tuple[Path, ...] = ()
    source: str = "defaults"  # where these came from, for the output

    def with_pg_version(self, version: int | None) -> LintSettings:
        """The same settings with a PostgreSQL version given on the command line."""
        return self if version is None else replace(self, pg_version=pg_version(version))


def pg_version(value: object) -> int:
    """A PostgreSQL major version: 9 to 99 (`16`, `"16"`, `"16.4"`)."""
    text = str(value).strip()
    major = text.split(".", 1)[0]
    if not major.isdigit() or not OLDEST_PG_VERSION <= int(major) <= 99:
        raise SettingsError(f"PostgreSQL version {text!r}: give a major version such as 16")
    return int(major)


def load(pyproject: Path) -> LintSettings:
    """Settings from `pyproject` (missing file or table: the defaults)."""
    import tomllib  # noqa: PLC0415 - only the CLI reads pyproject; the Lambda imports this module

    if not pyproject.is_file():
        return LintSettings()
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{pyproject}: not valid TOML ({error})") from None
    table: Any = document
    for key in TABLE:
        table = table.get(key) if isinstance(table, dict) else None
    if table is None:
        return LintSettings()
    return parse(table, where=f"{pyproject} [{'.'.join(TABLE)}]", root=pyproject.parent)


def parse(table: object, *, where: str, root: Path) -> LintSettings:
    """Validate the lint table; paths are relative to `root` (the pyproject's directory)."""
    if not isinstance(table, dict):
        raise SettingsError(f"{where}: expected a table")
    for key in table:
        if key not in _KEYS:
            raise SettingsError(f"{where}: unknown key {key!r}{did_you_mean(key, _KEYS)}")
    disabled = table.get("disable", [])
    if not isinstance(disabled, list) or not all(isinstance(r, str) for r in disabled):
        raise SettingsError(f"{where}: disable must be a list of rule ids")
    for rule in disabled:
        if rule not in RULES or not RULES[rule].allowable:
            raise SettingsError(
                f"{where}: disable: {rule!r} is no rule that can be switched off"
                f"{did_you_mean(rule, allowable_rules())}"
            )
    paths = table.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise SettingsError(f"{where}: paths must be a list of strings")
    try:
        version = pg_version(table.get("pg-version", DEFAULT_PG_VERSION))
    except SettingsError as error:
        raise SettingsError(f"{where}: pg-version: {error}") from None
    return LintSettings(
        pg_version=version,
        disabled=frozenset(disabled),
        paths=tuple(root / p for p in paths),
        source=where,
    )


def allowable_rules() -> list[str]:
    """Rule ids a marker may allow and `disable` may switch off."""
    return [rule for rule, spec in RULES.items() if spec.allowable]


def did_you_mean(word: str, choices: Any) -> str:
    """`; did you mean 'x'?` for the closest choice, or ''."""
    import difflib  # noqa: PLC0415 - needed only on an error path

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
