"""Synthesize each environment once per session; tests read the resulting templates."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import app

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")


# The placeholder account `make synth` passes (-c account=...): cdk.context.json holds its
# lookups (zones, S3 prefix list), so nothing here needs AWS credentials.
TEST_ACCOUNT = "123456789012"


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context plus cdk.context.json's lookups, as the CLI would pass them."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    lookups: dict[str, Any] = json.loads((REPO_ROOT / "cdk.context.json").read_text())
    return {**lookups, **context}


def placeholder_context() -> dict[str, Any]:
    """cdk_json_context() with every environment's account set to TEST_ACCOUNT."""
    context = copy.deepcopy(cdk_json_context())
    for block in context["shoppulse:environments"].values():
        block["account"] = TEST_ACCOUNT
    return context


@dataclass(frozen=True)
class Synthesized:
    """One synthesized app: its stack object, the template and the cloud assembly directory."""

    stack: cdk.Stack
    template: Template
    json: dict[str, Any]
    outdir: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource of one type."""
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        """The single resource of a type (fails if there are zero or several)."""
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))


def synthesize(context: Mapping[str, Any], outdir: Path) -> Synthesized:
    """Build the app exactly as app.py does and synthesize it (cdk-nag runs here)."""
    cdk_app = cdk.App(context=dict(context), outdir=str(outdir))
    stack = app.build(cdk_app)
    assembly = cdk_app.synth()
    template_json: dict[str, Any] = assembly.get_stack_artifact(stack.artifact_id).template
    return Synthesized(stack, Template.from_json(template_json), template_json, outdir)


@pytest.fixture(scope="session")
def synth_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], Synthesized]]:
    """Synthesizes an environment on first use and caches it for the session."""
    cache: dict[str, Synthesized] = {}

    def get(name: str) -> Synthesized:
        if name not in cache:
            context = {**placeholder_context(), "env": name}
            cache[name] = synthesize(context, tmp_path_factory.mktemp(f"cdk-{name}"))
        return cache[name]

    yield get


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def env_name(request: pytest.FixtureRequest) -> str:
    """Each environment in turn."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def synthesized(synth_env: Callable[[str], Synthesized], env_name: str) -> Synthesized:
    """The synthesized stack of the current environment."""
    return synth_env(env_name)


@pytest.fixture(scope="session")
def dev(synth_env: Callable[[str], Synthesized]) -> Synthesized:
    """The dev stack."""
    return synth_env("dev")


@pytest.fixture(scope="session")
def prod(synth_env: Callable[[str], Synthesized]) -> Synthesized:
    """The prod stack."""
    return synth_env("prod")


@pytest.fixture(scope="session")
def aurora(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Staging switched to Aurora PostgreSQL through config only."""
    context = placeholder_context()
    database = context["shoppulse:environments"]["staging"]["database"]
    database["engine"] = "aurora-postgresql"
    database["instance_class"] = "r7g.large"
    return synthesize({**context, "env": "staging"}, tmp_path_factory.mktemp("cdk-aurora"))


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The CDK Pipelines stack (-c pipeline=true) with its three stages."""
    context = {**placeholder_context(), "pipeline": "true"}
    return synthesize(context, tmp_path_factory.mktemp("cdk-pipeline"))
