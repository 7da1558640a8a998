"""The schema initializer: the db_init Lambda and the Custom::ShopPulseSchema resource."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from db_init.manifest import manifest_of

# SqlChecksum: the Lambda's own function over the same bytes it bundles
from db_init.scripts import sql_tree_checksum
from infra.assets import initializer_code, stage_sql
from infra.config import DATABASE_NAME, DATABASE_PORT, ConfigError, InitializerConfig
from infra.keys import DataKey
from infra.migration_lint import annotate_lint_findings
from infra.network import Network
from infra.retention import retention

HANDLER = "db_init.handler.handler"
RESOURCE_TYPE = "Custom::ShopPulseSchema"
RUNTIME = lambda_.Runtime.PYTHON_3_13
VPC_ACCESS_POLICY = "service-role/AWSLambdaVPCAccessExecutionRole"
# CloudFormation waits this much longer than the Lambda may run, so a timeout is reported by
# the handler's own deadline (FAILED with a reason), never by CloudFormation giving up.
SERVICE_TIMEOUT_MARGIN_MINUTES = 1


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _plan(config: InitializerConfig, manifest: list[str]) -> dict[str, str]:
    # Migrations is omitted for an empty migrations/ (the handler refuses an empty value);
    # BaselineVersion is omitted when unset, so the handler never baselines.
    plan = {"Migrations": ",".join(manifest)} if manifest else {}
    if config.baseline_version is None:
        return plan
    versions = [entry.split(":", maxsplit=1)[0] for entry in manifest]
    if config.baseline_version not in versions:
        raise ConfigError(
            f"initializer.baseline_version: {config.baseline_version} is not a migration under"
            f" sql/migrations ({', '.join(versions) or 'none'})"
        )
    return {**plan, "BaselineVersion": config.baseline_version}


class Initializer(Construct):
    """Lambda (crhelper protocol) that applies migrations and seeds, and its custom resource."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InitializerConfig,
        repo_root: Path,
        sql_dir: Path,
        network: Network,
        secret_arn: str,
        app_secret_arn: str,
        analytics_secret_arn: str,
        proxy_endpoint: str,
        key: DataKey | None,
        depends_on: list[IConstruct],
    ) -> None:
        super().__init__(scope, construct_id)
        # Seeds ship only where they are applied; the checksum covers exactly what ships.
        self.bundled_sql = stage_sql(
            sql_dir, with_seeds=config.apply_seeds, build_root=repo_root / "build"
        )
        self.sql_checksum = sql_tree_checksum(self.bundled_sql)
        # `cdk diff` shows exactly which migrations a deploy adds (~14 bytes a migration).
        self.migrations = manifest_of(self.bundled_sql)
        annotate_lint_findings(self, sql_dir=sql_dir)

        log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=retention(config.log_retention_days),
            encryption_key=key.key if key is not None else None,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="ShopPulse schema initializer: read three secrets, write its own logs",
            # ENIs in the isolated subnets and its log stream; acknowledged in infra/nag.py.
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(VPC_ACCESS_POLICY),
            ],
        )
        # Least privilege: the admin secret the engine connects with and the two role secrets
        # whose passwords it sets, nothing else.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[secret_arn, app_secret_arn, analytics_secret_arn],
            )
        )
        if key is not None:
            key.grant_decrypt_via_secrets_manager(self.role)
        self.log_group = log_group
        self.function = lambda_.Function(
            self,
            "Function",
            description="Applies the ShopPulse schema migrations (Custom::ShopPulseSchema)",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=initializer_code(
                repo_root=repo_root, sql_dir=self.bundled_sql, sql_checksum=self.sql_checksum
            ),
            timeout=Duration.minutes(config.timeout_minutes),
            memory_size=config.memory_mb,
            role=self.role,
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[network.initializer_security_group],
            # One migration at a time (the engine also takes an advisory lock) and no automatic
            # re-invocation: CloudFormation owns retries, a duplicate apply must not be queued.
            reserved_concurrent_executions=1,
            retry_attempts=0,
            log_group=log_group,
            environment={"LOG_LEVEL": "INFO"},  # never a secret: credentials come at run time
        )

        self.resource = CustomResource(
            self,
            "Schema",
            service_token=self.function.function_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=Duration.minutes(
                config.timeout_minutes + SERVICE_TIMEOUT_MARGIN_MINUTES
            ),
            properties={
                "SecretArn": secret_arn,
                "DatabaseName": DATABASE_NAME,
                "Host": proxy_endpoint,
                "Port": str(DATABASE_PORT),
                "ApplySeeds": _flag(config.apply_seeds),
                # Any byte changed under sql/ changes this, so CloudFormation sends an Update.
                "SqlChecksum": self.sql_checksum,
                "LockTimeoutMs": str(config.lock_timeout_ms),
                "StatementTimeoutMs": str(config.statement_timeout_ms),
                "ConnectTimeoutS": str(config.connect_timeout_s),
                "RequireTls": "true",
                "AppRoleSecretArn": app_secret_arn,
                "AnalyticsRoleSecretArn": analytics_secret_arn,
                "OnDrift": config.on_drift,
                **_plan(config, self.migrations),
            },
        )
        # The schema is applied only once the database, the proxy's target registration, the
        # endpoints and the security-group rules it travels through all exist.
        for dependency in depends_on:
            self.resource.node.add_dependency(dependency)
        self.schema_version = self.resource.get_att_string("SchemaVersion")
