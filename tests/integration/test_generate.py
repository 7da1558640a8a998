"""The data generator: deterministic rows, loaded with COPY in one transaction."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from db_init import engine, generate
from db_init.deadline import Deadline
from db_init.errors import SqlError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.postgres import REPO, database_url, query, session

SMALL = generate.Scale(
    tenants=3, orders=500, users_per_tenant=4, campaigns_per_tenant=5, audit_logs_per_tenant=10
)


def _rows(scale: generate.Scale) -> dict[str, list[generate.Row]]:
    return {table.name: list(table.rows()) for table in generate.tables(scale)}


def test_same_scale_and_seed_give_the_same_rows_and_another_seed_does_not() -> None:
    assert _rows(SMALL) == _rows(SMALL)
    other = _rows(generate.Scale(**{**SMALL.__dict__, "seed": 7}))
    assert other["orders"] != _rows(SMALL)["orders"]


def test_orders_are_spread_unevenly_over_tenants_and_add_up() -> None:
    orders = _rows(generate.Scale(tenants=10, orders=10_000))["orders"]
    per_tenant: dict[object, int] = {}
    for order in orders:
        per_tenant[order[1]] = per_tenant.get(order[1], 0) + 1
    assert sum(per_tenant.values()) == 10_000
    assert max(per_tenant.values()) > 2 * min(per_tenant.values())


def test_csv_quotes_what_needs_quoting() -> None:
    text = "".join(generate.csv_chunks([("a,b", 'say "hi"', None, True, ["x y", 'q"'], "")]))
    assert text == '"a,b","say ""hi""",,t,"{""x y"",""q\\""""}",""\n'


@pytest.fixture
def schema(target: ConnectionSettings, sql_dir: Path) -> ConnectionSettings:
    engine.apply(target, ApplyOptions(sql_dir=sql_dir), Deadline.after(60))
    return target


def test_load_copies_every_table_and_reports_progress(schema: ConnectionSettings) -> None:
    seen: list[tuple[str, int, int]] = []
    with closing(session(schema)) as s:
        loaded = generate.load(s, SMALL, progress=lambda t, d, n: seen.append((t, d, n)))

    expected = {name: len(rows) for name, rows in _rows(SMALL).items()}
    assert loaded == expected
    for name, count in expected.items():
        assert query(schema, f"SELECT count(*) FROM {name}") == [(count,)]
    assert ("orders", 500, 500) in seen
    # every fulfillment row belongs to an order of the same tenant
    assert query(
        schema,
        "SELECT count(*) FROM fulfillment f JOIN orders o USING (order_id) WHERE o.tenant_id <> f.tenant_id",
    ) == [(0,)]


def test_a_failed_load_leaves_no_rows_behind(schema: ConnectionSettings) -> None:
    with closing(session(schema)) as s:
        generate.load(s, SMALL)
        with pytest.raises(SqlError) as raised:
            generate.load(s, SMALL)  # same tenants again: duplicate keys
    assert raised.value.sqlstate == "23505"
    assert query(schema, "SELECT count(*) FROM orders") == [(500,)]


def test_csv_files_load_to_the_same_rows(schema: ConnectionSettings, tmp_path: Path) -> None:
    paths = generate.write_csv(SMALL, tmp_path / "csv")
    with closing(session(schema)) as s:
        loaded = generate.load_csv(s, paths)
    assert loaded == {name: len(rows) for name, rows in _rows(SMALL).items()}


def test_progress_bar_prints_a_line_per_finished_table() -> None:
    out = io.StringIO()
    bar = generate.ProgressBar(out)
    bar("orders", 10, 20)
    bar("orders", 20, 20)
    assert out.getvalue().count("\n") == 1
    assert "orders" in out.getvalue() and "100%" in out.getvalue()


def test_cli_generate_loads_again_after_the_tenants_that_exist_and_refuses_a_repeat(
    schema: ConnectionSettings,
) -> None:
    url = database_url(schema)
    command = [
        sys.executable,
        "-m",
        "db_init",
        "generate",
        "--tenants",
        "2",
        "--orders",
        "50",
        "--database-url",
        url,
    ]
    env = {"PYTHONPATH": str(REPO / "lambda"), "PATH": "/usr/bin:/bin"}

    first = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    after = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    repeat = [*command, "--first-tenant", "1"]
    again = subprocess.run(repeat, capture_output=True, text=True, env=env, check=False)

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("loaded ") and " rows into 7 tables" in first.stdout
    assert after.returncode == 0, after.stderr  # by default it starts after T001-T002
    assert "(tenants T003-T004)" in after.stdout
    assert again.returncode == 1  # failed, not usage
    assert "pass --first-tenant past the tenants in the database" in again.stderr
    assert again.stderr.strip().endswith("nothing was loaded")
    assert schema.password not in again.stderr + again.stdout
    assert query(schema, "SELECT count(*) FROM orders") == [(100,)]
