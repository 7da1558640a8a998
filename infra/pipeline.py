"""CDK Pipelines: `make test`, then deploy dev, staging and (after a manual approval) prod."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import pipelines
from constructs import Construct

from infra.config import EnvironmentConfig, PipelineConfig
from infra.nag import acknowledge_pipeline_findings
from infra.stack import DatabaseStack

SYNTH_COMMANDS = [
    "make test",
    "npx --no-install cdk synth -c pipeline=true",
]


class DatabaseStage(cdk.Stage):
    """One environment's deployable unit inside the pipeline."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        repo_root: Path,
        sql_dir: Path,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=config.account, region=config.region),
        )
        # Same stack name as a manual `cdk deploy -c env=...`, so both manage one database.
        self.stack = DatabaseStack(
            self,
            config.stack_name,
            config=config,
            repo_root=repo_root,
            sql_dir=sql_dir,
            stack_name=config.stack_name,
        )


class PipelineStack(cdk.Stack):
    """Self-mutating pipeline; each stage's deploy applies the schema via the custom resource."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        environments: Sequence[EnvironmentConfig],
        repo_root: Path,
        sql_dir: Path,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="ShopPulse database delivery pipeline",
            env=cdk.Environment(account=config.account, region=config.region),
        )
        source = pipelines.CodePipelineSource.connection(
            config.repository, config.branch, connection_arn=config.connection_arn
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="shoppulse-db",
            # A customer-managed, rotated key encrypts the artifacts and the CodeBuild projects.
            cross_account_keys=True,
            enable_key_rotation=True,
            synth=pipelines.ShellStep(
                "Synth",
                input=source,
                commands=SYNTH_COMMANDS,
            ),
        )
        self.stages: dict[str, DatabaseStage] = {}
        for environment in environments:
            stage = DatabaseStage(
                self,
                f"Deploy-{environment.name}",
                config=environment,
                repo_root=repo_root,
                sql_dir=sql_dir,
            )
            # A failed schema verification fails that stage's deploy and rolls its stack back;
            # prod additionally waits for a person.
            pre = (
                [pipelines.ManualApprovalStep("PromoteToProd")]
                if environment.name == "prod"
                else []
            )
            self.pipeline.add_stage(stage, pre=pre)
            self.stages[environment.name] = stage
        self.pipeline.build_pipeline()
        acknowledge_pipeline_findings(self.pipeline)
