"""The RDS Proxy in front of the database: TLS required, credentials from the rotated secret."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.database import Database
from infra.network import Network


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
    ) -> None:
        super().__init__(scope, construct_id)
        self.proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            db_proxy_name=f"shoppulse-{environment}",
            proxy_target=database.proxy_target,
            secrets=[database.secret],
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[network.proxy_security_group],
            # Plaintext connections to the proxy are refused; the Lambda verifies its cert.
            require_tls=True,
            # The proxy signs in to the database with the secret through its own IAM role
            # (created here, read access to that one secret). Clients authenticate with the
            # secret's password, so client-side IAM auth stays off: with it on, the
            # initializer's password login would be rejected.
            iam_auth=False,
            idle_client_timeout=Duration.minutes(30),
            debug_logging=False,
        )
        target_group = self.proxy.node.find_child("ProxyTargetGroup")
        if not isinstance(target_group, CfnResource):
            raise TypeError(f"expected the proxy target group, found {target_group!r}")
        self.target_group = target_group
        self.endpoint = self.proxy.endpoint
        self.name = self.proxy.db_proxy_name  # the ProxyName dimension of its metrics
