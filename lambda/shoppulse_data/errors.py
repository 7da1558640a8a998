"""The errors an application meets through shoppulse_data, each with a one-line message."""

from __future__ import annotations


class DataAccessError(Exception):
    """Base of every error shoppulse_data raises; str() is one line and never holds a secret."""

    sqlstate: str | None = None

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.sqlstate = sqlstate


class ConfigError(DataAccessError):
    """A connection setting (argument or environment variable) is missing or invalid."""


class CredentialsError(DataAccessError):
    """The role's secret or an IAM auth token could not be obtained."""


class ConnectError(DataAccessError):
    """The proxy (or database) could not be reached or dropped the connection."""


class TlsError(ConnectError):
    """TLS to the proxy failed: the certificate or host name did not verify."""


class AuthenticationError(ConnectError):
    """The proxy refused the login (wrong or rotated password, expired token, unknown user)."""


class TenantIdError(DataAccessError):
    """A tenant id is malformed; refused before anything is sent to the database."""


class QueryError(DataAccessError):
    """A statement failed on the server; sqlstate says why."""
