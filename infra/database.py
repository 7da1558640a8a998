"""The PostgreSQL database (RDS instance, or Aurora cluster by config) and its rotated secret."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import DATABASE_NAME, DATABASE_PORT, DatabaseConfig
from infra.network import Network
from infra.parameters import PARAMETERS
from infra.retention import retention

MASTER_USERNAME = "shoppulse_admin"
SECRET_LOGICAL_ID = "DatabaseAdminSecret"  # noqa: S105 - a resource id, not a password
LOG_EXPORTS = ["postgresql", "upgrade"]

_REMOVAL = {
    "destroy": RemovalPolicy.DESTROY,
    "snapshot": RemovalPolicy.SNAPSHOT,
    "retain": RemovalPolicy.RETAIN,
}
# The minor version a new database starts on; auto_minor_version_upgrade moves it forward.
_POSTGRES_VERSIONS = {
    "16": rds.PostgresEngineVersion.VER_16_10,
    "17": rds.PostgresEngineVersion.VER_17_7,
}
_AURORA_VERSIONS = {
    "16": rds.AuroraPostgresEngineVersion.VER_16_9,
    "17": rds.AuroraPostgresEngineVersion.VER_17_7,
}
_PERFORMANCE_INSIGHTS = {
    7: rds.PerformanceInsightRetention.DEFAULT,
    731: rds.PerformanceInsightRetention.LONG_TERM,
}


class Database(Construct):
    """Encrypted, backed-up PostgreSQL with a generated, rotated admin secret."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DatabaseConfig,
        environment: str,
        network: Network,
        key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._key = key
        self.identifier = f"shoppulse-{environment}"
        removal = _REMOVAL[config.removal_policy]
        # Data outlives the stack wherever it is not disposable: a secret cannot be
        # snapshotted, so it is retained whenever the database is.
        disposable = removal == RemovalPolicy.DESTROY
        self.secret_removal = RemovalPolicy.DESTROY if disposable else RemovalPolicy.RETAIN
        credentials = rds.Credentials.from_generated_secret(MASTER_USERNAME, encryption_key=key)
        self.log_groups = self._log_groups(config, removal)

        if config.engine == "aurora-postgresql":
            cluster = self._cluster(config, credentials, network, removal)
            self.resource: rds.DatabaseCluster | rds.DatabaseInstance = cluster
            secret = cluster.secret
            self.proxy_target = rds.ProxyTarget.from_cluster(cluster)
            self.endpoint_address = cluster.cluster_endpoint.hostname
            self.event_source_type = "db-cluster"
        else:
            instance = self._instance(config, credentials, network, removal)
            self.resource = instance
            secret = instance.secret
            self.proxy_target = rds.ProxyTarget.from_instance(instance)
            self.endpoint_address = instance.db_instance_endpoint_address
            self.event_source_type = "db-instance"
        self.servers = self._servers()
        if secret is None:
            raise RuntimeError("generated credentials did not produce a secret")
        self.secret: secretsmanager.ISecret = secret
        for log_group in self.log_groups:
            self.resource.node.add_dependency(log_group)

        generated = self.resource.node.find_child("Secret")
        if not isinstance(generated, secretsmanager.Secret):
            raise TypeError(f"expected the generated DatabaseSecret, found {generated!r}")
        generated.apply_removal_policy(self.secret_removal)
        self.generated_secret: secretsmanager.ISecret = generated
        # CDK names the generated secret after its full construct path, which differs between
        # `cdk deploy` and a pipeline stage; a fixed id keeps one secret whichever deploys.
        secret_resource = generated.node.default_child
        if not isinstance(secret_resource, CfnResource):
            raise TypeError(
                f"expected the secret's CloudFormation resource, found {secret_resource!r}"
            )
        secret_resource.override_logical_id(SECRET_LOGICAL_ID)

        # Shared by every rotation function (admin and the application roles' secrets).
        self.rotation_security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=network.vpc,
            description="Secret rotation function: PostgreSQL to the database, HTTPS to endpoints",
            allow_all_outbound=False,
        )
        # rotation -> database is added by the rotation itself (once); only HTTPS is ours.
        self.rotation_security_group.connections.allow_to(
            network.endpoint_security_group, ec2.Port.tcp(443), "rotation to Secrets Manager"
        )
        self.resource.add_rotation_single_user(
            automatically_after=Duration.days(config.rotation_days),
            # The isolated subnets have no internet route: the rotation function must call
            # Secrets Manager through the interface endpoint.
            endpoint=network.secrets_manager_endpoint,
            vpc_subnets=network.subnets,
            security_group=self.rotation_security_group,
        )

    def _servers(self) -> list[CfnResource]:
        # The CloudFormation resources that must be available before the schema is applied:
        # the instance, or the cluster and its instances.
        servers = [
            child
            for child in self.resource.node.find_all()
            if isinstance(child, (rds.CfnDBInstance, rds.CfnDBCluster))
        ]
        return list(servers)

    def _log_groups(self, config: DatabaseConfig, removal: RemovalPolicy) -> list[logs.LogGroup]:
        # Created ahead of the database so retention is ours, not a log-retention Lambda's.
        kind = "cluster" if config.engine == "aurora-postgresql" else "instance"
        exports = ["postgresql"] if config.engine == "aurora-postgresql" else LOG_EXPORTS
        return [
            logs.LogGroup(
                self,
                f"{export.capitalize()}LogGroup",
                log_group_name=f"/aws/rds/{kind}/{self.identifier}/{export}",
                retention=retention(config.log_retention_days),
                encryption_key=self._key,
                # Kept with the data they describe; a re-created stack needs them removed
                # first (docs/stack.md lists the names).
                removal_policy=RemovalPolicy.DESTROY
                if removal == RemovalPolicy.DESTROY
                else RemovalPolicy.RETAIN,
            )
            for export in exports
        ]

    def _instance(
        self,
        config: DatabaseConfig,
        credentials: rds.Credentials,
        network: Network,
        removal: RemovalPolicy,
    ) -> rds.DatabaseInstance:
        engine = rds.DatabaseInstanceEngine.postgres(
            version=_POSTGRES_VERSIONS[config.postgres_major_version]
        )
        parameters = rds.ParameterGroup(
            self, "Parameters", engine=engine, parameters=PARAMETERS, description="ShopPulse"
        )
        return rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_identifier=self.identifier,
            instance_type=ec2.InstanceType(config.instance_class),
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[network.database_security_group],
            port=DATABASE_PORT,
            database_name=DATABASE_NAME,
            credentials=credentials,
            parameter_group=parameters,
            storage_encrypted=True,
            storage_encryption_key=self._key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=config.allocated_storage_gib,
            max_allocated_storage=config.max_allocated_storage_gib,
            multi_az=config.multi_az,
            backup_retention=Duration.days(config.backup_retention_days),
            deletion_protection=config.deletion_protection,
            removal_policy=removal,
            delete_automated_backups=removal == RemovalPolicy.DESTROY,
            copy_tags_to_snapshot=True,
            publicly_accessible=False,
            iam_authentication=True,
            auto_minor_version_upgrade=True,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
            enable_performance_insights=True,
            performance_insight_retention=self._insights(config),
            performance_insight_encryption_key=self._key,
            cloudwatch_logs_exports=LOG_EXPORTS,
            monitoring_interval=self._monitoring_interval(config),
        )

    def _cluster(
        self,
        config: DatabaseConfig,
        credentials: rds.Credentials,
        network: Network,
        removal: RemovalPolicy,
    ) -> rds.DatabaseCluster:
        engine = rds.DatabaseClusterEngine.aurora_postgres(
            version=_AURORA_VERSIONS[config.postgres_major_version]
        )
        parameters = rds.ParameterGroup(
            self, "Parameters", engine=engine, parameters=PARAMETERS, description="ShopPulse"
        )

        def instance(instance_id: str) -> rds.IClusterInstance:
            return rds.ClusterInstance.provisioned(
                instance_id,
                instance_type=ec2.InstanceType(config.instance_class),
                enable_performance_insights=True,
                performance_insight_retention=self._insights(config),
                performance_insight_encryption_key=self._key,
                ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
                auto_minor_version_upgrade=True,
                publicly_accessible=False,
            )

        return rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            cluster_identifier=self.identifier,
            writer=instance("Writer"),
            readers=[instance("Reader")] if config.multi_az else [],
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[network.database_security_group],
            port=DATABASE_PORT,
            default_database_name=DATABASE_NAME,
            credentials=credentials,
            parameter_group=parameters,
            storage_encrypted=True,
            storage_encryption_key=self._key,
            backup=rds.BackupProps(retention=Duration.days(config.backup_retention_days)),
            deletion_protection=config.deletion_protection,
            removal_policy=removal,
            copy_tags_to_snapshot=True,
            iam_authentication=True,
            cloudwatch_logs_exports=["postgresql"],
            monitoring_interval=self._monitoring_interval(config),
        )

    def _monitoring_interval(self, config: DatabaseConfig) -> Duration | None:
        # Enhanced monitoring: OS-level memory, swap and per-process CPU that CloudWatch's
        # hypervisor metrics cannot see; CDK creates its role. None leaves it off.
        if config.monitoring_interval_s == 0:
            return None
        return Duration.seconds(config.monitoring_interval_s)

    def _insights(self, config: DatabaseConfig) -> rds.PerformanceInsightRetention:
        days = config.performance_insights_retention_days
        if days in _PERFORMANCE_INSIGHTS:
            return _PERFORMANCE_INSIGHTS[days]
        return rds.PerformanceInsightRetention[f"MONTHS_{max(1, min(23, days // 31))}"]

    def metric_cpu(self) -> cloudwatch.Metric:
        """Average CPU utilisation of the instance (or the cluster's writer)."""
        return self.resource.metric_cpu_utilization(period=Duration.minutes(5))

    def metric_connections(self) -> cloudwatch.Metric:
        """Connections open on the database."""
        return self.resource.metric_database_connections(period=Duration.minutes(5))

    def metric(self, name: str, statistic: str = "Average") -> cloudwatch.Metric:
        """Any AWS/RDS metric of the instance (or cluster) over five minutes."""
        return self.resource.metric(name, period=Duration.minutes(5), statistic=statistic)

    def metric_free_storage(self) -> cloudwatch.Metric:
        """Free storage in bytes (FreeLocalStorage on Aurora, whose volume grows itself)."""
        if isinstance(self.resource, rds.DatabaseInstance):
            return self.resource.metric_free_storage_space(
                period=Duration.minutes(5), statistic="Minimum"
            )
        return self.resource.metric(
            "FreeLocalStorage", period=Duration.minutes(5), statistic="Minimum"
        )
