"""What ShopPulse services import: connect through the proxy, tenant transactions, audit records."""

from shoppulse_data.audit import record_audit
from shoppulse_data.connection import Connection, TenantTransaction, Transaction, connect
from shoppulse_data.credentials import IamLogin, Login, LoginSource, SecretLogin, StaticLogin
from shoppulse_data.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    CredentialsError,
    DataAccessError,
    QueryError,
    TenantIdError,
    TlsError,
)
from shoppulse_data.settings import AuthMode, ClientConfig
from shoppulse_data.tenancy import tenant_transaction
from shoppulse_data.tenant_ids import check_tenant_id

__all__ = [
    "AuthMode",
    "AuthenticationError",
    "ClientConfig",
    "ConfigError",
    "ConnectError",
    "Connection",
    "CredentialsError",
    "DataAccessError",
    "IamLogin",
    "Login",
    "LoginSource",
    "QueryError",
    "SecretLogin",
    "StaticLogin",
    "TenantIdError",
    "TenantTransaction",
    "TlsError",
    "Transaction",
    "check_tenant_id",
    "connect",
    "record_audit",
    "tenant_transaction",
]
