"""The network: isolated subnets, VPC endpoints instead of NAT, and the only allowed flows."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import DATABASE_PORT, NetworkConfig

ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


class Network(Construct):
    """VPC (created or imported), S3 + Secrets Manager endpoints, and the security groups."""

    def __init__(self, scope: Construct, construct_id: str, *, config: NetworkConfig) -> None:
        super().__init__(scope, construct_id)
        self.vpc = self._vpc(config)
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
        self.secrets_manager_endpoint: ec2.InterfaceVpcEndpoint | None = None
        if config.create_vpc_endpoints:
            self.vpc.add_gateway_endpoint(
                "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[ISOLATED]
            )
            self.secrets_manager_endpoint = self.vpc.add_interface_endpoint(
                "SecretsManagerEndpoint",
                service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
                subnets=ISOLATED,
                private_dns_enabled=True,
                open=False,  # only the security groups granted below may use it
                security_groups=[self.endpoint_security_group],
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

        postgres = ec2.Port.tcp(DATABASE_PORT)
        https = ec2.Port.tcp(443)
        self.initializer_security_group.connections.allow_to(
            self.proxy_security_group, postgres, "initializer to proxy"
        )
        self.proxy_security_group.connections.allow_to(
            self.database_security_group, postgres, "proxy to database"
        )
        self.initializer_security_group.connections.allow_to(
            self.endpoint_security_group, https, "initializer to Secrets Manager endpoint"
        )
        self.proxy_security_group.connections.allow_to(
            self.endpoint_security_group, https, "proxy to Secrets Manager endpoint"
        )
        # The CloudFormation response is an HTTPS PUT to a presigned S3 URL reached through
        # the gateway endpoint; its prefix list id is per region and unknown at synth, and the
        # isolated subnets have no other route out, so 443 to any address reaches only S3.
        self.initializer_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), https, "CloudFormation response to S3 via the gateway endpoint"
        )

    def _vpc(self, config: NetworkConfig) -> ec2.IVpc:
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
        flow_log_group = logs.LogGroup(self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH)
        vpc.add_flow_log(
            "FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group)
        )
        return vpc
