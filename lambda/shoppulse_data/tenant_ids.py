"""What a tenant id may look like, checked before anything is sent to the database."""

from __future__ import annotations

import re

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
