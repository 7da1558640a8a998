"""How an application reaches the database: one frozen config, read once from the environment."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from shoppulse_data.errors import ConfigError

# The CA bundle shipped beside the packages (lambda/certs): the Amazon root CAs RDS Proxy uses.
DEFAULT_CA_BUNDLE = Path(__file__).resolve().parent.parent / "certs" / "aws-rds-proxy-ca-bundle.pem"
DEFAULT_PORT = 5432
DEFAULT_DATABASE = "shoppulse"
# Environment variables that DatabaseStack.grant_connect sets on a function (infra/app_access.py).
ENV_HOST = "SHOPPULSE_DB_HOST"
ENV_PORT = "SHOPPULSE_DB_PORT"
ENV_DATABASE = "SHOPPULSE_DB_NAME"
ENV_AUTH = "SHOPPULSE_DB_AUTH"
ENV_USER = "SHOPPULSE_DB_USER"
ENV_SECRET_ARN = "SHOPPULSE_DB_SECRET_ARN"  # noqa: S105 - a variable name
ENV_REGION = "AWS_REGION"
_USER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class AuthMode(Enum):
    """How the client proves who it is to the proxy."""

    IAM = "iam"  # a 15-minute IAM auth token as the password (rds-db:connect)
    SECRET = "secret"  # noqa: S105 - username and password from the role's secret


@dataclass(frozen=True)
class ClientConfig:
    """Everything connect() needs; no password here (it comes from the secret or IAM)."""

    host: str
    auth: AuthMode
    port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    user: str | None = None  # IAM: the login role; SECRET: taken from the secret
    secret_arn: str | None = None
    region: str | None = None
    ca_bundle: Path | None = DEFAULT_CA_BUNDLE
    # Plaintext is only for a pooler or server on loopback (tests); the proxy requires TLS.
    tls: bool = True
    connect_timeout_s: float = 5.0
    # The server cancels a tenant transaction's statement after this; the socket waits longer.
    statement_timeout_ms: int = 15_000
    socket_timeout_s: float = 30.0
    application_name: str = "shoppulse-data"

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError(f"{ENV_HOST}: the proxy endpoint is required")
        if not 0 < self.port < 65536:
            raise ConfigError(f"{ENV_PORT}: {self.port} is not a TCP port")
        if self.auth is AuthMode.IAM and (self.user is None or not _USER.fullmatch(self.user)):
            raise ConfigError(
                f"{ENV_USER}: IAM authentication needs the role name, got {self.user!r}"
            )
        if self.auth is AuthMode.IAM and not self.tls:
            raise ConfigError("IAM authentication tokens are only sent over TLS")
        if self.auth is AuthMode.SECRET and not self.secret_arn:
            raise ConfigError(f"{ENV_SECRET_ARN}: secret authentication needs the role's secret")
        if not 0 < self.statement_timeout_ms < self.socket_timeout_s * 1000:
            raise ConfigError(
                f"statement_timeout_ms {self.statement_timeout_ms} must be positive and below the"
                f" socket timeout ({self.socket_timeout_s:g} s)"
            )
        if not self.tls and not _is_loopback(self.host):
            raise ConfigError(f"plaintext is only allowed to a loopback address, not {self.host}")

    @classmethod
    def from_environment(cls, env: Mapping[str, str], **overrides: object) -> ClientConfig:
        """The config grant_connect hands a function through its environment variables."""
        try:
            auth = AuthMode(env.get(ENV_AUTH, ""))
        except ValueError:
            raise ConfigError(
                f"{ENV_AUTH}: expected 'iam' or 'secret', got {env.get(ENV_AUTH)!r}"
            ) from None
        port = env.get(ENV_PORT, str(DEFAULT_PORT))
        if not port.isdigit():
            raise ConfigError(f"{ENV_PORT}: expected a port number, got {port!r}")
        values: dict[str, object] = {
            "host": env.get(ENV_HOST, ""),
            "auth": auth,
            "port": int(port),
            "database": env.get(ENV_DATABASE, DEFAULT_DATABASE),
            "user": env.get(ENV_USER) or None,
            "secret_arn": env.get(ENV_SECRET_ARN) or None,
            "region": env.get(ENV_REGION) or None,
        }
        return cls(**(values | overrides))  # type: ignore[arg-type]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
