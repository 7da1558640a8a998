"""checkov skips recorded in the template metadata, each with a reason a reviewer can check."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnResource, Stack
from constructs import IConstruct


@dataclass(frozen=True)
class Skip:
    """One checkov check skipped on one resource, and why that is acceptable."""

    resource: CfnResource
    check: str
    reason: str


def checkov_skips(stack: Stack) -> list[Skip]:
    """The checkov findings a database stack knowingly accepts."""
    del stack
    return []


def record_checkov_skips(stack: Stack) -> list[Skip]:
    """Write every skip into its resource's Metadata.checkov.skip, where checkov reads it."""
    skips = checkov_skips(stack)
    by_resource: dict[str, list[Skip]] = {}
    for skip in skips:
        by_resource.setdefault(skip.resource.node.path, []).append(skip)
    for entries in by_resource.values():
        entries[0].resource.add_metadata(
            "checkov",
            {"skip": [{"id": entry.check, "comment": entry.reason} for entry in entries]},
        )
    return skips


def cfn_resource(construct: IConstruct) -> CfnResource:
    """The CloudFormation resource behind a construct (itself, or its default child)."""
    if isinstance(construct, CfnResource):
        return construct
    child = construct.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path}: no CloudFormation resource to annotate")
    return child
