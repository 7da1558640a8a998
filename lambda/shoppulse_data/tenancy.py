"""tenant_transaction: one checked tenant per transaction, set for that transaction only."""

from __future__ import annotations

from contextlib import AbstractContextManager

from shoppulse_data.connection import Connection, TenantTransaction


def tenant_transaction(
    connection: Connection, tenant_id: str
) -> AbstractContextManager[TenantTransaction]:
    """BEGIN, set app.tenant_id for this transaction only, yield, then COMMIT (ROLLBACK on error).

    A malformed tenant id is refused before anything is sent. Nothing outlives the transaction
    (no SET, no named prepared statement, no session lock, no temporary table), so RDS Proxy
    can multiplex and a transaction pooler cannot leak.
    """
    return connection.tenant_scope(tenant_id)
