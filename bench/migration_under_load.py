"""Application latency while a migration applies: pgbench runs the spec's sample queries.

Two pgbench runs of the same length on a populated database: a baseline, then one during
which V902 (ALTER TABLE orders ADD COLUMN) and V903 (CREATE INDEX CONCURRENTLY, a
non-transactional file) apply. Reports p50/p99 per run from pgbench's per-transaction log,
and the longest lock wait seen in pg_locks.waitstart. Target: p99 <= 2x baseline and no wait
longer than lock_timeout.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from bench.local_server import (
    SQL_DIR,
    client_args,
    client_env,
    create_database,
    median,
    percentile,
    run_sql,
    throwaway_server,
)
from db_init import engine
from db_init.db import connect_once
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.settings import ApplyOptions, ConnectionSettings

SECONDS = 12  # each pgbench run
MIGRATE_AFTER_S = 3
CLIENTS = 4
LOCK_TIMEOUT_MS = 2_000
EXTRA_TENANTS, ORDERS, CAMPAIGNS, USERS = 20, 200_000, 20_000, 2_000

POPULATE = [
    f"""INSERT INTO tenants (tenant_id, tenant_name, plan_tier)
        SELECT 'X' || lpad(i::text, 3, '0'), 'Load tenant ' || i, 'Standard'
        FROM generate_series(1, {EXTRA_TENANTS}) AS i""",
    f"""INSERT INTO users (user_id, tenant_id, cognito_user_id, email, role, status)
        SELECT 'U' || CASE WHEN i < 1000 THEN lpad(i::text, 3, '0') ELSE i::text END,
               t.tenant_id, 'sub-' || i, 'user' || i || '@load.example',
               (ARRAY['Admin', 'Finance', 'Operations', 'Marketing'])[1 + i % 4],
               CASE WHEN i % 10 = 0 THEN 'Inactive' ELSE 'Active' END
        FROM generate_series(1, {USERS}) AS i
        JOIN LATERAL (SELECT tenant_id FROM tenants ORDER BY tenant_id
                      OFFSET ((i - 1) % (3 + {EXTRA_TENANTS})) LIMIT 1) t ON true""",
    f"""INSERT INTO orders (order_id, tenant_id, order_date, store_id, region, gross_revenue,
                           discount_amount, net_revenue, status)
        SELECT 'ORD-' || i, t.tenant_id, date '2023-01-01' + (i % 730), 'S' || (i % 50),
               (ARRAY['WEST', 'EAST', 'NORTH', 'SOUTH'])[1 + i % 4], 100, 10, 90, 'Completed'
        FROM generate_series(1, {ORDERS}) AS i
        JOIN LATERAL (SELECT tenant_id FROM tenants ORDER BY tenant_id
                      OFFSET (i % (3 + {EXTRA_TENANTS})) LIMIT 1) t ON true""",
    """INSERT INTO fulfillment (order_id, tenant_id, fulfillment_status, carrier, sla_met)
        SELECT order_id, tenant_id, 'Delivered', 'UPS', (random() > 0.1)
        FROM orders WHERE right(order_id, 1) <> '7'""",
    f"""INSERT INTO marketing_campaigns (campaign_id, tenant_id, campaign_name, channel, date,
                                        status, spend, revenue_attributed)
        SELECT 'CMP-' || i, t.tenant_id, 'Campaign ' || i, 'Email', date '2024-01-01' + (i % 365),
               'Completed', (i % 1000), (i % 3000)
        FROM generate_series(1, {CAMPAIGNS}) AS i
        JOIN LATERAL (SELECT tenant_id FROM tenants ORDER BY tenant_id
                      OFFSET (i % (3 + {EXTRA_TENANTS})) LIMIT 1) t ON true""",
    """INSERT INTO governance_rules (tenant_id, user_id, dimension, "values")
        SELECT tenant_id, user_id, 'region', ARRAY['WEST', 'EAST'] FROM users""",
    "ANALYZE",
]

# The spec's sample queries, verbatim (the audit insert included); one pgbench script each.
QUERIES = {
    "users": """SELECT user_id, email, role, status FROM users
WHERE tenant_id = 'T001' AND status = 'Active' ORDER BY email;""",
    "orders": """SELECT o.order_id, o.order_date, o.net_revenue, f.fulfillment_status, f.sla_met
FROM orders o LEFT JOIN fulfillment f ON o.order_id = f.order_id
WHERE o.tenant_id = 'T001' AND o.order_date >= '2024-01-01' ORDER BY o.order_date DESC;""",
    "roi": """SELECT campaign_id, channel, spend, revenue_attributed,
CASE WHEN spend > 0 THEN (revenue_attributed / spend) ELSE 0 END as roi
FROM marketing_campaigns WHERE tenant_id = 'T001'
AND date BETWEEN '2024-01-01' AND '2024-12-31' ORDER BY roi DESC;""",
    "governance": """SELECT dimension, values FROM governance_rules
