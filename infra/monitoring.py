"""Alarms, the RDS event subscription and rotation failures, delivered to an encrypted topic."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import AlarmConfig
from infra.database import Database

GIB = 1024**3
MIB = 1024**2
# The handler logs every response it sends as JSON ("response sent", status=SUCCESS|FAILED);
# a FAILED one is a failed schema apply.
CUSTOM_RESOURCE_FAILURE_PATTERN = logs.FilterPattern.string_value("$.status", "=", "FAILED")
METRIC_NAMESPACE = "ShopPulse/Database"
# AWS's own guidance for PostgreSQL: act at a billion of the ~2.1 billion transaction ids before
# wraparound forces the database read-only.
MAX_USED_TRANSACTION_IDS = 1_000_000_000
# RDS event categories an operator must hear about at once (the rest are in the console).
RDS_EVENT_CATEGORIES = ["failover", "failure", "maintenance"]
# Secrets Manager reports a failed rotation only as a CloudTrail service event.
ROTATION_FAILURE_EVENTS = ["RotationFailed", "RotationAbandoned"]
# Services that publish to the topic (statement id -> principal), each for this account only;
# EventBridge's grant comes with its SnsTopic target.
PUBLISHERS = {
    "CloudWatchAlarms": "cloudwatch.amazonaws.com",
    "RdsEvents": "events.rds.amazonaws.com",
}
KEY_USERS = (*PUBLISHERS.values(), "events.amazonaws.com")

GREATER = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
LESS = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD


@dataclass(frozen=True)
class _AlarmSpec:
    metric: cloudwatch.IMetric
    threshold: float
    comparison: cloudwatch.ComparisonOperator
    periods: int
    description: str


class Monitoring(Construct):
    """Database, proxy, initializer and rotation alarms (alarm and OK), RDS events, one topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AlarmConfig,
        environment: str,
        database: Database,
        proxy_name: str,
        initializer: lambda_.Function,
        initializer_log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._topic(config)
        action = actions.SnsAction(self.topic)

        failures = logs.MetricFilter(
            self,
            "SchemaFailureFilter",
            log_group=initializer_log_group,
            filter_pattern=CUSTOM_RESOURCE_FAILURE_PATTERN,
            metric_namespace=METRIC_NAMESPACE,
            metric_name=f"SchemaFailures-{environment}",
            metric_value="1",
            default_value=0,
        )
        rotation_rule = events.Rule(
            self,
            "RotationFailureRule",
            description=f"[shoppulse-{environment}] a secret rotation failed",
            event_pattern=events.EventPattern(
                source=["aws.secretsmanager"],
                detail_type=["AWS Service Event via CloudTrail"],
                detail={"eventName": ROTATION_FAILURE_EVENTS},
            ),
            targets=[targets.SnsTopic(self.topic)],
        )
        five_minutes = Duration.minutes(5)

        def proxy_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/RDS",
                metric_name=name,
                dimensions_map={"ProxyName": proxy_name},
                period=five_minutes,
                statistic=statistic,
            )

        specs = {
            "CpuAlarm": _AlarmSpec(
                database.metric_cpu(), config.cpu_percent, GREATER, 3,
                "Database CPU above threshold for 15 minutes",
            ),
            "FreeStorageAlarm": _AlarmSpec(
                database.metric_free_storage(), config.free_storage_gib * GIB, LESS, 1,
                "Database free storage below threshold",
            ),
            "ConnectionsAlarm": _AlarmSpec(
                database.metric_connections(), config.max_connections, GREATER, 3,
                "Database connections above threshold for 15 minutes",
            ),
            "FreeableMemoryAlarm": _AlarmSpec(
                database.metric("FreeableMemory", "Minimum"),
                config.freeable_memory_mib * MIB, LESS, 3,
                "Database freeable memory below threshold for 15 minutes (swapping next)",
            ),
            "ReadLatencyAlarm": _AlarmSpec(
                database.metric("ReadLatency"), config.read_latency_ms / 1000, GREATER, 3,
                "Database read latency above threshold for 15 minutes",
            ),
            "WriteLatencyAlarm": _AlarmSpec(
                database.metric("WriteLatency"), config.write_latency_ms / 1000, GREATER, 3,
                "Database write latency above threshold for 15 minutes",
            ),
            "TransactionIdsAlarm": _AlarmSpec(
                database.metric("MaximumUsedTransactionIDs", "Maximum"),
                MAX_USED_TRANSACTION_IDS, GREATER, 1,
                "Transaction ids past one billion: vacuum is not freezing, wraparound ahead",
            ),
            "ProxyClientConnectionsAlarm": _AlarmSpec(
                proxy_metric("ClientConnections", "Maximum"),
                config.proxy_client_connections, GREATER, 3,
                "Proxy client connections above threshold for 15 minutes",
            ),
            "ProxyFailedLoginsAlarm": _AlarmSpec(
                proxy_metric("ClientConnectionsSetupFailedAuth", "Sum"),
                config.proxy_failed_logins, GREATER, 1,
                "Failed logins through the proxy (stale password after rotation, or guessing)",
            ),
            "RotationFailureAlarm": _AlarmSpec(
                cloudwatch.Metric(
                    namespace="AWS/Events",
                    metric_name="TriggeredRules",
                    dimensions_map={"RuleName": rotation_rule.rule_name},
                    period=five_minutes,
                    statistic="Sum",
                ),
                0, GREATER, 1,
                "A secret rotation failed: see the rotation function's logs",
            ),
            "InitializerErrorsAlarm": _AlarmSpec(
                initializer.metric_errors(period=five_minutes, statistic="Sum"), 0, GREATER, 1,
                "Schema initializer Lambda raised an error",
            ),
            "SchemaFailureAlarm": _AlarmSpec(
                failures.metric(period=five_minutes, statistic="Sum"), 0, GREATER, 1,
                "Custom::ShopPulseSchema answered FAILED: see the initializer logs",
            ),
        }  # fmt: skip
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for alarm_id, spec in specs.items():
            alarm = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=spec.metric,
                threshold=spec.threshold,
                comparison_operator=spec.comparison,
                evaluation_periods=spec.periods,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"[shoppulse-{environment}] {spec.description}",
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)  # so the person paged also hears it is over
            self.alarms[alarm_id] = alarm

        self.event_subscription = rds.CfnEventSubscription(
            self,
            "DatabaseEvents",
            sns_topic_arn=self.topic.topic_arn,
            source_type=database.event_source_type,
            source_ids=[database.identifier],
            event_categories=RDS_EVENT_CATEGORIES,
            enabled=True,
        )
        # RDS checks the source id exists when the subscription is created.
        self.event_subscription.node.add_dependency(database.resource)

    def _topic(self, config: AlarmConfig) -> sns.ITopic:
        if config.topic_arn is not None:
            # An imported topic's policy and key are its owner's: docs/stack.md says what they
            # must allow.
            return sns.Topic.from_topic_arn(self, "ImportedTopic", config.topic_arn)
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the ShopPulse database alarm topic",
            enable_key_rotation=True,
        )
        topic = sns.Topic(
            self,
            "Topic",
            display_name="ShopPulse database alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # The TLS-only deny replaces SNS's default policy, so every publisher must be allowed
        # explicitly, and may use the key only to publish to this topic.
        for sid, service in PUBLISHERS.items():
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="TopicPublishers",
                principals=[iam.ServicePrincipal(service) for service in KEY_USERS],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                # As SNS documents for encrypted topics: the services do not pass a source
                # account to KMS, so the topic policy above is where publishing is scoped.
            )
        )
        if config.email is not None:
            topic.add_subscription(subscriptions.EmailSubscription(config.email))
        return topic
