"""tenant_transaction: one checked tenant per transaction, set for that transaction only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from shoppulse_data.connection import Connection, TenantTransaction
from shoppulse_data.errors import TenantIdError

# tenants.tenant_id is VARCHAR(10); the sample tenants are T001, T002, ...
TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,9}")


def check_tenant_id(tenant_id: object) -> str:
    """The tenant id unchanged, or TenantIdError when it cannot be one."""
    if not isinstance(tenant_id, str) or not TENANT_ID.fullmatch(tenant_id):
        shown = repr(tenant_id)[:40]
        raise TenantIdError(
            f"tenant id {shown} is malformed: expected 1-10 letters, digits, '_' or '-'"
            " starting with a letter or digit"
        )
    return tenant_id


@contextmanager
def tenant_transaction(connection: Connection, tenant_id: str) -> Iterator[TenantTransaction]:
    """BEGIN, set app.tenant_id for this transaction only, yield, then COMMIT (ROLLBACK on error).

    Nothing outlives the transaction (no SET, no named prepared statement, no session lock,
    no temporary table), so RDS Proxy can multiplex and a transaction pooler cannot leak.
    """
    checked = check_tenant_id(tenant_id)  # before anything is sent
    with connection.tenant_scope(checked) as transaction:
        yield transaction
