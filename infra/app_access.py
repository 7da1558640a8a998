"""How applications reach the database: per-role proxy logins and grant_connect's grants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from infra.config import DATABASE_NAME, DATABASE_PORT, ConfigError
from infra.network import Network
from infra.proxy import Proxy, ProxyLogin
from infra.role_secrets import ANALYTICS_ROLE, APP_ROLE, RoleSecrets
from shoppulse_data.credentials import CLONE_SUFFIX
from shoppulse_data.settings import (
    ENV_AUTH,
    ENV_DATABASE,
    ENV_HOST,
    ENV_PORT,
    ENV_SECRET_ARN,
    ENV_USER,
    AuthMode,
)


class Grantee(Protocol):
    """A construct with security groups and an IAM principal: a Lambda function, an EC2 instance."""

    @property
    def connections(self) -> ec2.Connections:
        """Its security groups."""
        ...

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """Who receives the grants."""
        ...


@dataclass(frozen=True)
class RoleAccess:
    """One application role as grant_connect knows it."""

    database_user: str
    auth: AuthMode
    why: str


ROLE_ACCESS = {
    "app": RoleAccess(
        APP_ROLE,
        AuthMode.IAM,
        # ShopPulse services are Lambda functions and containers with an IAM role: a token
        # signed by that role lives 15 minutes and never needs storing, so no password can
        # leak from a service, and access is granted and revoked in IAM, not in the database.
        "IAM auth required: services sign a short-lived token with their own IAM role",
    ),
    "analytics": RoleAccess(
        ANALYTICS_ROLE,
        AuthMode.SECRET,
        # Reporting and BI tools connect with a stored user name and password and cannot sign
        # IAM tokens; the password is the rotated secret's, read with GetSecretValue.
        "password from the rotated secret: BI and reporting tools cannot sign IAM tokens",
    ),
}


@dataclass(frozen=True)
class ConnectionFacts:
    """What a client needs to connect; also set as environment variables on a Lambda function."""

    environment: dict[str, str]


def proxy_logins(role_secrets: RoleSecrets) -> list[ProxyLogin]:
    """The application roles' secrets to register with the proxy, each with its client auth."""
    return [
        ProxyLogin(
            secret=role_secrets.secrets[access.database_user],
            iam_auth=access.auth is AuthMode.IAM,
        )
        for access in ROLE_ACCESS.values()
    ]


def grant_connect(
    grantee: Grantee,
    *,
    role: str,
    proxy: Proxy,
    network: Network,
    role_secrets: RoleSecrets,
) -> ConnectionFacts:
    """Let `grantee` (connectable and grantable, in the stack's VPC) sign in as `role`."""
    access = ROLE_ACCESS.get(role)
    if access is None:
        raise ConfigError(f"grant_connect: role must be one of {sorted(ROLE_ACCESS)}, got {role!r}")
    postgres = ec2.Port.tcp(DATABASE_PORT)
    network.proxy_security_group.connections.allow_from(
        grantee, postgres, f"{role} client to proxy"
    )
    environment = {
        ENV_HOST: proxy.endpoint,
        ENV_PORT: str(DATABASE_PORT),
        ENV_DATABASE: DATABASE_NAME,
        ENV_AUTH: access.auth.value,
    }
    if access.auth is AuthMode.IAM:
        # The alternating-users rotation moves the secret (and so the proxy's login) between
        # the role and its clone; the client tries the other name when one is refused.
        for user in (access.database_user, access.database_user + CLONE_SUFFIX):
            proxy.proxy.grant_connect(grantee, user)
        environment[ENV_USER] = access.database_user
    else:
        secret = role_secrets.secrets[access.database_user]
        secret.grant_read(grantee)  # adds kms:Decrypt when the secret has a customer key
        network.endpoint_security_group.connections.allow_from(
            grantee, ec2.Port.tcp(443), f"{role} client to Secrets Manager"
        )
        # The secret's host/port are the instance's (its rotation signs in there directly);
        # clients take the proxy endpoint from these facts instead.
        environment[ENV_SECRET_ARN] = secret.secret_arn
    if isinstance(grantee, lambda_.Function):
        for name, value in environment.items():
            grantee.add_environment(name, value)
    return ConnectionFacts(environment)
