"""The RDS Proxy in front of the database: TLS required, credentials from the rotated secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.database import Database
from infra.network import Network


@dataclass(frozen=True)
class ProxyLogin:
    """A further database user clients may sign in as through the proxy, and how."""

    secret: secretsmanager.ISecret
    iam_auth: bool  # True: clients must present an IAM auth token; False: the secret's password


class Proxy(Construct):
    """RDS Proxy that pools connections and survives secret rotation and failover."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        network: Network,
        database: Database,
        logins: Sequence[ProxyLogin] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            db_proxy_name=f"shoppulse-{environment}",
            proxy_target=database.proxy_target,
            # The admin secret first (the initializer's login), then the application roles'
            # (infra/app_access.py); the proxy's role may read each of them.
            secrets=[database.secret, *(login.secret for login in logins)],
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[network.proxy_security_group],
            # Plaintext connections to the proxy are refused; the Lambda verifies its cert.
            require_tls=True,
            # The proxy signs in to the database with each secret through its own IAM role
            # (created here, read access to those secrets). The initializer authenticates with
            # the admin secret's password, so IAM auth stays off for it (with it on, that login
            # would be rejected); each application login chooses its own below.
            iam_auth=False,
            idle_client_timeout=Duration.minutes(30),
            debug_logging=False,
        )
        cfn_proxy = self.proxy.node.default_child
        if not isinstance(cfn_proxy, rds.CfnDBProxy):
            raise TypeError(f"expected the CloudFormation proxy, found {cfn_proxy!r}")
        # CDK sets one IAMAuth for every secret; the Auth entries follow the secrets' order.
        for index, login in enumerate(logins, start=1):
            if login.iam_auth:
                cfn_proxy.add_property_override(f"Auth.{index}.IAMAuth", "REQUIRED")
        target_group = self.proxy.node.find_child("ProxyTargetGroup")
        if not isinstance(target_group, CfnResource):
            raise TypeError(f"expected the proxy target group, found {target_group!r}")
        self.target_group = target_group
        self.endpoint = self.proxy.endpoint
        self.name = self.proxy.db_proxy_name  # the ProxyName dimension of its metrics
