"""cdk-nag acknowledgements for the database stack, each with a reason a reviewer can check."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations, pipelines
from constructs import IConstruct

from infra.config import EnvironmentConfig

PACK = "AwsSolutions"


@dataclass(frozen=True)
class Finding:
    """One acknowledged rule on one construct, and why it is acceptable."""

    construct: IConstruct
    rule: str
    reason: str


def findings(
    *,
    config: EnvironmentConfig,
    database: IConstruct,
    initializer_role: IConstruct,
    initializer_function: IConstruct,
) -> list[Finding]:
    """The AwsSolutions findings a database stack knowingly accepts, given its config."""
    accepted = [
        Finding(
            database,
            "RDS11",
            "Port 5432 is part of the custom-resource contract (Port property); the database is"
            " reachable only from the proxy and rotation security groups in isolated subnets,"
            " so a non-default port would add obscurity, not control.",
        ),
        Finding(
            initializer_role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaVPCAccessExecutionRole]",
            "AWSLambdaVPCAccessExecutionRole holds only the EC2 network-interface and CloudWatch"
            " Logs actions a VPC Lambda needs (Describe*/ENI actions cannot be resource-scoped);"
            " the role's only other grant is GetSecretValue on the admin secret and the two"
            " application-role secrets whose passwords it sets.",
        ),
        Finding(
            initializer_function,
            "L1",
            "Pinned to Python 3.13, the newest runtime the db_init handler and its vendored"
            " dependencies (built with pip --python-version 3.13) are tested on; moving to a"
            " newer runtime is a deliberate, tested change.",
        ),
    ]
    if config.database.monitoring_interval_s:
        accepted.append(
            Finding(
                database,
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]",
                "The enhanced-monitoring role CDK creates for RDS holds only AWS's policy for it"
                " (create and write the RDSOSMetrics log group); RDS alone can assume it.",
            )
        )
    if not config.database.multi_az:
        accepted.append(
            Finding(
                database,
                "RDS3",
                f"{config.name} sets multi_az false in cdk.json: a disposable environment"
                " where a single-AZ outage is acceptable; staging and prod are Multi-AZ.",
            )
        )
    if not config.database.deletion_protection:
        accepted.append(
            Finding(
                database,
                "RDS10",
                f"{config.name} sets deletion_protection false in cdk.json so the stack can"
                " be torn down; staging and prod enable it (pinned by tests).",
            )
        )
    return accepted


def acknowledge(accepted: list[Finding]) -> None:
    """Record every accepted finding with CDK's Validations so cdk-nag reports none."""
    for finding in accepted:
        Validations.of(finding.construct).acknowledge(
            Acknowledgment(id=f"{PACK}-{finding.rule}", reason=finding.reason)
        )


def pipeline_findings(pipeline: pipelines.CodePipeline) -> list[Finding]:
    """The AwsSolutions findings accepted on the CDK Pipelines construct (all CDK-generated)."""
    stack = Stack.of(pipeline)
    region = stack.region

    def logical_id(path: str) -> str:
        resource = pipeline.node.find_child(path.split("/", maxsplit=1)[0])
        for part in path.split("/")[1:]:
            resource = resource.node.find_child(part)
        if not isinstance(resource, CfnElement):
            raise TypeError(f"{path}: not a CloudFormation element")
        return str(stack.resolve(resource.logical_id))

    artifacts = (
        "CDK Pipelines' own grant on the pipeline artifact bucket and its rotated KMS key:"
        " the action wildcards are the S3/KMS read-write grant and the object wildcard is"
        " scoped to that one bucket."
    )
    accepted = [
        Finding(pipeline, f"IAM5[Action::{action}]", artifacts)
        for action in (
            "s3:Abort*",
            "s3:DeleteObject*",
            "s3:GetBucket*",
            "s3:GetObject*",
            "s3:List*",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
        )
    ]
    bucket = logical_id("Pipeline/ArtifactsBucket/Resource")
    accepted.append(Finding(pipeline, f"IAM5[Resource::<{bucket}.Arn>/*]", artifacts))
    for project in (
        "Pipeline/Build/Synth/CdkBuildProject/Resource",
        "UpdatePipeline/SelfMutation/Resource",
    ):
        name = logical_id(project)
        reason = (
            "CodeBuild writes log streams and test reports under its own project name; the"
            " wildcard is only the stream or report suffix."
        )
        accepted += [
            Finding(
                pipeline,
                f"IAM5[Resource::arn:aws:logs:{region}:<AWS::AccountId>:log-group:/aws/codebuild/<{name}>:*]",
                reason,
            ),
            Finding(
                pipeline,
                f"IAM5[Resource::arn:aws:codebuild:{region}:<AWS::AccountId>:report-group/<{name}>-*]",
                reason,
            ),
        ]
    shared_publishing = (
        "The asset-publishing role is shared by every FileAsset CodeBuild project CDK Pipelines"
        " generates, whose names are not known to the policy."
    )
    accepted += [
        Finding(
            pipeline,
            f"IAM5[Resource::arn:aws:logs:{region}:<AWS::AccountId>:log-group:/aws/codebuild/*]",
            shared_publishing,
        ),
        Finding(
            pipeline,
            f"IAM5[Resource::arn:aws:codebuild:{region}:<AWS::AccountId>:report-group/*]",
            shared_publishing,
        ),
        Finding(
            pipeline,
            "IAM5[Resource::arn:*:iam::<AWS::AccountId>:role/*]",
            "sts:AssumeRole is conditioned on iam:ResourceTag/aws-cdk:bootstrap-role (deploy,"
            " file-publishing, image-publishing): only the CDK bootstrap roles can be assumed.",
        ),
        Finding(
            pipeline,
            "IAM5[Resource::*]",
            "Read-only cloudformation:DescribeStacks/s3:ListBucket for the self-mutation deploy"
            " and codebuild:StartBuild/BatchGetBuilds/StopBuild for the generated asset builds;"
            " neither takes a narrower resource CDK knows at synth.",
        ),
        Finding(
            pipeline,
            "S1",
            "The artifact bucket holds only transient pipeline artifacts, KMS-encrypted with the"
            " rotated pipeline key, public access blocked and TLS enforced; server access logs"
            " would add a second bucket without a reader.",
        ),
    ]
    return accepted


def acknowledge_pipeline_findings(pipeline: pipelines.CodePipeline) -> None:
    """Record the pipeline's accepted findings (call after build_pipeline())."""
    acknowledge(pipeline_findings(pipeline))
