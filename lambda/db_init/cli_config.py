"""The project the CLI runs in: its root and `shoppulse-db.toml` or `[tool.shoppulse-db]`."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from db_init.errors import SettingsError

CONFIG_FILE = "shoppulse-db.toml"
PYPROJECT = "pyproject.toml"
# keys of the table that belong to other readers ([tool.shoppulse-db.lint] is the lint's own)
RESERVED_KEYS = frozenset({"lint"})


@dataclass(frozen=True)
class TargetConfig:
    """Settings a config file may give, at its top level or for one named target."""

    database_url: str | None = None
    database_url_env: str | None = None  # name of the variable holding the URL (with password)
    secret_arn: str | None = None
    region: str | None = None
    host: str | None = None
    port: int | None = None
    ca_bundle: Path | None = None
    database: str | None = None
    data_dir: Path | None = None
    sql_dir: Path | None = None
    lock_timeout_ms: int | None = None
    statement_timeout_ms: int | None = None
    timeout: float | None = None
    on_drift: str | None = None

    def url(self) -> str | None:
        """The database URL, read from the named environment variable when the file says so."""
        if self.database_url_env:
            value = os.environ.get(self.database_url_env)
            if not value:
                raise SettingsError(
                    f"environment variable {self.database_url_env} (database_url_env) is not set"
                )
            return value
        return self.database_url


@dataclass(frozen=True)
class Project:
    """Where the project is, and what its config file says (empty without one)."""

    root: Path | None  # None: not inside a project (no sql/, no config file)
    config_file: Path | None = None
    defaults: TargetConfig = TargetConfig()
    default_target: str | None = None
    targets: Mapping[str, TargetConfig] = field(default_factory=lambda: MappingProxyType({}))

    def target(self, name: str | None) -> TargetConfig:
        """The named target's settings over the file's top-level ones."""
        chosen = name or self.default_target
        if chosen is None:
            return self.defaults
        if chosen not in self.targets:
            where = self.config_file or "no config file"
            known = ", ".join(sorted(self.targets)) or "none"
            raise SettingsError(f"no target {chosen!r} in {where} (targets: {known})")
        merged = {
            f.name: getattr(self.targets[chosen], f.name) or getattr(self.defaults, f.name)
            for f in fields(TargetConfig)
        }
        return TargetConfig(**merged)


def find_project(start: Path) -> Project:
    """The nearest directory at or above `start` with a config file or sql/migrations."""
    for directory in (start.resolve(), *start.resolve().parents):
        config = directory / CONFIG_FILE
        if config.is_file():
            return _parse(directory, config, _read_toml(config))
        pyproject = directory / PYPROJECT
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get("shoppulse-db")
            if isinstance(table, dict):
                return _parse(directory, pyproject, table, prefix="tool.shoppulse-db.")
        if (directory / "sql" / "migrations").is_dir():
            return Project(root=directory)
    return Project(root=None)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"cannot read {path}: {error}") from None


def _parse(root: Path, path: Path, table: dict[str, Any], *, prefix: str = "") -> Project:
    targets_table = table.get("targets", {})
    if not isinstance(targets_table, dict):
        raise SettingsError(f"{path}: {prefix}targets must be a table of [targets.<name>]")
    top = {k: v for k, v in table.items() if k not in {"targets", "default_target", *RESERVED_KEYS}}
    targets = {
        name: _target(root, path, f"{prefix}targets.{name}", body)
        for name, body in targets_table.items()
    }
    default = table.get("default_target")
    if default is not None and default not in targets:
        raise SettingsError(f"{path}: {prefix}default_target {default!r} is not a target")
    return Project(
        root=root,
        config_file=path,
        defaults=_target(root, path, prefix.rstrip(".") or "top level", top),
        default_target=default,
        targets=MappingProxyType(targets),
    )


_TYPES: dict[str, type] = {
    "database_url": str,
    "database_url_env": str,
    "secret_arn": str,
    "region": str,
    "host": str,
    "port": int,
    "ca_bundle": Path,
    "database": str,
    "data_dir": Path,
    "sql_dir": Path,
    "lock_timeout_ms": int,
    "statement_timeout_ms": int,
    "timeout": float,
    "on_drift": str,
}


def _value(root: Path, where: str, kind: type, value: object) -> object:
    if kind is Path:
        if not isinstance(value, str):
            raise SettingsError(f"{where} must be a path string")
        return root / value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise SettingsError(f"{where} must be a positive number")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SettingsError(f"{where} must be a whole number >= 0")
        return value
    if not isinstance(value, str) or not value:
        raise SettingsError(f"{where} must be a non-empty string")
    return value


def _target(root: Path, path: Path, where: str, body: object) -> TargetConfig:
    if not isinstance(body, dict):
        raise SettingsError(f"{path}: {where} must be a table")
    values: dict[str, Any] = {}
    for key, value in body.items():
        kind = _TYPES.get(key)
        if kind is None:
            known = ", ".join(sorted(_TYPES))
            raise SettingsError(f"{path}: unknown setting {where}.{key} (known: {known})")
        values[key] = _value(root, f"{path}: {where}.{key}", kind, value)
    url = values.get("database_url")
    if url and urlsplit(url).password:
        # Why: config files get committed; a password belongs in the environment or a secret.
        raise SettingsError(
            f"{path}: {where}.database_url carries a password; put the URL in an environment "
            "variable and name it with database_url_env"
        )
    if url and values.get("database_url_env"):
        raise SettingsError(f"{path}: {where}: give database_url or database_url_env, not both")
    return TargetConfig(**values)
