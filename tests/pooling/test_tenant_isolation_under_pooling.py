"""Many clients, three tenants, 2 server connections in transaction mode: nothing crosses over.

The same harness drives the session-level pattern the README used to recommend
(`set_config('app.tenant_id', ..., false)`), and shows it leaking, so these tests can fail.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from db_init.db import Session
from shoppulse_data import Connection, record_audit, tenant_transaction
from tests.pgbouncer import PgBouncer
from tests.pooling.conftest import SERVER_CONNECTIONS, OpenPooled, pooled_settings
from tests.postgres import query, session
from tests.tenants import ORDERS_PER_TENANT, AppDatabase

TENANTS = sorted(ORDERS_PER_TENANT)
CLIENTS = 8
ROUNDS = 3
TRANSACTIONS_PER_ROUND = 25
# What a transaction can see: its server connection, the tenant set there, and the orders.
LOOK = (
    "SELECT pg_backend_pid(), current_setting('app.tenant_id', true),"
    " (SELECT coalesce(string_agg(DISTINCT tenant_id, ','), '') FROM orders),"
    " (SELECT count(*) FROM orders)"
)
SERVER_STATE = "SELECT pg_backend_pid(), current_setting('app.tenant_id', true)"
VISIBLE = "SELECT coalesce(string_agg(DISTINCT tenant_id, ','), ''), count(*) FROM orders"


@dataclass
class Observations:
    """What every client saw, and what the pool's server connections held between rounds."""

    transactions: Counter[str] = field(default_factory=Counter)
    crossed: list[str] = field(default_factory=list)
    backends: set[int] = field(default_factory=set)
    left_behind: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, tenant: str, row: tuple[Any, ...]) -> None:
        """Record one transaction's view; anything but exactly its own tenant's rows crossed."""
        pid, _, visible, count = row
        with self.lock:
            self.transactions[tenant] += 1
            self.backends.add(int(pid))
            if visible != tenant or count != ORDERS_PER_TENANT[tenant]:
                self.crossed.append(f"{tenant} saw {visible or 'nothing'} ({count} rows)")


def _scoped_client(connection: Connection, seed: int, seen: Observations) -> None:
    rng = random.Random(seed)  # noqa: S311 - a seeded, reproducible workload
    for _ in range(TRANSACTIONS_PER_ROUND):
        tenant = rng.choice(TENANTS)
        with tenant_transaction(connection, tenant) as transaction:
            row = transaction.run(LOOK)[0]
            record_audit(transaction, "pooling.read", details={"client": seed})
        seen.saw(tenant, row)


def _session_level_client(client: Session, seed: int, seen: Observations) -> None:
    rng = random.Random(seed)  # noqa: S311 - a seeded, reproducible workload
    for _ in range(TRANSACTIONS_PER_ROUND):
        tenant = rng.choice(TENANTS)
        client.query(f"SELECT set_config('app.tenant_id', '{tenant}', false)")
        time.sleep(rng.random() * 0.002)  # the application's own work between its statements
        seen.saw(tenant, client.query(LOOK)[0])


def _drive(
    clients: list[Any],
    work: Callable[[Any, int, Observations], None],
    probe: Callable[[], dict[int, str | None]],
) -> Observations:
    """ROUNDS rounds of all clients at once; after each, the state of every server connection."""
    seen = Observations()
    for round_number in range(ROUNDS):

        def run(client: Any, seed: int) -> None:
            try:
                work(client, seed, seen)
            except BaseException as error:  # reported by the test, not lost in a thread
                seen.errors.append(error)

        threads = [
            threading.Thread(target=run, args=(client, round_number * 100 + index))
            for index, client in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for pid, tenant in probe().items():
            if tenant not in (None, ""):
                seen.left_behind.append(f"round {round_number}: server {pid} kept {tenant}")
    return seen


def _server_connections(open_pooled: OpenPooled) -> Callable[[], dict[int, str | None]]:
    """Look at every pooled server connection: hold one transaction on each at the same time."""
    first, second = open_pooled(), open_pooled()

    def probe() -> dict[int, str | None]:
        with first.transaction() as one:
            pid_one, tenant_one = one.run(SERVER_STATE)[0]
            with second.transaction() as two:  # the other server connection: the first is busy
                pid_two, tenant_two = two.run(SERVER_STATE)[0]
        state = {int(pid_one): tenant_one, int(pid_two): tenant_two}
        assert len(state) == SERVER_CONNECTIONS, f"expected both server connections, got {state}"
        return state

    return probe


def test_concurrent_tenant_transactions_never_cross_and_the_session_pattern_does(
    app_db: AppDatabase, bouncer: PgBouncer, open_pooled: OpenPooled
) -> None:
    probe = _server_connections(open_pooled)
    before = query(app_db.owner, "SELECT count(*) FROM audit_logs WHERE action = 'pooling.read'")
    # GIVEN 8 clients over 2 server connections, each client picking one of 3 tenants at random
    # WHEN every transaction goes through tenant_transaction
    scoped = _drive([open_pooled() for _ in range(CLIENTS)], _scoped_client, probe)
    # THEN the 8 clients really shared 2 server connections, no transaction saw another
    # tenant's rows (or none), and between rounds no server connection had a tenant set
    assert scoped.errors == []
    assert sum(scoped.transactions.values()) == CLIENTS * ROUNDS * TRANSACTIONS_PER_ROUND
    assert len(scoped.backends) == SERVER_CONNECTIONS
    assert scoped.crossed == []
    assert scoped.left_behind == []
    # AND every audit row was committed with its own transaction's tenant
    audited = query(
        app_db.owner,
        "SELECT tenant_id, count(*) FROM audit_logs WHERE action = 'pooling.read' GROUP BY 1",
    )
    assert before == [(0,)]
    assert dict(audited) == dict(scoped.transactions)

    # WHEN the same clients set the tenant session-level, as the README used to say
    sessions = [session(pooled_settings(app_db, bouncer)) for _ in range(CLIENTS)]
    try:
        leaky = _drive(sessions, _session_level_client, probe)
    finally:
        for client in sessions:
            client.close()
    # THEN transactions ran with another client's tenant and saw its rows, and the pooled
    # server connections kept tenants between transactions
    assert leaky.errors == []
    assert leaky.crossed, "the session-level pattern did not leak: the harness cannot detect leaks"
    assert leaky.left_behind


def test_with_one_free_server_connection_the_session_pattern_leaks_every_time(
    app_db: AppDatabase, bouncer: PgBouncer, open_pooled: OpenPooled
) -> None:
    holder = open_pooled()
    with holder.transaction() as held:
        # GIVEN one of the 2 server connections held by an open transaction
        held.run("SELECT 1")
        with (
            closing(session(pooled_settings(app_db, bouncer))) as alice,
            closing(session(pooled_settings(app_db, bouncer))) as bob,
        ):
            # WHEN two clients set their tenant session-level and the first then reads
            alice.query("SELECT set_config('app.tenant_id', 'T001', false)")
            bob.query("SELECT set_config('app.tenant_id', 'T002', false)")
            leaked = alice.query(VISIBLE)
            # THEN the first client reads the second client's tenant
            assert leaked == [("T002", ORDERS_PER_TENANT["T002"])]
            # WHEN a client uses tenant_transaction on that same (now dirty) server connection
            carol = open_pooled()
            with tenant_transaction(carol, "T001") as transaction:
                own = transaction.run(VISIBLE)
            # THEN it sees exactly its own tenant: the transaction-scoped value wins
            assert own == [("T001", ORDERS_PER_TENANT["T001"])]
