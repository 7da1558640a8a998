"""The per-environment stack: wires key, network, database, secrets, proxy, initializer, alarms."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra import app_access
from infra.config import EnvironmentConfig
from infra.database import Database
from infra.db_init import Initializer
from infra.keys import DataKey
from infra.monitoring import Monitoring
from infra.nag import acknowledge, findings
from infra.network import Network
from infra.proxy import Proxy
from infra.role_secrets import RoleSecrets
from infra.scanners import checkov_skips, record_checkov_skips

PROXY_TARGET_GROUP = "AWS::RDS::DBProxyTargetGroup"


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
        for tag, value in (
            ("environment", config.name),
            ("owner", config.tags.owner),
            ("cost-center", config.tags.cost_center),
        ):
            # CloudFormation rejects Tags on proxy target groups although CDK marks them taggable.
            Tags.of(self).add(tag, value, exclude_resource_types=[PROXY_TARGET_GROUP])
        # Decided before the first deploy: a storage key cannot change without a new instance.
        self.data_key = (
            DataKey(self, "DataKey", environment=config.name)
            if config.database.customer_managed_key
            else None
        )
        key = self.data_key.key if self.data_key is not None else None
        self.network = Network(
            self, "Network", config=config.network, region=config.region, key=key
        )
        self.database = Database(
            self,
            "Database",
            config=config.database,
            environment=config.name,
            network=self.network,
            key=key,
        )
        self.role_secrets = RoleSecrets(
            self,
            "RoleSecrets",
            config=config.database,
            network=self.network,
            database=self.database,
            key=key,
        )
        # The raw secrets, not their attachments: the endpoint need not wait for the database.
        self.network.serve_secrets(
            "ThisStacksSecretsOnly",
            [
                secret.secret_arn
                for secret in (self.database.generated_secret, *self.role_secrets.generated)
            ],
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
            key=self.data_key,
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
            proxy_name=self.proxy.name,
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
        self.accepted_findings = findings(
            config=config,
            database=self.database.resource,
            initializer_role=self.initializer.role,
            initializer_function=self.initializer.function,
        )
        acknowledge(self.accepted_findings)
        self.checkov_skips = checkov_skips(
            stack=self,
            config=config,
            database=self.database.resource,
            secrets=[self.database.generated_secret, *self.role_secrets.generated],
            log_groups=[
                *self.network.log_groups,
                *self.database.log_groups,
                self.initializer.log_group,
            ],
            initializer_function=self.initializer.function,
        )
        record_checkov_skips(self.checkov_skips)

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
