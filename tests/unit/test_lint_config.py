"""`[tool.shoppulse-db.lint]` in pyproject.toml: PostgreSQL version, rules off, paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init import lint_config
from db_init.errors import SettingsError
from db_init.lint_config import LintSettings
from tests.postgres import REPO


def _pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(body)
    return path


def test_the_table_sets_version_disabled_rules_and_paths_relative_to_the_file(
    tmp_path: Path,
) -> None:
    path = _pyproject(
        tmp_path,
        "[project]\nname = 'x'\n\n[tool.shoppulse-db.lint]\npg-version = 11\n"
        "disable = ['add-column-json', 'drop-default']\npaths = ['db/migrations']\n",
    )

    settings = lint_config.load(path)

    assert (settings.pg_version, settings.disabled, settings.paths) == (
        11,
        frozenset({"add-column-json", "drop-default"}),
        (tmp_path / "db" / "migrations",),
    )
    assert settings.with_pg_version(15).pg_version == 15


def test_no_file_or_no_table_gives_the_defaults(tmp_path: Path) -> None:
    assert lint_config.load(tmp_path / "missing.toml") == LintSettings()
    assert lint_config.load(_pyproject(tmp_path, "[tool.ruff]\n")) == LintSettings()
    assert lint_config.load(REPO / "pyproject.toml").pg_version == lint_config.DEFAULT_PG_VERSION


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("pg-versoin = 16", "unknown key 'pg-versoin'; did you mean 'pg-version'?"),
        (
            "disable = ['drop-colum']",
            "'drop-colum' is no rule that can be switched off; did you mean 'drop-column'?",
        ),
        ("disable = ['syntax-error']", "'syntax-error' is no rule that can be switched off"),
        ("disable = 'drop-column'", "disable must be a list of rule ids"),
        ("pg-version = 'sixteen'", "PostgreSQL version 'sixteen': give a major version"),
        ("paths = 'sql'", "paths must be a list of strings"),
    ],
)
def test_a_bad_setting_is_a_one_line_error_naming_file_and_key(
    body: str, message: str, tmp_path: Path
) -> None:
    path = _pyproject(tmp_path, f"[tool.shoppulse-db.lint]\n{body}\n")
    with pytest.raises(SettingsError, match=r"pyproject\.toml") as raised:
        lint_config.load(path)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_invalid_toml_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        lint_config.load(_pyproject(tmp_path, "[tool.shoppulse-db.lint\n"))


@pytest.mark.parametrize(("given", "major"), [(16, 16), ("16", 16), ("16.4", 16), (" 9 ", 9)])
def test_pg_version_accepts_a_major_version(given: object, major: int) -> None:
    assert lint_config.pg_version(given) == major
