"""Application access: three logins on the proxy, and what grant_connect gives a function."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from infra.app_access import ROLE_ACCESS, grant_connect
from infra.config import ConfigError, NetworkConfig, load_environment
from infra.network import Network
from infra.proxy import Proxy
from infra.role_secrets import ANALYTICS_ROLE, RoleSecrets
from infra.stack import DatabaseStack
from shoppulse_data import AuthMode, ClientConfig
from tests.infra.conftest import REPO_ROOT, TEST_ACCOUNT, Synthesized, placeholder_context

ADMIN_SECRET = {"Ref": "DatabaseInstanceSecretAttachmentFCA06D38"}
APP_SECRET = {"Ref": "RoleSecretsAppSecretAttachment2B714F60"}
ANALYTICS_SECRET = {"Ref": "RoleSecretsAnalyticsSecretAttachment78192DA6"}
PROXY_SG = "NetworkProxySecurityGroupA8451DE9"
ENDPOINT_SG = "NetworkSecretsManagerEndpointSecurityGroupF74F1556"
PROXY_ENDPOINT = {"Fn::GetAtt": ["ProxyE947DB46", "Endpoint"]}


def _proxy_user_arn(user: str) -> dict[str, Any]:
    proxy_id = {
        "Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["ProxyE947DB46", "DBProxyArn"]}]}]
    }
    return {
        "Fn::Join": [
            "",
            [
                f"arn:aws:rds-db:eu-west-1:{TEST_ACCOUNT}:dbuser:",
                proxy_id,
                f"/{user}",
            ],
        ]
    }


def test_the_prod_proxy_registers_three_logins_with_per_role_client_auth(prod: Synthesized) -> None:
    # GIVEN the prod template WHEN we read the proxy's logins
    _, proxy = prod.only("AWS::RDS::DBProxy")
    # THEN the initializer's admin password, shoppulse_app by IAM token, shoppulse_analytics by password
    assert proxy["Properties"]["Auth"] == [
        {"AuthScheme": "SECRETS", "IAMAuth": "DISABLED", "SecretArn": ADMIN_SECRET},
        {"AuthScheme": "SECRETS", "IAMAuth": "REQUIRED", "SecretArn": APP_SECRET},
        {"AuthScheme": "SECRETS", "IAMAuth": "DISABLED", "SecretArn": ANALYTICS_SECRET},
    ]
    assert proxy["Properties"]["RequireTLS"] is True
    # AND the proxy's own role may read exactly those three secrets (to sign in to the database)
    role = proxy["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    policies = [
        p
        for p in prod.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    readable = [
        resource
        for statement in statements
        if "secretsmanager:GetSecretValue" in statement["Action"]
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]
    assert sorted(map(json.dumps, readable)) == sorted(
        map(json.dumps, (ADMIN_SECRET, APP_SECRET, ANALYTICS_SECRET))
    )


def test_the_initializer_asset_does_not_carry_shoppulse_data(prod: Synthesized) -> None:
    # shoppulse_data is for applications; the schema Lambda's bundle is db_init only.
    bundles = [path for path in prod.outdir.glob("asset.*") if (path / "db_init").is_dir()]
    assert bundles, "no initializer asset found in the cloud assembly"
    assert all(not (path / "shoppulse_data").exists() for path in bundles)


def test_every_role_states_why_it_uses_its_client_auth() -> None:
    assert {role: access.auth for role, access in ROLE_ACCESS.items()} == {
        "app": AuthMode.IAM,
        "analytics": AuthMode.SECRET,
    }
    assert all(len(access.why) >= 40 for access in ROLE_ACCESS.values())


def test_outputs_list_the_role_secrets(synthesized: Synthesized) -> None:
    outputs = synthesized.json["Outputs"]
    assert outputs["AppSecretArn"]["Value"] == APP_SECRET
    assert outputs["AnalyticsSecretArn"]["Value"] == ANALYTICS_SECRET


class Granted:
    """A prod stack with an "Orders" function granted app and a "Reports" function analytics."""

    def __init__(self, outdir: Path) -> None:
        context = {**placeholder_context(), "env": "prod"}
        app = cdk.App(context=context, outdir=str(outdir))
        config = load_environment(
            {
                key: app.node.try_get_context(key)
                for key in ("shoppulse:environments", "shoppulse:pipeline")
            },
            "prod",
        )
        self.stack = DatabaseStack(
            app,
            config.stack_name,
            config=config,
            repo_root=REPO_ROOT,
            sql_dir=REPO_ROOT / "sql",
            env=cdk.Environment(account=config.account, region=config.region),
        )
        self.facts = {
            role: self.stack.grant_connect(self._function(name), role=role)
            for name, role in (("Orders", "app"), ("Reports", "analytics"))
        }
        self.ungranted = self._function("Bystander")
        self.json: dict[str, Any] = dict(Template.from_stack(self.stack).to_json())

    def _function(self, name: str) -> lambda_.Function:
        return lambda_.Function(
            self.stack,
            name,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="shoppulse_data.example_handler.handler",
            code=lambda_.Code.from_inline("def handler(event, context): pass"),
            vpc=self.stack.vpc,
            vpc_subnets=self.stack.network.subnets,
        )

    def logical_id(self, prefix: str, resource_type: str) -> str:
        """The one resource of `resource_type` whose logical id starts with `prefix`."""
        found: list[str] = [
            str(lid)
            for lid, r in self.json["Resources"].items()
            if lid.startswith(prefix) and r["Type"] == resource_type
        ]
        assert len(found) == 1, found
        return found[0]

    def statements(self, function: str) -> list[dict[str, Any]]:
        """The IAM statements of a function's role."""
        policy = self.logical_id(f"{function}ServiceRoleDefaultPolicy", "AWS::IAM::Policy")
        statements: list[dict[str, Any]] = self.json["Resources"][policy]["Properties"][
            "PolicyDocument"
        ]["Statement"]
        return statements

    def environment(self, function: str) -> dict[str, Any]:
        """A function's environment variables."""
        resource = self.json["Resources"][self.logical_id(function, "AWS::Lambda::Function")]
        variables: dict[str, Any] = (
            resource["Properties"].get("Environment", {}).get("Variables", {})
        )
        return variables

    def ingress(self, group: str) -> set[tuple[str, int]]:
        """(source security group, port) of every ingress rule on a group."""
        rules = set()
        for resource in self.json["Resources"].values():
            props = resource["Properties"]
            if resource["Type"] == "AWS::EC2::SecurityGroupIngress" and props["GroupId"] == {
                "Fn::GetAtt": [group, "GroupId"]
            }:
                rules.add((props["SourceSecurityGroupId"]["Fn::GetAtt"][0], props["FromPort"]))
        return rules


