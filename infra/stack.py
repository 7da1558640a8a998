"""The per-environment stack: wires network, database, proxy, initializer and monitoring."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.database import Database
from infra.db_init import Initializer
from infra.monitoring import Monitoring
from infra.nag import acknowledge_findings
from infra.network import Network
from infra.proxy import Proxy


class DatabaseStack(Stack):
    """Everything one environment's ShopPulse database needs; construct ids are pinned by tests."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        repo_root: Path,
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
        self.proxy = Proxy(
            self, "Proxy", environment=config.name, network=self.network, database=self.database
        )
        self.initializer = Initializer(
            self,
            "Initializer",
            config=config.initializer,
            repo_root=repo_root,
            network=self.network,
            secret_arn=self.database.secret.secret_arn,
            proxy_endpoint=self.proxy.endpoint,
            depends_on=[self.network, *self.database.servers, self.proxy.target_group],
        )
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
        acknowledge_findings(self)
