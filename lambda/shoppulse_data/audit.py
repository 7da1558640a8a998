"""Audit records written in the caller's tenant transaction, so they commit or vanish with it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

from shoppulse_data.connection import TenantTransaction
from shoppulse_data.errors import DataAccessError

# audit_logs column limits (V001)
_ACTION_MAX = 100
_RESOURCE_TYPE_MAX = 50
_RESOURCE_ID_MAX = 255
_INSERT = (
    "INSERT INTO audit_logs"
    " (tenant_id, user_id, action, resource_type, resource_id, details, ip_address)"
    " VALUES (:tenant_id, :user_id, :action, :resource_type, :resource_id,"
    " CAST(:details AS jsonb), CAST(:ip_address AS inet))"
    " RETURNING log_id"
)


def record_audit(
    transaction: TenantTransaction,
    action: str,
    *,
    user_id: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    details: Mapping[str, object] | None = None,
    ip_address: str | None = None,
) -> uuid.UUID:
    """Insert one audit_logs row for the transaction's tenant; returns its log_id."""
    _check_length("action", action, _ACTION_MAX, required=True)
    _check_length("resource_type", resource_type, _RESOURCE_TYPE_MAX)
    _check_length("resource_id", resource_id, _RESOURCE_ID_MAX)
    rows = transaction.run(
        _INSERT,
        tenant_id=transaction.tenant_id,
        user_id=user_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details=json.dumps(dict(details or {}), sort_keys=True, default=str),
        ip_address=ip_address,
    )
    log_id = rows[0][0]
    return log_id if isinstance(log_id, uuid.UUID) else uuid.UUID(str(log_id))


def _check_length(name: str, value: str | None, limit: int, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not value or len(value) > limit:
        raise DataAccessError(f"audit {name} must be 1-{limit} characters, got {len(value or '')}")
