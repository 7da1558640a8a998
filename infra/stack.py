"""The per-environment stack: wires network, database, role secrets, proxy, initializer, alarms."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra import app_access
from infra.config import EnvironmentConfig
from infra.database import Database
from infra.db_init import Initializer
from infra.monitoring import Monitoring
from infra.nag import acknowledge_findings
from infra.network import Network
from infra.proxy import Proxy
from infra.role_secrets import RoleSecrets


class DatabaseStack(Stack):
    """Everything one environment's ShopPulse database needs; construct ids are pinned by tests."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        repo_root: Path,
        sql_dir: Path,
        **kwargs: object,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"ShopPulse Analytics PostgreSQL ({config.name})",
            termination_protection=config.database.deletion_protection,
            **kwargs,  # type: ignore[arg-type]
        )
        self.config = config
        self.network = Network(self, "Network", config=config.network)
        self.database = Database(
            self,
            "Database",
            config=config.database,
            environment=config.name,
            network=self.network,
        )
        self.role_secrets = RoleSecrets(
            self,
            "RoleSecrets",
            config=config.database,
            network=self.network,
            database=self.database,
        )
        self.proxy = Proxy(
            self,
            "Proxy",
            environment=config.name,
            network=self.network,
            database=self.database,
            logins=app_access.proxy_logins(self.role_secrets),
        )
        self.initializer = Initializer(
            self,
            "Initializer",
            config=config.initializer,
            repo_root=repo_root,
            sql_dir=sql_dir,
            network=self.network,
            secret_arn=self.database.secret.secret_arn,
            app_secret_arn=self.role_secrets.app_secret.secret_arn,
            analytics_secret_arn=self.role_secrets.analytics_secret.secret_arn,
            proxy_endpoint=self.proxy.endpoint,
            depends_on=[self.network, *self.database.servers, self.proxy.target_group],
        )
        # Multi-user rotation first signs in with the role's current password (and rotates
        # once on creation): the roles must exist with those passwords, set by the schema.
        for schedule in self.role_secrets.rotation_schedules:
            schedule.node.add_dependency(self.initializer.resource)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config.alarms,
            environment=config.name,
            database=self.database,
            initializer=self.initializer.function,
            initializer_log_group=self.initializer.log_group,
        )

        CfnOutput(self, "ProxyEndpoint", value=self.proxy.endpoint, description="RDS Proxy host")
        CfnOutput(
            self,
            "SecretArn",
            value=self.database.secret.secret_arn,
            description="Admin credentials secret (rotated)",
        )
        CfnOutput(
            self,
            "SchemaVersion",
            value=self.initializer.schema_version,
            description="Latest applied migration version",
        )
        # Application access (infra/app_access.py): the role secrets applications are granted.
        CfnOutput(
            self,
            "AppSecretArn",
            value=self.role_secrets.app_secret.secret_arn,
            description="shoppulse_app credentials (rotated; clients sign in with IAM auth)",
        )
        CfnOutput(
            self,
            "AnalyticsSecretArn",
            value=self.role_secrets.analytics_secret.secret_arn,
            description="shoppulse_analytics credentials (rotated; clients read the password)",
        )
        acknowledge_findings(self)

    @property
    def vpc(self) -> ec2.IVpc:
        """The VPC applications must run in to reach the proxy."""
        return self.network.vpc

    def grant_connect(
        self, grantee: app_access.Grantee, *, role: str
    ) -> app_access.ConnectionFacts:
        """Let a function or service in `vpc` sign in through the proxy as "app" or "analytics"."""
        return app_access.grant_connect(
            grantee,
            role=role,
            proxy=self.proxy,
            network=self.network,
            role_secrets=self.role_secrets,
        )
