"""Issue 12 in the templates: alarm delivery, zones, one rule per flow, keys, observability,
re-creation, checkov skips; plus an infra/ with no import cycle."""

from __future__ import annotations

import ast
import collections
import json
from typing import Any

from infra.parameters import PARAMETERS
from tests.infra.conftest import REPO_ROOT, TEST_ACCOUNT, Synthesized

TOPIC = {"Ref": "MonitoringTopic2EDA8B02"}
DATA_KEY = "DataKey2A0DE9E6"
KEY_ARN = {"Fn::GetAtt": [DATA_KEY, "Arn"]}
INITIALIZER_SG = "NetworkInitializerSecurityGroupCF4220B8"
S3_PREFIX_LIST = "pl-6da54004"  # cdk.context.json's lookup for the placeholder account
SUBNETS = {"dev": 2, "staging": 2, "prod": 3}
STACK_PAGE = REPO_ROOT / "docs" / "stack.md"


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _group_id(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "GroupId"]}


# --- 1. alarm delivery ------------------------------------------------------------------------


def test_cloudwatch_may_publish_to_the_topic_next_to_the_tls_deny(
    synthesized: Synthesized,
) -> None:
    # GIVEN the topic policy WHEN read THEN the TLS-only deny stays and CloudWatch (and RDS
    # events) may publish, each only for this account
    _, policy = synthesized.only("AWS::SNS::TopicPolicy")
    statements = _statements(policy["Properties"]["PolicyDocument"])
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": TOPIC,
            "Sid": "AllowPublishThroughSSLOnly",
        }
    ]
    allowed = {s["Principal"]["Service"]: s for s in statements if s["Effect"] == "Allow"}
    for service in ("cloudwatch.amazonaws.com", "events.rds.amazonaws.com"):
        assert allowed[service]["Action"] == "sns:Publish"
        assert allowed[service]["Resource"] == TOPIC
        assert allowed[service]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }
    assert "events.amazonaws.com" in allowed  # the rotation-failure rule's target
    # THEN the topic's key lets those services encrypt the messages they publish
    topic_key = synthesized.json["Resources"]["MonitoringTopicKey423AF5B2"]["Properties"]
    [publishers] = [
        s for s in _statements(topic_key["KeyPolicy"]) if s.get("Sid") == "TopicPublishers"
    ]
    assert sorted(publishers["Principal"]["Service"]) == sorted(
        ["cloudwatch.amazonaws.com", "events.rds.amazonaws.com", "events.amazonaws.com"]
    )
    assert publishers["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


# --- 2. explicit environments -----------------------------------------------------------------


def test_stack_is_bound_to_its_account_region_and_zones(
    synthesized: Synthesized, env_name: str
) -> None:
    # GIVEN -c account (the placeholder) WHEN synthesized THEN the stack knows its environment
    assert synthesized.stack.account == TEST_ACCOUNT
    assert synthesized.stack.region == "eu-west-1"
    subnets = synthesized.resources("AWS::EC2::Subnet")
    # THEN every subnet names its zone (no Fn::GetAZs) and prod gets all three it asks for
    assert len(subnets) == SUBNETS[env_name]
    zones = [subnet["Properties"]["AvailabilityZone"] for subnet in subnets.values()]
    assert zones == ["eu-west-1a", "eu-west-1b", "eu-west-1c"][: SUBNETS[env_name]]
    _, proxy = synthesized.only("AWS::RDS::DBProxy")
    assert len(proxy["Properties"]["VpcSubnetIds"]) == SUBNETS[env_name]
    _, subnet_group = synthesized.only("AWS::RDS::DBSubnetGroup")
    assert len(subnet_group["Properties"]["SubnetIds"]) == SUBNETS[env_name]


def test_committed_lookups_cover_the_placeholder_account() -> None:
    # GIVEN cdk.context.json WHEN `make synth` runs offline THEN each lookup is answered
    lookups = json.loads((REPO_ROOT / "cdk.context.json").read_text())
    assert lookups[f"availability-zones:account={TEST_ACCOUNT}:region=eu-west-1"] == [
        "eu-west-1a",
        "eu-west-1b",
        "eu-west-1c",
    ]
    [prefix_list] = [value for key, value in lookups.items() if "PrefixList" in key]
    assert prefix_list == [{"PrefixListId": S3_PREFIX_LIST}]
    assert f"-c account={TEST_ACCOUNT}" in (REPO_ROOT / "Makefile").read_text().replace(
        "$(SYNTH_ACCOUNT)", TEST_ACCOUNT
    )


# --- 3. network -------------------------------------------------------------------------------


def _rules(synthesized: Synthesized) -> list[tuple[str, str, str, str]]:
    rules = []
    for resource_type in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        for rule in synthesized.resources(resource_type).values():
            props = rule["Properties"]
            peer = (
                props.get("SourceSecurityGroupId")
                or props.get("DestinationSecurityGroupId")
                or props.get("DestinationPrefixListId")
                or props.get("CidrIp")
            )
            rules.append(
                (
                    resource_type,
                    json.dumps(props["GroupId"]),
                    json.dumps(peer),
                    json.dumps(props["FromPort"]),
                )
            )
    return rules


def test_each_security_group_rule_exists_once(synthesized: Synthesized) -> None:
    # GIVEN every ingress/egress rule WHEN keyed by group, peer and port THEN none repeats
    counts = collections.Counter(_rules(synthesized))
    assert [rule for rule, count in counts.items() if count > 1] == []
    assert len(counts) == 13


def test_initializer_egress_is_the_proxy_the_endpoint_and_the_s3_prefix_list(
    synthesized: Synthesized,
) -> None:
    egress = {
        (json.dumps(peer), props["FromPort"])
        for rule in synthesized.resources("AWS::EC2::SecurityGroupEgress").values()
        if (props := rule["Properties"])["GroupId"] == _group_id(INITIALIZER_SG)
        for peer in [
            props.get("DestinationSecurityGroupId") or props.get("DestinationPrefixListId")
        ]
    }
    assert egress == {
        (json.dumps(_group_id("NetworkProxySecurityGroupA8451DE9")), 5432),
        (json.dumps(_group_id("NetworkSecretsManagerEndpointSecurityGroupF74F1556")), 443),
        (json.dumps(S3_PREFIX_LIST), 443),
    }
    group = synthesized.json["Resources"][INITIALIZER_SG]["Properties"]
    assert "0.0.0.0/0" not in json.dumps(group.get("SecurityGroupEgress", []))


def _endpoint(synthesized: Synthesized, service: str) -> dict[str, Any]:
    for endpoint in synthesized.resources("AWS::EC2::VPCEndpoint").values():
        if service in json.dumps(endpoint["Properties"]["ServiceName"]):
            props: dict[str, Any] = endpoint["Properties"]
            return props
    raise AssertionError(f"no {service} endpoint")


def test_s3_endpoint_only_lets_responses_reach_cloudformations_bucket(
    synthesized: Synthesized,
) -> None:
    policy = _endpoint(synthesized, ".s3")["PolicyDocument"]
    assert _statements(policy) == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":s3:::cloudformation-custom-resource-response-euwest1/*",
                    ],
                ]
            },
            "Sid": "CloudFormationResponsesOnly",
        }
    ]