@pytest.fixture(scope="module")
def granted(tmp_path_factory: pytest.TempPathFactory) -> Granted:
    return Granted(tmp_path_factory.mktemp("cdk-granted"))


def test_grant_connect_app_opens_the_proxy_and_grants_iam_login_only(granted: Granted) -> None:
    orders_sg = granted.logical_id("OrdersSecurityGroup", "AWS::EC2::SecurityGroup")
    # THEN the proxy's security group admits the function on 5432 (and Secrets Manager does not)
    assert (orders_sg, 5432) in granted.ingress(PROXY_SG)
    assert all(source != orders_sg for source, _ in granted.ingress(ENDPOINT_SG))
    # AND its role may rds-db:connect as shoppulse_app (or the rotation's clone) on this proxy only
    assert granted.statements("Orders") == [
        {
            "Action": "rds-db:connect",
            "Effect": "Allow",
            "Resource": [_proxy_user_arn("shoppulse_app"), _proxy_user_arn("shoppulse_app_clone")],
        }
    ]
    # AND it is told where and how to connect, and nothing secret
    assert granted.environment("Orders") == {
        "SHOPPULSE_DB_HOST": PROXY_ENDPOINT,
        "SHOPPULSE_DB_PORT": "5432",
        "SHOPPULSE_DB_NAME": "shoppulse",
        "SHOPPULSE_DB_AUTH": "iam",
        "SHOPPULSE_DB_USER": "shoppulse_app",
    }


