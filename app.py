#!/usr/bin/env python3
"""CDK entry point: the only place that reads context (`-c env=dev|staging|prod`, `-c pipeline`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import ConfigError, load_environment, load_pipeline
from infra.pipeline import PipelineStack
from infra.stack import DatabaseStack

REPO_ROOT = Path(__file__).resolve().parent
CONTEXT_KEYS = ("shoppulse:environments", "shoppulse:pipeline")


def build(app: cdk.App) -> cdk.Stack:
    """Add the stack the context asks for (one environment, or the pipeline) and cdk-nag."""
    context: Mapping[str, object] = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    environment = app.node.try_get_context("env") or "dev"
    if not isinstance(environment, str):
        raise ConfigError(f"-c env: expected a name, got {environment!r}")
    stack: cdk.Stack
    if str(app.node.try_get_context("pipeline")).lower() == "true":
        stack = PipelineStack(
            app,
            "ShopPulseDbPipeline",
            config=load_pipeline(context),
            environments=[load_environment(context, name) for name in ("dev", "staging", "prod")],
            repo_root=REPO_ROOT,
        )
    else:
        config = load_environment(context, environment)
        stack = DatabaseStack(
            app,
            config.stack_name,
            config=config,
            repo_root=REPO_ROOT,
            env=cdk.Environment(account=config.account, region=config.region),
        )
    # CloudFormation rejects Tags on proxy target groups although CDK marks them taggable.
    cdk.Tags.of(app).add(
        "project", "shoppulse", exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"]
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


if __name__ == "__main__":
    cdk_app = cdk.App()
    build(cdk_app)
    cdk_app.synth()