def test_secrets_manager_endpoint_serves_only_the_stacks_secrets(
    synthesized: Synthesized,
) -> None:
    statements = _statements(_endpoint(synthesized, "secretsmanager")["PolicyDocument"])
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert set(by_sid) == {"ThisStacksSecretsOnly", "RotationPasswords"}
    secrets = by_sid["ThisStacksSecretsOnly"]
    assert sorted(secrets["Resource"], key=json.dumps) == sorted(
        [
            {"Ref": "DatabaseAdminSecret"},
            {"Ref": "RoleSecretsAppSecret152527FA"},
            {"Ref": "RoleSecretsAnalyticsSecretB66E3C08"},
        ],
        key=json.dumps,
    )
    assert "*" not in json.dumps(secrets["Action"])
    # GetRandomPassword has no resource to scope; it is the only action allowed on "*".
    assert by_sid["RotationPasswords"]["Action"] == "secretsmanager:GetRandomPassword"


# --- 4. keys ----------------------------------------------------------------------------------


def test_staging_and_prod_encrypt_with_one_rotated_retained_customer_key(
    synthesized: Synthesized, env_name: str
) -> None:
    resources = synthesized.json["Resources"]
    if env_name == "dev":  # disposable: AWS-managed keys
        assert DATA_KEY not in resources
        assert "KmsKeyId" not in resources["DatabaseAdminSecret"]["Properties"]
        return
    key = resources[DATA_KEY]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert not synthesized.resources("AWS::KMS::Alias"), "a fixed alias would block re-creation"
    instance = resources["DatabaseInstanceAA8A5FDE"]["Properties"]
    assert instance["KmsKeyId"] == KEY_ARN
    assert instance["PerformanceInsightsKMSKeyId"] == KEY_ARN
    for secret in synthesized.resources("AWS::SecretsManager::Secret").values():
        assert secret["Properties"]["KmsKeyId"] == KEY_ARN
    for log_group in synthesized.resources("AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["KmsKeyId"] == KEY_ARN
    logs = [
        s
        for s in _statements(key["Properties"]["KeyPolicy"])
        if s.get("Sid") == "CloudWatchLogsOfThisAccount"
    ]
    assert logs[0]["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert "kms:EncryptionContext:aws:logs:arn" in json.dumps(logs[0]["Condition"])


def test_rotation_proxy_and_initializer_may_use_the_key(
    synthesized: Synthesized, env_name: str
) -> None:
    _, single_user = synthesized.only("AWS::Serverless::Application")
    hosted = [
        schedule["Properties"]["HostedRotationLambda"]
        for schedule in synthesized.resources("AWS::SecretsManager::RotationSchedule").values()
        if "HostedRotationLambda" in schedule["Properties"]
    ]
    assert len(hosted) == 2
    if env_name == "dev":  # AWS-managed keys: nothing to pass or grant
        assert "kmsKeyArn" not in single_user["Properties"]["Parameters"]
        assert not [rotation for rotation in hosted if "KmsKeyArn" in rotation]
        return
    assert single_user["Properties"]["Parameters"]["kmsKeyArn"] == KEY_ARN
    for rotation in hosted:
        assert rotation["KmsKeyArn"] == KEY_ARN
        assert rotation["MasterSecretKmsKeyArn"] == KEY_ARN
    # The initializer and the proxy decrypt only through Secrets Manager (key policy grant).
    key_policy = synthesized.json["Resources"][DATA_KEY]["Properties"]["KeyPolicy"]
    [via_secrets_manager] = [
        statement
        for statement in _statements(key_policy)
        if statement["Action"] == "kms:Decrypt" and "AWS" in statement["Principal"]
    ]
    assert via_secrets_manager["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    }
    assert sorted(via_secrets_manager["Principal"]["AWS"], key=json.dumps) == [
        {"Fn::GetAtt": ["InitializerRole95C95DB2", "Arn"]},
        {"Fn::GetAtt": ["ProxyIAMRoleA5BE11FC", "Arn"]},
    ]


# --- 5. observability -------------------------------------------------------------------------


def test_enhanced_monitoring_in_staging_and_prod(synthesized: Synthesized, env_name: str) -> None:
    instance = synthesized.json["Resources"]["DatabaseInstanceAA8A5FDE"]["Properties"]
    if env_name == "dev":
        assert "MonitoringInterval" not in instance
    else:
        assert instance["MonitoringInterval"] == 60
        assert "MonitoringRole" in json.dumps(instance["MonitoringRoleArn"])


def test_parameter_group_sets_the_logging_and_timeouts_a_dba_expects(
    synthesized: Synthesized,
) -> None:
    parameters = synthesized.json["Resources"]["DatabaseParametersB8AC9B07"]["Properties"][
        "Parameters"
    ]
    assert parameters == PARAMETERS
    assert parameters["log_min_duration_statement"] == "1000"
    assert parameters["log_lock_waits"] == "1"
    assert parameters["idle_in_transaction_session_timeout"] == "300000"
    assert parameters["log_temp_files"] == "10240"
    assert parameters["log_autovacuum_min_duration"] == "1000"
    assert parameters["rds.force_autovacuum_logging_level"] == "log"
    # Each value is explained where a reader looks for it.
    page = STACK_PAGE.read_text()
    for name, value in PARAMETERS.items():
        assert f"`{name}`" in page and f"`{value}`" in page, name


def test_alarms_cover_memory_latency_wraparound_proxy_and_rotation(
    synthesized: Synthesized,
) -> None:
    alarms = synthesized.resources("AWS::CloudWatch::Alarm").values()
    metrics = {alarm["Properties"]["MetricName"]: alarm["Properties"] for alarm in alarms}
    for name in (
        "FreeableMemory",
        "ReadLatency",
        "WriteLatency",
        "MaximumUsedTransactionIDs",
        "ClientConnections",
        "ClientConnectionsSetupFailedAuth",
        "TriggeredRules",
    ):
        assert name in metrics, name
        assert metrics[name]["AlarmActions"] == [TOPIC]
        assert metrics[name]["OKActions"] == [TOPIC]
    assert metrics["MaximumUsedTransactionIDs"]["Threshold"] == 1_000_000_000
    for name in ("ClientConnections", "ClientConnectionsSetupFailedAuth"):
        assert metrics[name]["Dimensions"] == [
            {"Name": "ProxyName", "Value": {"Ref": "ProxyE947DB46"}}
        ]
    _, rule = synthesized.only("AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"]["detail"]["eventName"] == [
        "RotationFailed",
        "RotationAbandoned",
    ]
    assert rule["Properties"]["Targets"][0]["Arn"] == TOPIC
    assert metrics["TriggeredRules"]["Dimensions"][0]["Name"] == "RuleName"


def test_rds_events_for_failover_failure_and_maintenance_reach_the_topic(
    synthesized: Synthesized, env_name: str
) -> None:
    logical_id, subscription = synthesized.only("AWS::RDS::EventSubscription")
    props = subscription["Properties"]
    assert props["SnsTopicArn"] == TOPIC
    assert props["SourceType"] == "db-instance"
    assert props["SourceIds"] == [f"shoppulse-{env_name}"]
    assert props["EventCategories"] == ["failover", "failure", "maintenance"]
    assert "SubscriptionName" not in props  # a fixed name would block re-creation
    assert "DatabaseInstanceAA8A5FDE" in subscription["DependsOn"], logical_id


def test_every_taggable_resource_carries_environment_owner_and_cost_center(
    synthesized: Synthesized, env_name: str
) -> None:
    expected = {
        "project": "shoppulse",
        "environment": env_name,
        "owner": "shoppulse-dev-team" if env_name == "dev" else "shoppulse-platform",
        "cost-center": "shoppulse-analytics",
    }
    for logical_id in ("DatabaseInstanceAA8A5FDE", "ProxyE947DB46", "NetworkVpc7FB7348F"):
        tags = synthesized.json["Resources"][logical_id]["Properties"]["Tags"]
        assert {tag["Key"]: tag["Value"] for tag in tags}.items() >= expected.items(), logical_id
    _, target_group = synthesized.only("AWS::RDS::DBProxyTargetGroup")
    assert "Tags" not in target_group["Properties"]  # CloudFormation rejects them there


# --- 6. re-creatable --------------------------------------------------------------------------

NAME_PROPERTIES = ("LogGroupName", "DBInstanceIdentifier", "DBProxyName", "Name", "TopicName")


def test_every_retained_resource_with_a_fixed_name_is_listed_for_removal(
    synthesized: Synthesized, env_name: str
) -> None:
    # GIVEN the resources a deleted stack leaves behind WHEN one has a fixed name THEN the
    # page says to remove it before re-creating the stack (a new one would collide with it)
    page = STACK_PAGE.read_text()
    retained_named = sorted(
        props[name]
        for resource in synthesized.json["Resources"].values()
        if resource.get("DeletionPolicy") == "Retain"
        for props in [resource.get("Properties", {})]
        for name in NAME_PROPERTIES
        if isinstance(props.get(name), str)
    )
    if env_name == "dev":
        assert retained_named == []
        return
    assert retained_named == [
        f"/aws/rds/instance/shoppulse-{env_name}/postgresql",
        f"/aws/rds/instance/shoppulse-{env_name}/upgrade",
    ]
    for name in retained_named:
        assert name.replace(env_name, "<env>") in page, name


# --- 8. checkov -------------------------------------------------------------------------------


def test_checkov_skips_sit_in_the_metadata_with_reviewable_reasons(
    synthesized: Synthesized,
) -> None:
    page = STACK_PAGE.read_text()
    skipped = []
    for resource in synthesized.json["Resources"].values():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert set(skip) == {"id", "comment"}
            assert len(skip["comment"]) >= 60, skip
            skipped.append(skip["id"])
            assert f"`{skip['id']}`" in page, f"{skip['id']} is not in docs/stack.md"
    assert "CKV_AWS_116" in skipped  # the initializer's missing DLQ, at least


def test_makefile_runs_pinned_checkov_over_every_environment_in_make_test() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "test: lint typecheck synth checkov" in makefile
    assert "ShopPulseDb-$(env).template.json" in makefile
    pins = (REPO_ROOT / "requirements-checkov.txt").read_text().splitlines()
    requirements = [line for line in pins if line and not line.startswith("#")]
    assert "checkov==3.3.30" in requirements
    assert all("==" in line for line in requirements), "every dependency pinned exactly"


# --- 7. no import cycle in infra/ -------------------------------------------------------------


def _infra_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / "infra").glob("*.py")):
        module = f"infra.{path.stem}"
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text())):  # TYPE_CHECKING imports count too
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            graph[module] |= {name for name in names if name.startswith("infra.")}
    return {module: deps & set(graph) for module, deps in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> list[str] | None:
        state[module] = "open"
        for dependency in sorted(graph[module]):
            if state.get(dependency) == "open":
                return [*trail, module, dependency]
            if dependency not in state and (found := visit(dependency, [*trail, module])):
                return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [])):
            return found
    return None


def test_infra_has_no_import_cycle() -> None:
    graph = _infra_imports()
    assert "infra.stack" in graph["infra.pipeline"]  # the walk sees real edges
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
