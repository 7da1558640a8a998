"""checkov skips recorded in the template metadata, each with a reason a reviewer can check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CfnResource, Stack
from constructs import IConstruct

from infra.config import EnvironmentConfig

# CDK's provider behind restrict_default_security_group: a singleton it names itself.
RESTRICT_DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider"


@dataclass(frozen=True)
class Skip:
    """One checkov check skipped on one resource, and why that is acceptable."""

    resource: IConstruct
    check: str
    reason: str


def checkov_skips(
    *,
    stack: Stack,
    config: EnvironmentConfig,
    database: IConstruct,
    secrets: Sequence[IConstruct],
    log_groups: Sequence[IConstruct],
    initializer_function: IConstruct,
) -> list[Skip]:
    """The checkov findings a database stack knowingly accepts, given its config."""
    skips = [
        Skip(
            initializer_function,
            "CKV_AWS_116",
            "No dead-letter queue: the handler answers FAILED for every error it can catch, a"
            " crash is reported by CloudFormation's ServiceTimeout and the Errors alarm, and a"
            " queued event would keep CloudFormation's presigned response URL, which nothing"
            " here stores.",
        ),
        Skip(
            initializer_function,
            "CKV_AWS_173",
            "The only environment variable is LOG_LEVEL=INFO (pinned by a test); credentials"
            " come from Secrets Manager at run time, so there is nothing to encrypt beyond"
            " Lambda's default at-rest encryption.",
        ),
    ]
    provider = stack.node.try_find_child(RESTRICT_DEFAULT_SG_PROVIDER)
    if provider is not None:
        handler = provider.node.find_child("Handler")
        reason = (
            "CDK's own provider for restrict_default_security_group: CloudFormation invokes it"
            " once per deploy to revoke the default security group's rules through the EC2"
            " API, which is unreachable from the isolated subnets; it holds no data."
        )
        skips += [
            Skip(handler, "CKV_AWS_116", f"No dead-letter queue. {reason}"),
            Skip(handler, "CKV_AWS_117", f"Not in the VPC. {reason}"),
            Skip(handler, "CKV_AWS_115", f"No reserved concurrency. {reason}"),
        ]
    if not config.database.customer_managed_key:
        key_reason = (
            f"{config.name} sets customer_managed_key false in cdk.json: a disposable"
            " environment on AWS-managed keys; staging and prod use the stack's rotated"
            " customer-managed key (pinned by tests)."
        )
        skips += [Skip(secret, "CKV_AWS_149", key_reason) for secret in secrets]
        skips += [Skip(group, "CKV_AWS_158", key_reason) for group in log_groups]
    if not config.database.multi_az:
        skips.append(
            Skip(
                database,
                "CKV_AWS_157",
                f"{config.name} sets multi_az false in cdk.json: a disposable environment where"
                " a single-AZ outage is acceptable; staging and prod are Multi-AZ.",
            )
        )
    if not config.database.monitoring_interval_s:
        skips.append(
            Skip(
                database,
                "CKV_AWS_118",
                f"{config.name} sets monitoring_interval_s 0 in cdk.json: enhanced monitoring"
                " costs per instance and a disposable environment has CloudWatch's metrics;"
                " staging and prod sample every 60 s.",
            )
        )
    return skips


def record_checkov_skips(skips: Sequence[Skip]) -> None:
    """Write every skip into its resource's Metadata.checkov.skip, where checkov reads it."""
    by_resource: dict[str, tuple[CfnResource, list[Skip]]] = {}
    for skip in skips:
        resource = cfn_resource(skip.resource)
        by_resource.setdefault(resource.node.path, (resource, []))[1].append(skip)
    for resource, entries in by_resource.values():
        resource.add_metadata(
            "checkov",
            {"skip": [{"id": entry.check, "comment": entry.reason} for entry in entries]},
        )


def cfn_resource(construct: IConstruct) -> CfnResource:
    """The CloudFormation resource behind a construct (itself, or its default child)."""
    if isinstance(construct, CfnResource):
        return construct
    child = construct.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path}: no CloudFormation resource to annotate")
    return child
