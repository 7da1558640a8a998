"""infra.config: cdk.json context -> frozen, validated EnvironmentConfig."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from infra.config import ConfigError, load_environment, load_pipeline
from tests.infra.conftest import ENVIRONMENTS, TEST_ACCOUNT, cdk_json_context, placeholder_context


def _context() -> dict[str, Any]:
    return placeholder_context()


def _dev_block(context: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = context["shoppulse:environments"]["dev"]
    return block


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_environment_in_cdk_json_is_valid(name: str) -> None:
    # GIVEN the committed cdk.json WHEN each environment loads THEN it validates
    config = load_environment(_context(), name)
    assert config.name == name
    assert config.stack_name == f"ShopPulseDb-{name}"
    assert config.network.vpc_id is None  # synth must need no AWS lookups


def test_seeds_and_protection_differ_between_dev_and_prod() -> None:
    dev = load_environment(_context(), "dev")
    prod = load_environment(_context(), "prod")
    assert dev.initializer.apply_seeds is True
    assert prod.initializer.apply_seeds is False
    assert (dev.database.deletion_protection, prod.database.deletion_protection) == (False, True)
    assert (dev.database.removal_policy, prod.database.removal_policy) == ("destroy", "snapshot")
    assert prod.database.multi_az is True


def test_drift_policy_warns_in_dev_only_and_no_environment_baselines() -> None:
    # GIVEN the committed cdk.json WHEN each environment loads THEN dev warns, the rest refuse
    modes = {name: load_environment(_context(), name).initializer for name in ENVIRONMENTS}
    assert {name: mode.on_drift for name, mode in modes.items()} == {
        "dev": "warn",
        "staging": "fail",
        "prod": "fail",
    }
    assert all(mode.baseline_version is None for mode in modes.values())


def test_drift_policy_defaults_to_fail_and_baseline_takes_a_version() -> None:
    context = _context()
    del _dev_block(context)["initializer"]["on_drift"]
    _dev_block(context)["initializer"]["baseline_version"] = "V001"
    initializer = load_environment(context, "dev").initializer
    assert (initializer.on_drift, initializer.baseline_version) == ("fail", "V001")


def test_config_is_frozen() -> None:
    config = load_environment(_context(), "dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.name = "prod"  # type: ignore[misc]


def test_unknown_environment_name_is_rejected() -> None:
    with pytest.raises(ConfigError, match="expected one of dev, staging, prod"):
        load_environment(_context(), "qa")


def test_missing_required_setting_names_its_path() -> None:
    context = _context()
    del _dev_block(context)["database"]["instance_class"]
    with pytest.raises(ConfigError, match=r"dev\.database\.instance_class: missing"):
        load_environment(context, "dev")


def test_unknown_setting_is_a_typo_error() -> None:
    context = _context()
    _dev_block(context)["initializer"]["apply_seed"] = True
    with pytest.raises(ConfigError, match=r"unknown setting.*apply_seed"):
        load_environment(context, "dev")


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("initializer", "apply_seeds", "yes", "expected true or false"),
        ("database", "backup_retention_days", 0, "outside 1..35"),
        ("database", "backup_retention_days", True, "expected an integer"),
        ("database", "removal_policy", "keep", "not one of"),
        ("database", "engine", "mysql", "not one of"),
        ("database", "log_retention_days", 10, "not a CloudWatch retention period"),
        ("network", "vpc_cidr", "10.0.0.0/8", "not valid"),
        ("alarms", "email", "not-an-email", "not valid"),
        ("initializer", "on_drift", "ignore", r"on_drift: 'ignore' is not one of warn, fail"),
        ("initializer", "on_drift", None, "expected a string"),
        ("initializer", "baseline_version", "1", r"baseline_version: '1' is not valid"),
        ("initializer", "baseline_version", 1, "expected a string"),
        ("database", "monitoring_interval_s", 45, "not one of 0, 1, 5, 10, 15, 30, 60"),
        ("database", "customer_managed_key", "yes", "expected true or false"),
        ("alarms", "freeable_memory_mib", 0, "outside 16.."),
        ("tags", "owner", "", "not valid"),
        ("tags", "cost_center", None, "expected a string"),
    ],
)
def test_wrong_values_are_rejected_clearly(
    section: str, key: str, value: object, message: str
) -> None:
    context = _context()
    _dev_block(context)[section][key] = value
    with pytest.raises(ConfigError, match=message):
        load_environment(context, "dev")


def test_deletion_protection_with_destroy_is_contradictory() -> None:
    context = _context()
    _dev_block(context)["database"]["deletion_protection"] = True
    with pytest.raises(ConfigError, match="contradict"):
        load_environment(context, "dev")


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_synth_refuses_an_environment_without_an_account(name: str) -> None:
    # GIVEN cdk.json as committed (account placeholders null) WHEN loaded without -c account
    context = copy.deepcopy(cdk_json_context())
    assert context["shoppulse:environments"][name]["account"] is None
    # THEN it refuses and says how to fix it: an account-less stack gets 2 zones, not 3
    with pytest.raises(ConfigError, match=rf"{name}\.account: not set.*-c account=<id>"):
        load_environment(context, name)


def test_account_from_the_command_line_replaces_cdk_json() -> None:
    context = copy.deepcopy(cdk_json_context())
    assert load_environment(context, "prod", account="210987654321").account == "210987654321"
    assert load_environment(_context(), "prod").account == TEST_ACCOUNT
    with pytest.raises(ConfigError, match="-c account='12345': expected a 12-digit"):
        load_environment(context, "prod", account="12345")


def test_customer_key_and_enhanced_monitoring_in_staging_and_prod_only() -> None:
    configs = {name: load_environment(_context(), name).database for name in ENVIRONMENTS}
    assert {name: db.customer_managed_key for name, db in configs.items()} == {
        "dev": False,
        "staging": True,
        "prod": True,
    }
    assert {name: db.monitoring_interval_s for name, db in configs.items()} == {
        "dev": 0,
        "staging": 60,
        "prod": 60,
    }


def test_pipeline_config_validates_the_connection_arn() -> None:
    context = _context()
    assert load_pipeline(context).branch == "main"
    context["shoppulse:pipeline"]["connection_arn"] = "arn:aws:s3:::bucket"
    with pytest.raises(ConfigError, match="connection_arn"):
        load_pipeline(context)
