"""Parsing settings at the edge: strict, with one-line errors and no secret in repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init.errors import SettingsError
from db_init.settings import (
    ConnectionSettings,
    database_name,
    parse_bool,
    parse_database_url,
    parse_int,
)


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False), ("FALSE", False)])
def test_parse_bool_is_strict_and_false_is_false(text: str, expected: bool) -> None:
    assert parse_bool("ApplySeeds", text) is expected


@pytest.mark.parametrize("text", ["yes", "1", "", "fals", "no"])
def test_parse_bool_rejects_anything_else(text: str) -> None:
    with pytest.raises(SettingsError, match='ApplySeeds must be "true" or "false"'):
        parse_bool("ApplySeeds", text)


def test_parse_int_checks_range_and_form() -> None:
    assert parse_int("LockTimeoutMs", " 5000 ", minimum=1, maximum=60_000) == 5000
    with pytest.raises(SettingsError, match="between 1 and 60000"):
        parse_int("LockTimeoutMs", "0", minimum=1, maximum=60_000)
    with pytest.raises(SettingsError, match="whole number"):
        parse_int("LockTimeoutMs", "5s", minimum=1, maximum=60_000)


@pytest.mark.parametrize(
    "name", ['x"; DROP TABLE tenants; --', "Shop", "a-b", "", "x" * 64, "ünï", "1db"]
)
def test_database_names_that_are_not_plain_identifiers_are_refused(name: str) -> None:
    with pytest.raises(SettingsError, match="not a plain identifier"):
        database_name(name)


def test_url_defaults_to_verify_full_and_hides_password() -> None:
    settings = parse_database_url("postgresql://app:s3cr%40t@db.example.com:6432/shop")
    assert (settings.host, settings.port, settings.database, settings.tls) == (
        "db.example.com",
        6432,
        "shop",
        True,
    )
    assert settings.password == "s3cr@t"
    assert "s3cr" not in repr(settings)


def test_plaintext_is_allowed_only_to_loopback() -> None:
    local = parse_database_url("postgresql://u:p@127.0.0.1/shoppulse?sslmode=disable")
    assert local.tls is False
    with pytest.raises(SettingsError, match="plaintext connection to non-loopback host"):
        parse_database_url("postgresql://u:p@db.example.com/shoppulse?sslmode=disable")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "must start with postgresql://"),
        ("postgresql://h/db", "needs a user and a host"),
        ("postgresql://u@h/db?sslmode=require", "sslmode=require is not supported"),
        ("postgresql://u@h/db?connect_timeout=3", "not supported: connect_timeout"),
        ("postgresql://u@h:99999/db", "invalid port"),
    ],
)
def test_bad_urls_get_one_line_errors(url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_database_url(url)


def test_missing_ca_bundle_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"CA bundle .* does not exist"):
        ConnectionSettings(
            host="db.example.com",
            port=5432,
            user="u",
            password="p",
            database="shoppulse",
            ca_bundle=tmp_path / "none.pem",
        )
