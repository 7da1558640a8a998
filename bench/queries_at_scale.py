"""The spec's sample queries at 1M+ orders over 100 tenants, under the application role.

Measures each query before and after the composite (tenant_id, ...) indexes of
V003__tenant_composite_indexes.sql, on the same data in one run, and prints latencies, ratios and
the plan each time. Run: `make bench` or `.venv/bin/python bench/queries_at_scale.py --help`.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lambda"))

from db_init import engine, generate  # noqa: E402
from db_init.db import Session, connect_once  # noqa: E402
from db_init.deadline import Deadline  # noqa: E402
from db_init.embedded import LocalServer  # noqa: E402
from db_init.settings import ApplyOptions, ConnectionSettings, RolePassword  # noqa: E402

INDEX_MIGRATION = 3  # V003 adds the composite indexes measured here
QUERIES = {
    # The spec's sample queries, verbatim but for the tenant / user they name.
    "users for a tenant": """SELECT user_id, email, role, status
FROM users
WHERE tenant_id = '{tenant}' AND status = 'Active'
ORDER BY email""",
    "orders with fulfillment": """SELECT o.order_id, o.order_date, o.net_revenue,
       f.fulfillment_status, f.sla_met
FROM orders o
LEFT JOIN fulfillment f ON o.order_id = f.order_id
WHERE o.tenant_id = '{tenant}'
  AND o.order_date >= '2024-01-01'
ORDER BY o.order_date DESC""",
    "campaign ROI": """SELECT campaign_id, channel, spend, revenue_attributed,
       CASE WHEN spend > 0 THEN (revenue_attributed / spend) ELSE 0 END as roi
FROM marketing_campaigns
WHERE tenant_id = '{tenant}'
  AND date BETWEEN '2024-01-01' AND '2024-12-31'
ORDER BY roi DESC""",
    "governance rules for a user": """SELECT dimension, values
FROM governance_rules
WHERE tenant_id = '{tenant}' AND user_id = '{user}'""",
    "recent orders (dashboard)": """SELECT order_id, order_date, net_revenue, status
FROM orders
WHERE tenant_id = '{tenant}' AND order_date >= '2025-12-01'
ORDER BY order_date DESC""",
    "orders by status (dashboard)": """SELECT count(*), sum(net_revenue)
FROM orders
WHERE tenant_id = '{tenant}' AND status = 'Processing'""",
}


def main() -> None:
    """Load the data, measure, add the indexes, measure again, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15, help="runs per query (median)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="shoppulse-bench-"))
    server = LocalServer(workdir / "pg", durable=False)
    try:
        owner = server.start(database="scale")
        print(f"server: {server.version()}; {args.orders:,} orders over {args.tenants} tenants")
        app_password = secrets.token_urlsafe(18)
        before_sql = _sql_without_indexes(workdir / "sql")
        roles = (RolePassword("shoppulse_app", app_password),)
        engine.apply(
            owner, ApplyOptions(sql_dir=before_sql, role_passwords=roles), Deadline.after(120)
        )
        scale = generate.Scale(tenants=args.tenants, orders=args.orders)
        started = time.monotonic()
        with closing(connect_once(owner, operation_timeout_s=None)) as session:
            rows = generate.load(session, scale, progress=generate.ProgressBar())
            session.query("ANALYZE")
        print(f"loaded {sum(rows.values()):,} rows in {time.monotonic() - started:.1f}s")
        tenants = _tenants_to_probe(owner)
        app = owner.with_credentials("shoppulse_app", app_password)
        before = _measure(app, tenants, args.rounds)

        started = time.monotonic()
        result = engine.apply(owner, ApplyOptions(sql_dir=REPO / "sql"), Deadline.after(600))
        print(f"applied {' '.join(result.applied_versions)} in {time.monotonic() - started:.1f}s")
        with closing(connect_once(owner, operation_timeout_s=None)) as session:
            session.query("ANALYZE")
        after = _measure(app, tenants, args.rounds)
        _report(tenants, before, after)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _sql_without_indexes(destination: Path) -> Path:
    shutil.copytree(REPO / "sql", destination)
    for path in (destination / "migrations").glob("V*.sql"):
        if int(path.name[1:].split("__")[0]) >= INDEX_MIGRATION:
            path.unlink()
    (destination / "expected_schema.toml").write_text("[tables]\n")  # not what is measured
    return destination


def _tenants_to_probe(owner: ConnectionSettings) -> dict[str, tuple[str, str, int]]:
    """The spec's T001, and the largest tenant: label -> (tenant, one of its users, orders)."""
    rows = {
        str(tenant): int(str(count))
        for tenant, count in _query(owner, "SELECT tenant_id, count(*) FROM orders GROUP BY 1")
    }
    largest = max(rows, key=lambda t: rows[t])
    probes = {}
    for label, tenant in (("T001", "T001"), ("largest", largest)):
        user = _query(owner, f"SELECT min(user_id) FROM users WHERE tenant_id = '{tenant}'")[0][0]
        probes[label] = (tenant, str(user), rows[tenant])
    return probes


Timings = dict[tuple[str, str], tuple[float, float, str]]


def _measure(
    app: ConnectionSettings, tenants: dict[str, tuple[str, str, int]], rounds: int
) -> Timings:
    """(query, tenant label) -> (median ms, p95 ms, plan summary), as the application role."""
    timings: Timings = {}
    with closing(connect_once(app, operation_timeout_s=None)) as session:
        for label, (tenant, user, _) in tenants.items():
            session.query("SELECT set_config('app.tenant_id', :t, false)", t=tenant)
            for name, template in QUERIES.items():
                sql = template.format(tenant=tenant, user=user)
                session.query(sql)  # warm the cache and the plan
                samples = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    session.query(sql)
                    samples.append((time.perf_counter() - started) * 1000)
                samples.sort()
                p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
                timings[(name, label)] = (statistics.median(samples), p95, _plan(session, sql))
    return timings


def _plan(session: Session, sql: str) -> str:
    """The scan nodes of the plan, e.g. `Index Scan using idx_orders_tenant_id_order_date`."""
    lines = [row[0] for row in session.query(f"EXPLAIN {sql}")]
    scans = [
        line.strip().lstrip("->").strip().split("  (")[0]
        for line in lines
        if "Scan" in line and "on " in line
    ]
    return "; ".join(scans)


def _query(settings: ConnectionSettings, sql: str) -> list[tuple[object, ...]]:
    with closing(connect_once(settings, operation_timeout_s=None)) as session:
        return session.query(sql)


def _report(tenants: dict[str, tuple[str, str, int]], before: Timings, after: Timings) -> None:
    print()
    for label, (tenant, _, orders) in tenants.items():
        print(f"tenant {label} = {tenant}: {orders:,} orders")
    header = f"{'query':30} {'tenant':8} {'before ms':>10} {'after ms':>10} {'speed-up':>9}"
    print(header)
    print("-" * len(header))
    for (name, label), (median_before, _, plan_before) in before.items():
        median_after, _, plan_after = after[(name, label)]
        ratio = median_before / median_after if median_after else float("inf")
        print(f"{name:30} {label:8} {median_before:10.2f} {median_after:10.2f} {ratio:8.1f}x")
        print(f"{'':30}   before: {plan_before}")
        print(f"{'':30}   after:  {plan_after}")


if __name__ == "__main__":
    main()
