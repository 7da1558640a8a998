"""The network: isolated subnets, VPC endpoints instead of NAT, and the only allowed flows."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import DATABASE_PORT, NetworkConfig

ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
# What the stack's own callers do with its secrets: the initializer and the proxy read them,
# the rotation functions read, describe, write and promote versions.
SECRET_ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
]


def response_bucket(region: str) -> str:
    """The bucket CloudFormation's presigned custom-resource response URLs point into."""
    return f"cloudformation-custom-resource-response-{region.replace('-', '')}"


class Network(Construct):
    """VPC (created or imported), S3 + Secrets Manager endpoints, and the security groups."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: NetworkConfig,
        region: str,
        key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_groups: list[logs.LogGroup] = []
        self.vpc = self._vpc(config, key)
        self.subnets = ISOLATED

        # No NAT: the custom-resource response goes to S3 and credentials come from Secrets
        # Manager, both through endpoints, so the subnets never need a route to the internet.
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "SecretsManagerEndpointSecurityGroup",
            vpc=self.vpc,
            description="Secrets Manager interface endpoint: HTTPS from the initializer, proxy"
            " and rotation function only",
            allow_all_outbound=False,
        )
        self.s3_endpoint: ec2.GatewayVpcEndpoint | None = None
        self.secrets_manager_endpoint: ec2.InterfaceVpcEndpoint | None = None
        if config.create_vpc_endpoints:
            self.s3_endpoint = self.vpc.add_gateway_endpoint(
                "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[ISOLATED]
            )
            # Nothing in these subnets needs S3 but the initializer's response upload: a
            # presigned URL into any other bucket (an exfiltration path) is refused here.
            self.s3_endpoint.add_to_policy(
                iam.PolicyStatement(
                    sid="CloudFormationResponsesOnly",
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{response_bucket(region)}/*"],
                )
            )
            self.secrets_manager_endpoint = self.vpc.add_interface_endpoint(
                "SecretsManagerEndpoint",
                service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
                subnets=ISOLATED,
                private_dns_enabled=True,
                open=False,  # only the security groups granted below may use it
                security_groups=[self.endpoint_security_group],
            )
            # The rotation functions ask for a new password; the action takes no resource.
            self.secrets_manager_endpoint.add_to_policy(
                iam.PolicyStatement(
                    sid="RotationPasswords",
                    principals=[iam.AnyPrincipal()],
                    actions=["secretsmanager:GetRandomPassword"],
                    resources=["*"],
                )
            )

        self.initializer_security_group = ec2.SecurityGroup(
            self,
            "InitializerSecurityGroup",
            vpc=self.vpc,
            description="Schema initializer Lambda: PostgreSQL to the proxy, HTTPS to endpoints",
            allow_all_outbound=False,
        )
        self.proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=self.vpc,
            description="RDS Proxy: PostgreSQL from the initializer, to the database only",
            allow_all_outbound=False,
        )
        self.database_security_group = ec2.SecurityGroup(
            self,
            "DatabaseSecurityGroup",
            vpc=self.vpc,
            description="PostgreSQL database: reachable from the proxy and rotation function only",
            allow_all_outbound=False,
        )

        # Each flow is declared once. The proxy -> database and rotation -> database rules are
        # CDK's own (DatabaseProxy and the rotation add them); declaring them here again made
        # a second rule for the same physical permission, and deleting either later would
        # revoke both.
        https = ec2.Port.tcp(443)
        self.initializer_security_group.connections.allow_to(
            self.proxy_security_group, ec2.Port.tcp(DATABASE_PORT), "initializer to proxy"
        )
        self.initializer_security_group.connections.allow_to(
            self.endpoint_security_group, https, "initializer to Secrets Manager endpoint"
        )
        self.proxy_security_group.connections.allow_to(
            self.endpoint_security_group, https, "proxy to Secrets Manager endpoint"
        )
        # The CloudFormation response is an HTTPS PUT to a presigned S3 URL, routed through the
        # gateway endpoint: egress only to the region's S3 prefix list, never 0.0.0.0/0.
        s3 = ec2.PrefixList.from_lookup(
            self, "S3PrefixList", prefix_list_name=f"com.amazonaws.{region}.s3"
        )
        self.initializer_security_group.add_egress_rule(
            ec2.Peer.prefix_list(s3.prefix_list_id),
            https,
            "CloudFormation response to S3 via the gateway endpoint",
        )

    def serve_secrets(self, sid: str, secret_arns: Sequence[str]) -> None:
        """Let the Secrets Manager endpoint serve these secrets (it serves no others)."""
        if self.secrets_manager_endpoint is None:
            return
        self.secrets_manager_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.AnyPrincipal()],
                actions=SECRET_ACTIONS,
                resources=list(secret_arns),
            )
        )

    def _vpc(self, config: NetworkConfig, key: kms.IKey | None) -> ec2.IVpc:
        if config.vpc_id is not None:
            # Needs credentials at synth: only used when an environment sets vpc_id.
            return ec2.Vpc.from_lookup(self, "ImportedVpc", vpc_id=config.vpc_id)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            max_azs=config.max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            restrict_default_security_group=True,  # nothing may ride on the default group
        )
        flow_log_group = logs.LogGroup(
            self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH, encryption_key=key
        )
        self.log_groups.append(flow_log_group)
        vpc.add_flow_log(
            "FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group)
        )
        return vpc
