"""Every failure fails the resource: short Reason first with the error class, database unchanged."""

from __future__ import annotations

import json
import logging
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from db_init.credentials import secrets_client
from db_init.simulator import missing_secret_arn, put_secret
from tests.cloudformation import MAX_BODY, MAX_REASON, Stack, assert_failed, rds_secret
from tests.postgres import LATEST, MIGRATIONS, SEEDS, add_migration


@pytest.mark.parametrize("name", ["SecretArn", "DatabaseName", "SqlChecksum"])
def test_missing_required_property_fails_before_touching_anything(stack: Stack, name: str) -> None:
    response = stack.cfn.create(stack.properties(**{name: None}))
    assert_failed(response, f"SettingsError: required property missing: {name}")
    assert response.physical_id == "Schema-not-created"
    assert stack.snapshot() == "<no database>"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"ApplySeeds": "yes"}, 'SettingsError: ApplySeeds must be "true" or "false"'),
        ({"RequireTls": "0"}, 'SettingsError: RequireTls must be "true" or "false"'),
        ({"Port": "54x"}, "SettingsError: Port must be a whole number"),
        ({"LockTimeoutMs": "0"}, "SettingsError: LockTimeoutMs must be between 100 and 600000"),
        ({"ConnectTimeoutS": "600"}, "SettingsError: ConnectTimeoutS must be between 1 and 120"),
        ({"DatabaseName": "Shop-DB"}, "SettingsError: database name 'Shop-DB' is not a plain"),
        ({"SecretArn": "shoppulse/db-admin"}, "SettingsError: SecretArn 'shoppulse/db-admin'"),
        ({"SqlChecksum": "abc"}, "SettingsError: SqlChecksum must be 64 lower-case hex"),
        ({"Host": " "}, "SettingsError: Host is empty; remove it to use the default"),
        ({"ApplySeed": "true"}, "SettingsError: unknown property ApplySeed (did you mean Apply"),
        ({"Colour": "blue", "Size": "L"}, "SettingsError: unknown properties Colour, Size; "),
    ],
)
def test_invalid_or_unknown_property_fails_with_a_clear_reason(
    stack: Stack, overrides: dict[str, str], reason: str
) -> None:
    response = stack.cfn.create(stack.properties(**overrides))
    assert_failed(response, reason)
    assert stack.snapshot() == "<no database>"


def test_a_property_that_is_not_a_string_fails(stack: Stack) -> None:
    props: dict[str, Any] = stack.properties()
    props["Port"] = stack.target.port  # a number: CloudFormation would have sent "5432"
    response = stack.cfn.create(props)
    assert_failed(response, "SettingsError: Port must be a string, got int")


def test_false_strings_are_false(stack: Stack) -> None:
    # GIVEN ApplySeeds "false" (a non-empty string, truthy to a careless parser)
    response = stack.cfn.create(stack.properties(ApplySeeds="False"))
    # THEN no seed was applied
    assert response.status == "SUCCESS", response.reason
    assert response.data["AppliedVersions"] == ",".join(MIGRATIONS)
    assert stack.history() == MIGRATIONS


def test_plaintext_to_a_remote_host_is_refused(stack: Stack) -> None:
    response = stack.cfn.create(stack.properties(Host="db.example.com", RequireTls="false"))
    assert_failed(response, "SettingsError: plaintext connection to non-loopback host")


def test_stale_asset_is_refused(stack: Stack) -> None:
    # GIVEN a template whose SqlChecksum describes another sql/ than the one bundled
    response = stack.cfn.create(stack.properties(SqlChecksum="0" * 64))
    assert_failed(response, "StaleAssetError: bundled sql/ has sha256 ")
    assert "redeploy" in response.reason
    assert stack.snapshot() == "<no database>"


def test_wrong_password_fails_after_one_reread(stack: Stack) -> None:
    # GIVEN a secret whose password the server rejects
    stack.put_secret(rds_secret(stack.target, password="not-the-password-42"))
    response = stack.cfn.create(stack.properties())
    assert_failed(response, "AuthenticationError [28P01]: ")
    assert stack.physical_id_for_target() == response.physical_id
    assert stack.snapshot() == "<no database>"


class RotatingSecrets:
    """Secrets Manager whose secret rotates right after the handler's first read."""

    def __init__(self, stack: Stack, stale: str) -> None:
        self.stack, self.stale, self.reads = stack, stale, 0
        self.client = secrets_client(stack.secret_arn.split(":")[3])

    def __call__(self, region: str | None) -> RotatingSecrets:
        return self

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.reads += 1
        if self.reads == 1:
            answer = {"SecretString": self.stale}
            self.stack.put_secret(self.stack.secret_string)  # rotation finishes meanwhile
            return answer
        return self.client.get_secret_value(**kwargs)


def test_rotated_password_is_reread_once_and_the_retry_succeeds(stack: Stack) -> None:
    stale = rds_secret(stack.target, password="rotated-away-password")
    rotating = RotatingSecrets(stack, stale)
    stack.sensitive.append(stale)
    response = stack.cfn.send(
        stack.cfn.event("Create", stack.properties()),
        handler=stack.resource_for(stack.sql_dir, secrets=rotating),
    )
    assert response.status == "SUCCESS", response.reason
    assert rotating.reads == 2
    assert stack.history() == [*MIGRATIONS, *SEEDS]


