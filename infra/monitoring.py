"""Alarms on the database and the schema initializer, delivered to an encrypted SNS topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import AlarmConfig
from infra.database import Database

GIB = 1024**3
# The handler logs every response it sends as JSON ("response sent", status=SUCCESS|FAILED);
# a FAILED one is a failed schema apply.
CUSTOM_RESOURCE_FAILURE_PATTERN = logs.FilterPattern.string_value("$.status", "=", "FAILED")
METRIC_NAMESPACE = "ShopPulse/Database"


class Monitoring(Construct):
    """CPU, free storage, connections, initializer errors and custom-resource failures."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AlarmConfig,
        environment: str,
        database: Database,
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
        five_minutes = Duration.minutes(5)
        alarms = {
            "CpuAlarm": (
                database.metric_cpu(),
                config.cpu_percent,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                3,
                "Database CPU above threshold for 15 minutes",
            ),
            "FreeStorageAlarm": (
                database.metric_free_storage(),
                config.free_storage_gib * GIB,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                1,
                "Database free storage below threshold",
            ),
            "ConnectionsAlarm": (
                database.metric_connections(),
                config.max_connections,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                3,
                "Database connections above threshold for 15 minutes",
            ),
            "InitializerErrorsAlarm": (
                initializer.metric_errors(period=five_minutes, statistic="Sum"),
                0,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                1,
                "Schema initializer Lambda raised an error",
            ),
            "SchemaFailureAlarm": (
                failures.metric(period=five_minutes, statistic="Sum"),
                0,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                1,
                "Custom::ShopPulseSchema answered FAILED: see the initializer logs",
            ),
        }
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for alarm_id, (metric, threshold, comparison, periods, description) in alarms.items():
            alarm = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                comparison_operator=comparison,
                evaluation_periods=periods,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"[shoppulse-{environment}] {description}",
            )
            alarm.add_alarm_action(action)
            self.alarms[alarm_id] = alarm

    def _topic(self, config: AlarmConfig) -> sns.ITopic:
        if config.topic_arn is not None:
            return sns.Topic.from_topic_arn(self, "ImportedTopic", config.topic_arn)
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the ShopPulse database alarm topic",
            enable_key_rotation=True,
        )
        # CloudWatch publishes alarms to an encrypted topic only if it may use the key.
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        topic = sns.Topic(
            self,
            "Topic",
            display_name="ShopPulse database alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if config.email is not None:
            topic.add_subscription(subscriptions.EmailSubscription(config.email))
        return topic
