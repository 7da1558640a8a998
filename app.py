#!/usr/bin/env python3
"""CDK entry point: the only place that reads context (`-c env=dev|staging|prod`, `-c pipeline`,
`-c account=ID` in place of the environment's account in cdk.json, `-c sqlRoot=DIR` to
synthesize another SQL tree, e.g. to see what its lint says)."""

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
    sql_dir = _sql_dir(app.node.try_get_context("sqlRoot"))
    stack: cdk.Stack
    if str(app.node.try_get_context("pipeline")).lower() == "true":
        stack = PipelineStack(
            app,
            "ShopPulseDbPipeline",
            config=load_pipeline(context),
            environments=[load_environment(context, name) for name in ("dev", "staging", "prod")],
            repo_root=REPO_ROOT,
            sql_dir=sql_dir,
        )
    else:
        config = load_environment(
            context, environment, account=_account(app.node.try_get_context("account"))
        )
        stack = DatabaseStack(
            app,
            config.stack_name,
            config=config,
            repo_root=REPO_ROOT,
            sql_dir=sql_dir,
            env=cdk.Environment(account=config.account, region=config.region),
        )
    # CloudFormation rejects Tags on proxy target groups although CDK marks them taggable.
    cdk.Tags.of(app).add(
        "project", "shoppulse", exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"]
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def _account(value: object) -> str | None:
    """-c account=ID (CDK passes a 12-digit id through as a number)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"-c account: expected a 12-digit AWS account id, got {value!r}")
    return str(value)


def _sql_dir(value: object) -> Path:
    """The SQL tree (migrations/, seeds/) to lint and bundle: sql/ unless -c sqlRoot is set."""
    if value is None:
        return REPO_ROOT / "sql"
    if not isinstance(value, str) or not (Path(value) / "migrations").is_dir():
        raise ConfigError(f"-c sqlRoot: expected a directory holding migrations/, got {value!r}")
    return Path(value).resolve()


if __name__ == "__main__":
    cdk_app = cdk.App()
    build(cdk_app)
    cdk_app.synth()