def test_grant_connect_analytics_grants_reading_its_secret_and_reaching_secrets_manager(
    granted: Granted,
) -> None:
    reports_sg = granted.logical_id("ReportsSecurityGroup", "AWS::EC2::SecurityGroup")
    assert (reports_sg, 5432) in granted.ingress(PROXY_SG)
    assert (reports_sg, 443) in granted.ingress(ENDPOINT_SG)
    assert granted.statements("Reports") == [
        {
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Effect": "Allow",
            "Resource": ANALYTICS_SECRET,
        }
    ]
    assert granted.environment("Reports")["SHOPPULSE_DB_SECRET_ARN"] == ANALYTICS_SECRET
    assert granted.environment("Reports")["SHOPPULSE_DB_AUTH"] == "secret"


def test_a_function_without_grant_connect_gets_nothing(granted: Granted) -> None:
    bystander_sg = granted.logical_id("BystanderSecurityGroup", "AWS::EC2::SecurityGroup")
    assert all(
        source != bystander_sg
        for source, _ in granted.ingress(PROXY_SG) | granted.ingress(ENDPOINT_SG)
    )
    assert "SHOPPULSE_DB_HOST" not in granted.environment("Bystander")


@pytest.mark.parametrize("role", ["app", "analytics"])
def test_the_facts_handed_over_are_the_ones_shoppulse_data_reads(
    granted: Granted, role: str
) -> None:
    # GIVEN the environment grant_connect set, with CloudFormation's tokens resolved
    resolved = {
        "SHOPPULSE_DB_HOST": "shoppulse-prod.proxy-abc.eu-west-1.rds.amazonaws.com",
        "SHOPPULSE_DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:s-AbCdEf",
    }
    facts = granted.facts[role].environment
    env = {name: resolved.get(name, value) for name, value in facts.items()}
    # WHEN the client reads it THEN it has everything it needs, TLS on
    config = ClientConfig.from_environment(env)
    assert config.auth is ROLE_ACCESS[role].auth
    assert config.tls and config.port == 5432 and config.database == "shoppulse"


def test_an_unknown_role_is_refused(granted: Granted) -> None:
    with pytest.raises(ConfigError, match="role must be one of"):
        granted.stack.grant_connect(granted.ungranted, role="admin")


def test_a_secret_under_a_customer_key_also_grants_kms_decrypt_through_secrets_manager() -> None:
    # GIVEN a role secret encrypted with a customer-managed key (the proxy is a stand-in: the
    # secret path only hands over its endpoint)
    stack = cdk.Stack(
        cdk.App(), "Keyed", env=cdk.Environment(account="111122223333", region="eu-west-1")
    )
    network = Network(
        stack,
        "Network",
        config=NetworkConfig(
            vpc_id=None, vpc_cidr="10.9.0.0/16", max_azs=2, create_vpc_endpoints=True
        ),
        region="eu-west-1",
        key=None,
    )
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    secret = secretsmanager.Secret(stack, "AnalyticsSecret", encryption_key=key)
    role_secrets = SimpleNamespace(secrets={ANALYTICS_ROLE: secret})
    proxy = SimpleNamespace(endpoint="shoppulse.proxy.example")
    reports = lambda_.Function(
        stack,
        "Reports",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        vpc=network.vpc,
    )
    # WHEN the function is granted the analytics role
    grant_connect(
        reports,
        role="analytics",
        proxy=cast(Proxy, proxy),
        network=network,
        role_secrets=cast(RoleSecrets, role_secrets),
    )
    # THEN the key lets the function's role decrypt, only through Secrets Manager (CDK puts a
    # same-stack key's grant in the key policy)
    template = Template.from_stack(stack).to_json()
    key_policy = template["Resources"][stack.resolve(key.node.default_child.logical_id)]  # type: ignore[union-attr]
    role = stack.resolve(reports.role.node.default_child.logical_id)  # type: ignore[union-attr]
    decrypt = [
        statement
        for statement in key_policy["Properties"]["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"AWS": {"Fn::GetAtt": [role, "Arn"]}}
    ]
    assert [statement["Action"] for statement in decrypt] == ["kms:Decrypt"]
    assert decrypt[0]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    }
