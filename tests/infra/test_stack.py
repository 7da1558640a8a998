"""The per-environment stack: resources, properties, least privilege and per-env differences."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from db_init import properties
from db_init.manifest import manifest_of
from db_init.scripts import sql_tree_checksum
from infra.config import ConfigError
from tests.infra.conftest import REPO_ROOT, Synthesized, placeholder_context, synthesize

CUSTOM_RESOURCE_PROPERTIES = {
    "ServiceToken",
    "ServiceTimeout",
    "SecretArn",
    "DatabaseName",
    "Host",
    "Port",
    "ApplySeeds",
    "SqlChecksum",
    "LockTimeoutMs",
    "StatementTimeoutMs",
    "ConnectTimeoutS",
    "RequireTls",
    "AppRoleSecretArn",
    "AnalyticsRoleSecretArn",
    "OnDrift",
    "Migrations",
}
ADMIN_SECRET = {"Ref": "DatabaseInstanceSecretAttachmentFCA06D38"}
APP_SECRET = {"Ref": "RoleSecretsAppSecretAttachment2B714F60"}
ANALYTICS_SECRET = {"Ref": "RoleSecretsAnalyticsSecretAttachment78192DA6"}
# Generated secret of each application role (V002) -> its attachment and the role name.
ROLE_SECRETS = {
    "RoleSecretsAppSecret152527FA": ("RoleSecretsAppSecretAttachment2B714F60", "shoppulse_app"),
    "RoleSecretsAnalyticsSecretB66E3C08": (
        "RoleSecretsAnalyticsSecretAttachment78192DA6",
        "shoppulse_analytics",
    ),
}

# Renaming any of these replaces a stateful resource (a new, empty database): pinned.
PINNED_LOGICAL_IDS = {
    "NetworkVpc7FB7348F": "AWS::EC2::VPC",
    "DatabaseInstanceAA8A5FDE": "AWS::RDS::DBInstance",
    "DatabaseAdminSecret": "AWS::SecretsManager::Secret",
    "DatabaseInstanceSecretAttachmentFCA06D38": "AWS::SecretsManager::SecretTargetAttachment",
    "DatabaseParametersB8AC9B07": "AWS::RDS::DBParameterGroup",
    "DatabaseInstanceSubnetGroupDE121BB6": "AWS::RDS::DBSubnetGroup",
    "ProxyE947DB46": "AWS::RDS::DBProxy",
    "ProxyProxyTargetGroup40C0C8F5": "AWS::RDS::DBProxyTargetGroup",
    "InitializerFunctionF75FDCDE": "AWS::Lambda::Function",
    "InitializerSchema41F1A0BF": "Custom::ShopPulseSchema",
    "RoleSecretsAppSecret152527FA": "AWS::SecretsManager::Secret",
    "RoleSecretsAppSecretAttachment2B714F60": "AWS::SecretsManager::SecretTargetAttachment",
    "RoleSecretsAnalyticsSecretB66E3C08": "AWS::SecretsManager::Secret",
    "RoleSecretsAnalyticsSecretAttachment78192DA6": "AWS::SecretsManager::SecretTargetAttachment",
}


def _schema(synthesized: Synthesized) -> dict[str, Any]:
    schema: dict[str, Any] = synthesized.json["Resources"]["InitializerSchema41F1A0BF"]
    return schema


# --- construct ids ----------------------------------------------------------------------------


def test_stateful_logical_ids_are_pinned(synthesized: Synthesized) -> None:
    resources = synthesized.json["Resources"]
    for logical_id, resource_type in PINNED_LOGICAL_IDS.items():
        assert logical_id in resources, f"{logical_id} renamed: that replaces a resource"
        assert resources[logical_id]["Type"] == resource_type


def test_top_level_construct_ids_are_pinned(synthesized: Synthesized) -> None:
    children = [child.node.id for child in synthesized.stack.node.children]
    for construct_id in (
        "Network",
        "Database",
        "RoleSecrets",
        "Proxy",
        "Initializer",
        "Monitoring",
    ):
        assert construct_id in children


# --- custom resource --------------------------------------------------------------------------


def test_custom_resource_passes_exactly_the_contract(synthesized: Synthesized) -> None:
    schema = _schema(synthesized)
    properties = schema["Properties"]
    assert schema["Type"] == "Custom::ShopPulseSchema"
    assert set(properties) == CUSTOM_RESOURCE_PROPERTIES
    assert properties["ServiceToken"] == {"Fn::GetAtt": ["InitializerFunctionF75FDCDE", "Arn"]}
    assert properties["SecretArn"] == ADMIN_SECRET
    assert properties["AppRoleSecretArn"] == APP_SECRET
    assert properties["AnalyticsRoleSecretArn"] == ANALYTICS_SECRET
    assert properties["Host"] == {"Fn::GetAtt": ["ProxyE947DB46", "Endpoint"]}
    assert properties["DatabaseName"] == "shoppulse"
    assert properties["Port"] == "5432"
    assert properties["RequireTls"] == "true"
    # The checksum of the tree the asset ships: with seeds only where they are applied.
    if properties["ApplySeeds"] == "true":
        assert properties["SqlChecksum"] == sql_tree_checksum(REPO_ROOT / "sql")
    else:
        assert properties["SqlChecksum"] != sql_tree_checksum(REPO_ROOT / "sql")
    literal = {key: value for key, value in properties.items() if not isinstance(value, dict)}
    assert all(isinstance(value, str) for value in literal.values()), literal
    assert int(properties["LockTimeoutMs"]) > 0
    assert int(properties["StatementTimeoutMs"]) > 0
    assert int(properties["ConnectTimeoutS"]) > 0


def test_every_property_is_one_the_handler_accepts(synthesized: Synthesized) -> None:
    # The handler rejects unknown properties: the stack may only send what it knows.
    sent = set(_schema(synthesized)["Properties"]) - properties.PROVIDER_PROPERTIES
    assert sent <= properties.KNOWN
    assert "CaBundlePath" not in sent  # the bundled PEM is the handler's default


def test_migrations_property_is_the_compact_plan_cdk_diff_shows(synthesized: Synthesized) -> None:
    # GIVEN sql/migrations WHEN synthesized THEN Migrations lists every version:short-checksum
    migrations = _schema(synthesized)["Properties"]["Migrations"]
    assert migrations == ",".join(manifest_of(REPO_ROOT / "sql"))
    assert re.fullmatch(r"V\d{3}:[0-9a-f]{8}(,V\d{3}:[0-9a-f]{8})*", migrations)
    assert migrations.startswith("V001:")
    assert len(migrations) <= 15 * len(migrations.split(","))  # ~14 bytes a migration


def test_drift_policy_warns_in_dev_and_fails_elsewhere(
    synthesized: Synthesized, env_name: str
) -> None:
    expected = "warn" if env_name == "dev" else "fail"
    assert _schema(synthesized)["Properties"]["OnDrift"] == expected


def test_no_baseline_unless_configured(synthesized: Synthesized) -> None:
    assert "BaselineVersion" not in _schema(synthesized)["Properties"]


def _with_baseline(version: str) -> dict[str, Any]:
    context = placeholder_context()
    context["shoppulse:environments"]["staging"]["initializer"]["baseline_version"] = version
    return {**context, "env": "staging"}


def test_configured_baseline_is_passed_to_the_custom_resource(tmp_path: Path) -> None:
    # GIVEN staging adopting a database created by the original script, up to V001
    synthesized = synthesize(_with_baseline("V001"), tmp_path)
    # WHEN synthesized THEN the custom resource baselines V001
    assert _schema(synthesized)["Properties"]["BaselineVersion"] == "V001"


def test_baseline_must_name_a_released_migration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"V999 is not a migration.*V001, V002"):
        synthesize(_with_baseline("V999"), tmp_path)


def test_seeds_are_applied_in_dev_only(synthesized: Synthesized, env_name: str) -> None:
    expected = "true" if env_name == "dev" else "false"
    assert _schema(synthesized)["Properties"]["ApplySeeds"] == expected


def test_custom_resource_waits_for_database_proxy_target_and_network(
    synthesized: Synthesized,
) -> None:
    depends_on = set(_schema(synthesized)["DependsOn"])
    assert "DatabaseInstanceAA8A5FDE" in depends_on
    assert "ProxyProxyTargetGroup40C0C8F5" in depends_on
    assert "NetworkVpcS3Endpoint87783328" in depends_on
    assert "NetworkVpcSecretsManagerEndpoint522C18D9" in depends_on
    # The proxy itself is ordered by the GetAtt of its endpoint in Host.


def test_cloudformation_waits_longer_than_the_lambda_runs(synthesized: Synthesized) -> None:
    function = synthesized.json["Resources"]["InitializerFunctionF75FDCDE"]["Properties"]
    service_timeout = int(_schema(synthesized)["Properties"]["ServiceTimeout"])
    assert 600 <= function["Timeout"] < service_timeout <= 3600


def test_outputs_expose_endpoint_secret_and_schema_version(synthesized: Synthesized) -> None:
    outputs = synthesized.json["Outputs"]
    assert outputs["ProxyEndpoint"]["Value"] == {"Fn::GetAtt": ["ProxyE947DB46", "Endpoint"]}
    assert outputs["SecretArn"]["Value"] == {"Ref": "DatabaseInstanceSecretAttachmentFCA06D38"}
    assert outputs["SchemaVersion"]["Value"] == {
        "Fn::GetAtt": ["InitializerSchema41F1A0BF", "SchemaVersion"]
    }


# --- initializer Lambda -----------------------------------------------------------------------


def test_initializer_lambda_shape(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "db_init.handler.handler",
            "Runtime": Match.string_like_regexp(r"^python3\.1[23]$"),
            "Architectures": ["arm64"],
            "ReservedConcurrentExecutions": 1,
            "Environment": {"Variables": {"LOG_LEVEL": "INFO"}},
            "LoggingConfig": {"LogGroup": {"Ref": "InitializerLogGroupA56F1039"}},
            "VpcConfig": {
                "SecurityGroupIds": [
                    {"Fn::GetAtt": ["NetworkInitializerSecurityGroupCF4220B8", "GroupId"]}
                ],
                "SubnetIds": Match.any_value(),
            },
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": "InitializerFunctionF75FDCDE"}, "MaximumRetryAttempts": 0},
    )
    log_group = synthesized.json["Resources"]["InitializerLogGroupA56F1039"]["Properties"]
    assert log_group["RetentionInDays"] > 0


def test_initializer_role_reads_only_the_admin_and_role_secrets(synthesized: Synthesized) -> None:
    role = synthesized.json["Resources"]["InitializerRole95C95DB2"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                ],
            ]
        }
    ]
    assert "Policies" not in role
    policies = [
        resource["Properties"]
        for resource in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": "InitializerRole95C95DB2"} in resource["Properties"]["Roles"]
    ]
    assert len(policies) == 1
    [statement] = policies[0]["PolicyDocument"]["Statement"]
    resources = statement["Resource"]
    assert {key: value for key, value in statement.items() if key != "Resource"} == {
        "Action": "secretsmanager:GetSecretValue",
        "Effect": "Allow",
    }
    assert sorted(resources, key=json.dumps) == sorted(
        [ADMIN_SECRET, APP_SECRET, ANALYTICS_SECRET], key=json.dumps
    )


def test_no_secret_material_in_the_template(synthesized: Synthesized) -> None:
    text = json.dumps(synthesized.json)
    instance = synthesized.json["Resources"]["DatabaseInstanceAA8A5FDE"]["Properties"]
    password = json.dumps(instance["MasterUserPassword"])
    assert "{{resolve:secretsmanager:" in password, "password must be a dynamic reference"
    assert '"SecretString":' not in text, "a literal secret value in the template"
    assert not re.search(r'"(Password|password|MasterUserPassword)"\s*:\s*"[^{]', text)
    for function in synthesized.resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert not [name for name in variables if re.search("PASS|SECRET|TOKEN", name)]


# --- network ----------------------------------------------------------------------------------


def test_no_internet_path_only_endpoints(synthesized: Synthesized) -> None:
    assert not synthesized.resources("AWS::EC2::NatGateway")
    assert not synthesized.resources("AWS::EC2::InternetGateway")
    for subnet in synthesized.resources("AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    endpoints = synthesized.resources("AWS::EC2::VPCEndpoint")
    kinds = {
        json.dumps(endpoint["Properties"]["ServiceName"]): endpoint["Properties"]
        for endpoint in endpoints.values()
    }
    assert any(".s3" in name for name in kinds)
    secrets = next(props for name, props in kinds.items() if "secretsmanager" in name)
    assert secrets["VpcEndpointType"] == "Interface"
    assert secrets["PrivateDnsEnabled"] is True


def _port(value: object) -> int:
    # CDK also emits each database rule with the port as the instance's Endpoint.Port (5432).
    if value == {"Fn::GetAtt": ["DatabaseInstanceAA8A5FDE", "Endpoint.Port"]}:
        return 5432
    assert isinstance(value, int), value
    return value


def _ingress(synthesized: Synthesized, group: str) -> set[tuple[str, int]]:
    rules: set[tuple[str, int]] = set()
    for rule in synthesized.resources("AWS::EC2::SecurityGroupIngress").values():
        props = rule["Properties"]
        if props["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}:
            source = props.get("SourceSecurityGroupId", {}).get("Fn::GetAtt", ["?"])[0]
            rules.add((source, _port(props["FromPort"])))
    inline = synthesized.json["Resources"][group]["Properties"].get("SecurityGroupIngress", [])
    assert not inline, f"{group} has inline ingress {inline}"
    return rules


def test_security_groups_allow_only_the_declared_flows(synthesized: Synthesized) -> None:
    assert _ingress(synthesized, "NetworkProxySecurityGroupA8451DE9") == {
        ("NetworkInitializerSecurityGroupCF4220B8", 5432)
    }
    assert _ingress(synthesized, "NetworkDatabaseSecurityGroup2B3F4679") == {
        ("NetworkProxySecurityGroupA8451DE9", 5432),
        ("DatabaseRotationSecurityGroup8E1B7C66", 5432),
    }
    assert _ingress(synthesized, "NetworkSecretsManagerEndpointSecurityGroupF74F1556") == {
        ("NetworkInitializerSecurityGroupCF4220B8", 443),
        ("NetworkProxySecurityGroupA8451DE9", 443),
        ("DatabaseRotationSecurityGroup8E1B7C66", 443),
    }
    text = json.dumps(synthesized.resources("AWS::EC2::SecurityGroupIngress"))
    assert "0.0.0.0/0" not in text
    assert "0.0.0.0/0" not in json.dumps(synthesized.json), "no rule opens to any address"


# --- database, secret, proxy ------------------------------------------------------------------


def test_database_is_encrypted_private_and_observable(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "EngineVersion": Match.string_like_regexp(r"^1[67]\."),
            "DBName": "shoppulse",
            "StorageEncrypted": True,
            "PubliclyAccessible": False,
            "EnablePerformanceInsights": True,
            "EnableIAMDatabaseAuthentication": True,
            "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
            "BackupRetentionPeriod": Match.any_value(),
            "DBParameterGroupName": {"Ref": "DatabaseParametersB8AC9B07"},
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::RDS::DBParameterGroup",
        {
            "Parameters": Match.object_like(
                {"rds.force_ssl": "1", "shared_preload_libraries": "pg_stat_statements"}
            )
        },
    )


def test_secret_is_generated_and_rotated_from_isolated_subnets(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"GenerateStringKey": "password"})},
    )
    synthesized.template.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {"RotationRules": {"ScheduleExpression": Match.string_like_regexp(r"^rate\(")}},
    )
    _, rotation = synthesized.only("AWS::Serverless::Application")
    endpoint = json.dumps(rotation["Properties"]["Parameters"]["endpoint"])
    assert "NetworkVpcSecretsManagerEndpoint522C18D9" in endpoint


def test_role_secrets_are_generated_for_the_v002_roles(synthesized: Synthesized) -> None:
    resources = synthesized.json["Resources"]
    for secret_id, (attachment_id, role) in ROLE_SECRETS.items():
        generate = resources[secret_id]["Properties"]["GenerateSecretString"]
        assert generate["GenerateStringKey"] == "password"
        assert generate["ExcludePunctuation"] is True
        assert generate["PasswordLength"] == 32
        template = json.dumps(synthesized.stack.resolve(generate["SecretStringTemplate"]))
        assert f'\\"username\\":\\"{role}\\"' in template
        assert "DatabaseInstanceSecretAttachmentFCA06D38" in template  # masterarn: the admin
        attachment = resources[attachment_id]["Properties"]
        assert attachment["SecretId"] == {"Ref": secret_id}
        assert attachment["TargetId"] == {"Ref": "DatabaseInstanceAA8A5FDE"}


def test_role_secrets_rotate_multi_user_like_the_admin_after_the_schema(
    synthesized: Synthesized,
) -> None:
    # GIVEN the role secrets WHEN their rotation is synthesized THEN hosted multi-user rotation
    # with the admin as master, in the admin rotation's subnets and security group, scheduled
    # only after the schema (which creates the roles and sets their first passwords)
    schedules = {
        json.dumps(schedule["Properties"]["SecretId"]): schedule
        for schedule in synthesized.resources("AWS::SecretsManager::RotationSchedule").values()
    }
    admin_rotation = schedules[json.dumps(ADMIN_SECRET)]["Properties"]
    for secret in (APP_SECRET, ANALYTICS_SECRET):
        schedule = schedules[json.dumps(secret)]
        hosted = schedule["Properties"]["HostedRotationLambda"]
        assert hosted["RotationType"] == "PostgreSQLMultiUser"
        assert hosted["MasterSecretArn"] == ADMIN_SECRET
        assert hosted["VpcSecurityGroupIds"] == {
            "Fn::GetAtt": ["DatabaseRotationSecurityGroup8E1B7C66", "GroupId"]
        }
        assert "isolated" in json.dumps(hosted["VpcSubnetIds"])
        assert schedule["Properties"]["RotationRules"] == admin_rotation["RotationRules"]
        assert "InitializerSchema41F1A0BF" in schedule["DependsOn"]
    assert any(name.startswith("AWS::SecretsManager-") for name in synthesized.json["Transform"])


def test_proxy_requires_tls_and_uses_the_secret(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties(
        "AWS::RDS::DBProxy",
        {
            "EngineFamily": "POSTGRESQL",
            "RequireTLS": True,
            # the admin secret first; the application roles' follow (tests/infra/test_app_access.py)
            "Auth": Match.array_with(
                [
                    Match.object_like(
                        {"SecretArn": {"Ref": "DatabaseInstanceSecretAttachmentFCA06D38"}}
                    )
                ]
            ),
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::RDS::DBProxyTargetGroup",
        {"DBInstanceIdentifiers": [{"Ref": "DatabaseInstanceAA8A5FDE"}]},
    )


def test_dev_is_disposable(dev: Synthesized) -> None:
    resources = dev.json["Resources"]
    instance = resources["DatabaseInstanceAA8A5FDE"]
    assert instance["Properties"]["DeletionProtection"] is False
    assert instance["DeletionPolicy"] == "Delete"
    assert resources["DatabaseAdminSecret"]["DeletionPolicy"] == "Delete"
    for secret_id in ROLE_SECRETS:
        assert resources[secret_id]["DeletionPolicy"] == "Delete"
    assert instance["Properties"]["MultiAZ"] is False


def test_prod_keeps_its_data(prod: Synthesized) -> None:
    resources = prod.json["Resources"]
    instance = resources["DatabaseInstanceAA8A5FDE"]
    assert instance["Properties"]["DeletionProtection"] is True
    assert instance["DeletionPolicy"] == "Snapshot"
    assert instance["UpdateReplacePolicy"] == "Snapshot"
    assert resources["DatabaseAdminSecret"]["DeletionPolicy"] == "Retain"
    for secret_id in ROLE_SECRETS:
        assert resources[secret_id]["DeletionPolicy"] == "Retain"
        assert resources[secret_id]["UpdateReplacePolicy"] == "Retain"
    assert instance["Properties"]["MultiAZ"] is True
    assert prod.stack.termination_protection is True


# --- monitoring -------------------------------------------------------------------------------


def test_alarms_notify_an_encrypted_topic(synthesized: Synthesized) -> None:
    alarms = synthesized.resources("AWS::CloudWatch::Alarm")
    metrics = {alarm["Properties"].get("MetricName") for alarm in alarms.values()}
    assert {"CPUUtilization", "FreeStorageSpace", "DatabaseConnections", "Errors"} <= metrics
    assert any(str(name).startswith("SchemaFailures") for name in metrics)
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "MonitoringTopic2EDA8B02"}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": "MonitoringTopic2EDA8B02"}]
    synthesized.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()}
    )
    synthesized.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    synthesized.template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": '{ $.status = "FAILED" }',
            "LogGroupName": {"Ref": "InitializerLogGroupA56F1039"},
        },
    )


# --- Aurora option ----------------------------------------------------------------------------


def test_aurora_is_selectable_by_config(aurora: Synthesized) -> None:
    assert not aurora.resources("AWS::RDS::DBInstance").keys() - {
        key
        for key, value in aurora.resources("AWS::RDS::DBInstance").items()
        if value["Properties"].get("DBClusterIdentifier")
    }
    aurora.template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "DatabaseName": "shoppulse",
            "StorageEncrypted": True,
            "DeletionProtection": True,
        },
    )
    aurora.template.has_resource_properties(
        "AWS::RDS::DBProxyTargetGroup",
        {"DBClusterIdentifiers": [Match.any_value()]},
    )
    _, schema = aurora.only("Custom::ShopPulseSchema")
    cluster_id = next(iter(aurora.resources("AWS::RDS::DBCluster")))
    assert cluster_id in schema["DependsOn"]
