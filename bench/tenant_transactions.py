"""Tenant transactions per second through PgBouncer: tenant_transaction vs the same queries bare.

One run, the arms alternating transaction by transaction on the same clients and queries:
  tenant_transaction     BEGIN + set_config('app.tenant_id', $1, true) in one round trip, Q, COMMIT
  plain                  BEGIN, Q, COMMIT (no tenant setting)
  set_config separately  BEGIN, set_config as its own statement (3 round trips in pg8000), Q, COMMIT
all as a role that row-level security does not filter and through the same pool, so the only
difference is the tenant setting (row-level security's own cost is bench/queries_at_scale.py's).
Q is a tenant's order totals and an audit insert. Prints `RATIO ...` lines (target >= 0.9x).
Run: `make bench` or `.venv/bin/python -m bench.tenant_transactions [--seconds S] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

from bench.local_server import median, throwaway_server
from db_init.settings import ConnectionSettings
from shoppulse_data import (
    AuthMode,
    ClientConfig,
    Connection,
    Login,
    StaticLogin,
    Transaction,
    connect,
    tenant_transaction,
)
from shoppulse_data.audit import _INSERT as AUDIT_INSERT
from tests.pgbouncer import PgBouncer, PoolSettings
from tests.tenants import ORDERS_PER_TENANT, create_app_database

DATABASE = "bench_tenants"
CLIENTS = 4
SERVER_CONNECTIONS = 2
TENANTS = sorted(ORDERS_PER_TENANT)
LOCAL_SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:local-AbCdEf"
TOTALS = (
    "SELECT count(*), coalesce(sum(net_revenue), 0) FROM orders"
    " WHERE tenant_id = :tenant_id AND order_date >= :since"
)
Work = Callable[[Connection, str], None]


def _queries(transaction: Transaction, tenant: str) -> None:
    transaction.run(TOTALS, tenant_id=tenant, since="2024-01-01")
    transaction.run(
        AUDIT_INSERT,
        tenant_id=tenant,
        user_id=None,
        action="bench.read",
        resource_type="orders",
        resource_id=None,
        details="{}",
        ip_address=None,
    )


def with_tenant(connection: Connection, tenant: str) -> None:
    """One tenant_transaction."""
    with tenant_transaction(connection, tenant) as transaction:
        _queries(transaction, tenant)


def set_separately(connection: Connection, tenant: str) -> None:
    """The tenant set by its own statement after BEGIN, as a straightforward client would."""
    with connection.transaction() as transaction:
        transaction.run("SELECT set_config('app.tenant_id', :tenant_id, true)", tenant_id=tenant)
        _queries(transaction, tenant)


def plain(connection: Connection, tenant: str) -> None:
    """The same statements in a transaction that sets no tenant."""
    with connection.transaction() as transaction:
        _queries(transaction, tenant)


def one_round(arms: dict[str, tuple[list[Connection], Work]], seconds: float) -> dict[str, float]:
    """Every client alternates the arms transaction by transaction for `seconds`.

    Alternating on the same client makes each arm run under the same load at the same moment
    (a shared machine's swings would otherwise land on whichever arm ran then). An arm's rate
    is its transactions over the time clients spent in it, summed over the clients.
    """
    names = list(arms)
    spent = [dict.fromkeys(names, 0.0) for _ in range(CLIENTS)]
    done = [dict.fromkeys(names, 0) for _ in range(CLIENTS)]
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        turn = 0
        while time.monotonic() < stop:
            for name in names[turn % 2 :] + names[: turn % 2]:  # alternate who goes first
                connections, work = arms[name]
                started = time.perf_counter()
                work(connections[index], TENANTS[(index + turn) % len(TENANTS)])
                spent[index][name] += time.perf_counter() - started
                done[index][name] += 1
            turn += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        name: sum(done[i][name] / spent[i][name] for i in range(CLIENTS) if spent[i][name])
        for name in names
    }


def _connections(bouncer: PgBouncer, login: Login) -> list[Connection]:
    config = ClientConfig(
        host=bouncer.host,
        port=bouncer.port,
        database=DATABASE,
        auth=AuthMode.SECRET,
        secret_arn=LOCAL_SECRET,
        tls=False,
        application_name="bench",
    )
    return [connect(config, login=StaticLogin(login)) for _ in range(CLIENTS)]


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds per arm")
    args = parser.parse_args()
    with throwaway_server() as (_, admin):
        app_db = create_app_database(admin, DATABASE)
        owner: ConnectionSettings = app_db.owner
        users = {owner.user: owner.password}
        pool = PoolSettings(
            server_host=owner.host,
            server_port=owner.port,
            database=DATABASE,
            users=users,
            pool_size=SERVER_CONNECTIONS,
        )
        bouncer = PgBouncer(pool).start()
        try:
            # One login, so both arms share one PgBouncer pool (pools are per user).
            unfiltered = _connections(bouncer, Login(owner.user, owner.password))
            arms: dict[str, tuple[list[Connection], Work]] = {
                "tenant_transaction": (unfiltered, with_tenant),
                "plain": (unfiltered, plain),
                "set_config separately": (unfiltered, set_separately),
            }
            one_round(arms, 0.5)  # warm up: server connections, plans, caches
            rates: dict[str, list[float]] = {name: [] for name in arms}
            for _ in range(args.rounds):
                for name, rate in one_round(arms, args.seconds).items():
                    rates[name].append(rate)
            for connection in unfiltered:
                connection.close()
        finally:
            bouncer.stop()
    print(
        f"{CLIENTS} clients through PgBouncer (transaction mode, {SERVER_CONNECTIONS} server"
        f" connections), arms alternating per transaction, {args.rounds} rounds of"
        f" {args.seconds:g} s; median tx/s (time spent in the arm, summed over clients):"
    )
    for name, values in rates.items():
        print(
            f"  {name:<22} {median(values):8.0f}  (rounds: {', '.join(f'{v:.0f}' for v in values)})"
        )
    # Within a round the arms ran interleaved, so each round's ratio is a paired comparison.
    for name in ("tenant_transaction", "set_config separately"):
        ratios = [ours / base for ours, base in zip(rates[name], rates["plain"], strict=True)]
        print(f"RATIO {name} / plain = {median(ratios):.2f}x (median of {len(ratios)} rounds)")


if __name__ == "__main__":
    main()