def test_missing_secret_fails(stack: Stack) -> None:
    response = stack.cfn.create(stack.properties(SecretArn=missing_secret_arn()))
    assert_failed(response, "CredentialsError: cannot read secret arn:aws:secretsmanager:")
    assert "ResourceNotFoundException" in response.reason
    assert stack.snapshot() == "<no database>"


def test_secret_with_malformed_json_fails_without_showing_it(stack: Stack) -> None:
    password = stack.target.password
    arn = put_secret("shoppulse/broken", '{"username": "postgres", "password": "' + password)
    stack.sensitive.append('{"username": "postgres", "password": "' + password)
    response = stack.cfn.create(stack.properties(SecretArn=arn))
    assert_failed(response, "CredentialsError: secret arn:aws:secretsmanager:")
    assert "is not valid JSON" in response.reason
    assert stack.snapshot() == "<no database>"


def test_deadline_mid_apply_rolls_back_and_answers_before_the_lambda_timeout(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a deployed resource and a new build whose migration outlasts the Lambda
    props = stack.properties()
    created = stack.cfn.create(props)
    before = stack.snapshot()
    new_sql = stack.release(tmp_path, "V902__slow.sql", "SELECT pg_sleep(30);\n")
    # WHEN the Update runs with 5 s left in the Lambda
    failed = stack.cfn.update(
        created.physical_id,
        stack.properties(new_sql),
        props,
        handler=stack.resource_for(new_sql),
        timeout_s=5,
    )
    # THEN our own FAILED (not crhelper's "Execution timed out") arrives in time, rolled back
    assert_failed(failed, "DeadlineExceededError: migrations/V902__slow.sql:1: ")
    assert failed.seconds < 4.5
    assert stack.snapshot() == before


def test_long_error_is_cut_to_250_characters_keeping_class_and_file(
    stack: Stack, tmp_path: Path
) -> None:
    body = "DO $$ BEGIN RAISE EXCEPTION '%', repeat('very long complaint ', 50); END $$;\n"
    new_sql = stack.release(tmp_path, "V902__loud.sql", body)
    response = stack.cfn.create(stack.properties(new_sql), handler=stack.resource_for(new_sql))
    assert_failed(response, "MigrationFailedError [P0001]: migrations/V902__loud.sql:1: ")
    assert len(response.reason) == MAX_REASON
    assert response.reason.endswith("...")
    assert stack.tables() == []


def test_unexpected_error_still_fails_the_resource(stack: Stack) -> None:
    def broken_client(region: str | None) -> Any:
        raise RuntimeError("a bug, whose message is never shown")

    response = stack.cfn.send(
        stack.cfn.event("Create", stack.properties()),
        handler=stack.resource_for(stack.sql_dir, secrets=broken_client),
    )
    assert_failed(response, "InternalError: RuntimeError; see the function log, request ")
    assert "never shown" not in response.reason


def test_tls_required_against_a_plaintext_server_fails_in_preflight(stack: Stack) -> None:
    # GIVEN the default RequireTls ("true") and the bundled CA, but a server with ssl off
    response = stack.cfn.create(stack.properties(RequireTls=None))
    assert_failed(response, "PreflightError: TLS: 127.0.0.1:")
    assert "does not offer TLS" in response.reason
    assert stack.snapshot() == "<no database>"


def test_closed_port_fails_in_preflight_naming_tcp(stack: Stack) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    response = stack.cfn.create(stack.properties(Port=str(closed_port)))
    assert_failed(response, f"PreflightError: TCP: cannot connect to 127.0.0.1:{closed_port}")
    assert "connection refused" in response.reason


def test_unresolvable_host_fails_in_preflight_naming_dns(stack: Stack) -> None:
    response = stack.cfn.create(stack.properties(Host="shoppulse-proxy.invalid", RequireTls=None))
    assert_failed(response, "PreflightError: DNS: cannot resolve shoppulse-proxy.invalid")


def test_debug_logging_still_hides_the_response_url_and_password(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN LOG_LEVEL=DEBUG, where crhelper would print the event and the ResponseURL
    resource = stack.resource_for(stack.sql_dir, log_level=logging.DEBUG)
    stack.put_secret(rds_secret(stack.target, password="wrong-password-at-debug"))
    response = stack.cfn.send(stack.cfn.event("Create", stack.properties()), handler=resource)
    assert_failed(response, "AuthenticationError [28P01]: ")
    # THEN crhelper's DEBUG lines (event, URL, body) were dropped; the leak check is the fixture's
    assert not [r for r in caplog.records if r.name.startswith("crhelper") and r.levelno < 20]


def test_response_stays_under_4096_bytes_with_a_long_history(stack: Stack, tmp_path: Path) -> None:
    # GIVEN 900 migrations: their labels alone would exceed the 4096-byte response limit
    new_sql = tmp_path / "sql-many"
    shutil.copytree(stack.sql_dir, new_sql)
    for version in range(LATEST + 1, 901):
        add_migration(new_sql, f"V{version:03d}__step.sql", "SELECT 1;\n")
    response = stack.cfn.create(stack.properties(new_sql), handler=stack.resource_for(new_sql))
    assert response.status == "SUCCESS", response.reason
    assert len(response.body) <= MAX_BODY
    assert response.data["AppliedVersions"] == "V001-V900,S001-S002"
    assert json.loads(response.body)["Data"]["SchemaVersion"] == "V900"
