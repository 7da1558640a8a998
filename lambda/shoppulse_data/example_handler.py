"""Example Lambda handler: a tenant's order totals, audited, through the proxy as shoppulse_app."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from shoppulse_data.audit import record_audit
from shoppulse_data.connection import Connection, connect
from shoppulse_data.credentials import LoginSource
from shoppulse_data.errors import ConnectError
from shoppulse_data.settings import ClientConfig
from shoppulse_data.tenancy import tenant_transaction

Event = Mapping[str, Any]
Handler = Callable[[Event, object], dict[str, Any]]
SUMMARY = (
    "SELECT count(*), coalesce(sum(net_revenue), 0) FROM orders"
    " WHERE tenant_id = :tenant_id AND status = 'Completed'"
)


def build(config: ClientConfig, *, login: LoginSource | None = None) -> Handler:
    """A handler that keeps one connection per container and opens it on first use."""
    opened: list[Connection] = []

    def handle(event: Event, context: object) -> dict[str, Any]:
        del context
        tenant_id = str(event.get("tenant_id", ""))
        if not opened:
            opened.append(connect(config, login=login))
        try:
            with tenant_transaction(opened[0], tenant_id) as transaction:
                # The WHERE is for the planner (tenant indexes); row-level security is the guard.
                count, revenue = transaction.run(SUMMARY, tenant_id=tenant_id)[0]
                record_audit(
                    transaction,
                    "orders.summary",
                    user_id=event.get("user_id"),
                    resource_type="orders",
                )
        except ConnectError:
            opened.pop().close()  # reconnect on the next invocation
            raise
        return {"tenant_id": tenant_id, "completed_orders": count, "net_revenue": str(revenue)}

    return handle


_handler: Handler | None = None


def handler(event: Event, context: object) -> dict[str, Any]:
    """Lambda entry point: the connection facts come from grant_connect's environment."""
    global _handler  # noqa: PLW0603 - one handler (and connection) per container, built lazily
    if _handler is None:
        _handler = build(ClientConfig.from_environment(os.environ))
    return _handler(event, context)
