"""cdk-nag acknowledgements for the database stack, each with a reason a reviewer can check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.stack import DatabaseStack

PACK = "AwsSolutions"


@dataclass(frozen=True)
class Finding:
    """One acknowledged rule on one construct, and why it is acceptable."""

    construct: IConstruct
    rule: str
    reason: str


def findings(stack: DatabaseStack) -> list[Finding]:
    """The AwsSolutions findings this stack knowingly accepts, given its environment's config."""
    database = stack.database.resource
    accepted = [
        Finding(
            database,
            "RDS11",
            "Port 5432 is part of the custom-resource contract (Port property); the database is"
            " reachable only from the proxy and rotation security groups in isolated subnets,"
            " so a non-default port would add obscurity, not control.",
        ),
        Finding(
            stack.initializer.role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaVPCAccessExecutionRole]",
            "AWSLambdaVPCAccessExecutionRole holds only the EC2 network-interface and CloudWatch"
            " Logs actions a VPC Lambda needs (Describe*/ENI actions cannot be resource-scoped);"
            " the role's only other grant is GetSecretValue on the one database secret.",
        ),
        Finding(
            stack.initializer.function,
            "L1",
            "Pinned to Python 3.13, the newest runtime the db_init handler and its vendored"
            " dependencies (built with pip --python-version 3.13) are tested on; moving to a"
            " newer runtime is a deliberate, tested change.",
        ),
    ]
    if not stack.config.database.multi_az:
        accepted.append(
            Finding(
                database,
                "RDS3",
                f"{stack.config.name} sets multi_az false in cdk.json: a disposable environment"
                " where a single-AZ outage is acceptable; staging and prod are Multi-AZ.",
            )
        )
    if not stack.config.database.deletion_protection:
        accepted.append(
            Finding(
                database,
                "RDS10",
                f"{stack.config.name} sets deletion_protection false in cdk.json so the stack can"
                " be torn down; staging and prod enable it (pinned by tests).",
            )
        )
    return accepted


def acknowledge_findings(stack: DatabaseStack) -> None:
    """Record every accepted finding with CDK's Validations so cdk-nag reports none."""
    for finding in findings(stack):
        Validations.of(finding.construct).acknowledge(
            Acknowledgment(id=f"{PACK}-{finding.rule}", reason=finding.reason)
        )
