"""The expected-catalog cache: reused by key, and never read from a directory others may write."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from db_init import catalog_cache
from db_init.catalog import Entry

CATALOG = {("table", "public.t"): Entry("public.t", "table")}


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_a_stored_catalog_is_loaded_by_its_key_only() -> None:
    catalog_cache.store("k1", CATALOG)

    assert catalog_cache.load("k1") == CATALOG
    assert catalog_cache.load("k2") is None
    assert catalog_cache.directory().stat().st_mode & 0o777 == 0o700


def test_a_directory_others_may_write_is_not_trusted() -> None:
    # GIVEN someone else could have planted a catalog that hides drift
    catalog_cache.store("k1", CATALOG)
    catalog_cache.directory().chmod(0o777)

    # THEN it is neither read nor written
    assert catalog_cache.load("k1") is None
    catalog_cache.store("k2", CATALOG)
    assert not (catalog_cache.directory() / "k2.json").exists()


def test_a_damaged_file_is_a_miss() -> None:
    catalog_cache.store("k1", CATALOG)
    (catalog_cache.directory() / "k1.json").write_text("[[1, 2")

    assert catalog_cache.load("k1") is None