WHERE tenant_id = 'T001' AND user_id = 'U001';""",
    "audit": """INSERT INTO audit_logs (tenant_id, user_id, action, resource_type, resource_id,
details, ip_address) VALUES ('T001', 'U001', 'user.created', 'user', 'U002',
'{"email": "newuser@example.com", "role": "Finance"}'::jsonb, '192.168.1.1'::inet);""",
}

MIGRATIONS = {
    "V902__orders_sales_channel.sql": "ALTER TABLE orders ADD COLUMN sales_channel varchar(20);\n",
    "V903__orders_tenant_region_index.sql": (
        "-- shoppulse:non-transactional\n"
        "CREATE INDEX CONCURRENTLY idx_orders_tenant_region ON orders (tenant_id, region);\n"
    ),
}


class LockWatch:
    """Polls pg_locks for the longest wait (now() - waitstart) of any not-granted lock."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self._settings = replace(settings, application_name="bench-lockwatch")
        self.longest_s = 0.0
        self.holder = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with closing(connect_once(self._settings, operation_timeout_s=10)) as session:
            while not self._stop.is_set():
                rows = session.query(
                    """SELECT extract(epoch FROM now() - l.waitstart)::float8, a.application_name
                       FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                       WHERE NOT l.granted AND l.waitstart IS NOT NULL
                       ORDER BY 1 DESC LIMIT 1"""
                )
                if rows and rows[0][0] > self.longest_s:
                    self.longest_s, self.holder = float(rows[0][0]), str(rows[0][1])
                time.sleep(0.005)


def pgbench(
    server: LocalServer, target: ConnectionSettings, scripts_dir: Path, log_prefix: Path
) -> subprocess.Popen[str]:
    """Start pgbench over the sample queries (equal weights), logging every transaction."""
    script_args = [a for name in QUERIES for a in ("-f", str(scripts_dir / f"{name}.sql"))]
    return subprocess.Popen(
        [
            str(server.bin_dir / "pgbench"), *client_args(target), "-n", "-c", str(CLIENTS),
            "-j", "2", "-T", str(SECONDS), "-l", f"--log-prefix={log_prefix}", *script_args,
        ],
        env=client_env(target),
        cwd=scripts_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def latencies_ms(log_prefix: Path, *, between: tuple[float, float] | None = None) -> list[float]:
    """Per-transaction latencies (ms) from pgbench's logs, optionally only those that were
    running at some point in the `between` window (epoch seconds)."""
    values = []
    for path in log_prefix.parent.glob(f"{log_prefix.name}.*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            latency_ms = int(fields[2]) / 1000
            ended = int(fields[4]) + int(fields[5]) / 1e6
            if between is None or (ended >= between[0] and ended - latency_ms / 1000 <= between[1]):
                values.append(latency_ms)
    return values


def summary(name: str, values: list[float]) -> str:
    """One line of figures for a run."""
    return (
        f"{name:22} {len(values):7} txns  p50 {median(values):7.2f} ms  "
        f"p99 {percentile(values, 0.99):7.2f} ms  max {max(values):8.2f} ms"
    )


def main() -> None:
    """Populate, run the baseline, run with the migration, print the figures."""
    logging.getLogger("db_init").setLevel(logging.ERROR)  # undeclared column/index warnings
    with throwaway_server() as (server, admin), tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        sql_dir = workdir / "sql"
        shutil.copytree(SQL_DIR, sql_dir)
        target = create_database(admin, "bench_load")
        options = ApplyOptions(sql_dir=sql_dir, apply_seeds=True, lock_timeout_ms=LOCK_TIMEOUT_MS)
        engine.apply(target, options, Deadline.never())
        started = time.perf_counter()
        run_sql(target, *POPULATE)
        print(
            f"migration_under_load: populated {ORDERS} orders, {CAMPAIGNS} campaigns, "
            f"{USERS} users in {time.perf_counter() - started:.1f} s; {CLIENTS} clients, "
            f"{SECONDS} s per run, lock_timeout {LOCK_TIMEOUT_MS} ms"
        )
        for name, text in QUERIES.items():
            (workdir / f"{name}.sql").write_text(text + "\n")

        with LockWatch(target) as baseline_watch:
            pgbench(server, target, workdir, workdir / "base").communicate()
        baseline = latencies_ms(workdir / "base")

        for name, text in MIGRATIONS.items():
            (sql_dir / "migrations" / name).write_text(text)
        with LockWatch(target) as watch:
            running = pgbench(server, target, workdir, workdir / "migr")
            time.sleep(MIGRATE_AFTER_S)
            window_start = time.time()
            result = engine.apply(target, options, Deadline.after(60))
            window = (window_start, time.time())
            running.communicate()
        during = latencies_ms(workdir / "migr")
        in_window = latencies_ms(workdir / "migr", between=window)
        migration_s = window[1] - window[0]

    print(summary("baseline", baseline))
    print(summary("with migration", during))
    print(summary("  while it applied", in_window))
    print(
        f"migration {' '.join(result.applied_versions)} took {migration_s * 1000:.0f} ms; "
        f"longest lock wait {watch.longest_s * 1000:.1f} ms ({watch.holder or 'none'}); "
        f"baseline longest {baseline_watch.longest_s * 1000:.1f} ms; "
        f"lock_timeout {LOCK_TIMEOUT_MS} ms"
    )
    ratio_p50 = median(during) / median(baseline)
    ratio_p99 = percentile(during, 0.99) / percentile(baseline, 0.99)
    print(f"RATIO migration_under_load p50 (with / without): {ratio_p50:.2f}x")
    print(f"RATIO migration_under_load p99 (with / without): {ratio_p99:.2f}x (target <= 2x)")
    print(
        f"RATIO migration_under_load p99 while it applied / baseline p99: "
        f"{percentile(in_window, 0.99) / percentile(baseline, 0.99):.2f}x"
    )
    print(
        f"RATIO migration_under_load longest lock wait / lock_timeout: "
        f"{watch.longest_s * 1000 / LOCK_TIMEOUT_MS:.3f}x (target < 1)"
    )


if __name__ == "__main__":
    main()
