"""The compact migration manifest the custom resource carries so `cdk diff` shows new migrations."""

from __future__ import annotations

import hashlib
from pathlib import Path

from db_init.manifest import manifest_of
from tests.postgres import add_migration


def test_manifest_lists_each_migration_with_a_short_checksum_in_order(sql_dir: Path) -> None:
    add_migration(
        sql_dir, "V902__orders_channel.sql", "ALTER TABLE orders ADD COLUMN channel text;\n"
    )
    paths = sorted((sql_dir / "migrations").glob("V*.sql"))
    expected = [f"{p.name[:4]}:{hashlib.sha256(p.read_bytes()).hexdigest()[:8]}" for p in paths]

    assert manifest_of(sql_dir) == expected
    assert expected[-1].startswith("V902:")


def test_manifest_changes_when_a_migration_changes(sql_dir: Path) -> None:
    before = manifest_of(sql_dir)
    first = sql_dir / "migrations" / "V001__initial_schema.sql"
    first.write_text(first.read_text() + "\n-- edited\n")

    assert manifest_of(sql_dir) != before
    assert len(",".join(before)) < 20 * len(before)  # compact: well within template limits
