"""cdk-nag gates every synth, acknowledgements carry reasons, and the pipeline synthesizes."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks

from infra.nag import pipeline_findings
from infra.pipeline import PipelineStack
from infra.stack import DatabaseStack
from tests.infra.conftest import Synthesized


def _violations(outdir: Path) -> list[str]:
    report = outdir / "validation-report.json"
    if not report.exists():
        return []
    data = json.loads(report.read_text())
    return [v["ruleName"] for plugin in data["pluginReports"] for v in plugin["violations"]]


def test_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    # GIVEN app.py's AwsSolutionsChecks WHEN the environment synthesized THEN nothing is open
    assert _violations(synthesized.outdir) == []


def test_every_acknowledgement_has_a_reviewable_reason(synthesized: Synthesized) -> None:
    assert isinstance(synthesized.stack, DatabaseStack)
    accepted = synthesized.stack.accepted_findings
    rules = [finding.rule for finding in accepted]
    assert len(rules) == len(set(rules))
    assert all(len(finding.reason) >= 60 for finding in accepted)


def test_only_disposable_environments_skip_multi_az_and_deletion_protection(
    synthesized: Synthesized, env_name: str
) -> None:
    assert isinstance(synthesized.stack, DatabaseStack)
    rules = {finding.rule for finding in synthesized.stack.accepted_findings}
    if env_name == "dev":
        assert {"RDS3", "RDS10"} <= rules
    else:
        assert not {"RDS3", "RDS10"} & rules


def test_cdk_nag_is_live_and_fails_synth_on_a_finding(tmp_path: Path) -> None:
    # GIVEN a stack with a security group open to the world and no acknowledgement
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Open")
    group = ec2.SecurityGroup(stack, "Open", vpc=ec2.Vpc(stack, "Vpc"))
    group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(22))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    # WHEN it synthesizes THEN validation fails and names the rule
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert "AwsSolutions-EC23" in _violations(tmp_path)


def test_pipeline_synthesizes_three_stages_with_approval_before_prod(
    pipeline: Synthesized,
) -> None:
    assert _violations(pipeline.outdir) == []
    _, codepipeline = pipeline.only("AWS::CodePipeline::Pipeline")
    stages = [stage["Name"] for stage in codepipeline["Properties"]["Stages"]]
    assert stages[:2] == ["Source", "Build"]
    assert stages[-3:] == ["Deploy-dev", "Deploy-staging", "Deploy-prod"]
    prod_actions = codepipeline["Properties"]["Stages"][-1]["Actions"]
    approval = [a for a in prod_actions if a["ActionTypeId"]["Category"] == "Approval"]
    assert approval, "prod needs a manual approval"
    assert min(a["RunOrder"] for a in approval) < max(a["RunOrder"] for a in prod_actions)
    text = json.dumps(codepipeline)
    for name in ("ShopPulseDb-dev", "ShopPulseDb-staging", "ShopPulseDb-prod"):
        assert f'"StackName": "{name}"' in text
    assert "make test" in json.dumps(pipeline.json)


def test_pipeline_acknowledgements_are_cdk_generated_grants_only(pipeline: Synthesized) -> None:
    assert isinstance(pipeline.stack, PipelineStack)
    accepted = pipeline_findings(pipeline.stack.pipeline)
    assert all(finding.rule.startswith(("IAM5[", "S1")) for finding in accepted)
    assert all(len(finding.reason) >= 60 for finding in accepted)
