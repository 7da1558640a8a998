"""The custom resource's property contract: strict strings in, typed settings out."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_init.credentials import DbSecret
from db_init.deadline import Deadline
from db_init.errors import SettingsError
from db_init.properties import ResourceProperties

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shoppulse/db-AbCdEf"
CHECKSUM = "a" * 64
MINIMAL = {"SecretArn": ARN, "DatabaseName": "shoppulse", "SqlChecksum": CHECKSUM}
PROVIDER = {
    "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:f",
    "ServiceTimeout": "900",
}
SECRET = DbSecret(username="app", password="pw", host="cluster.internal", port=6543)


def test_minimal_properties_take_the_documented_defaults() -> None:
    props = ResourceProperties.from_properties(MINIMAL | PROVIDER)
    assert props == ResourceProperties(secret_arn=ARN, database="shoppulse", sql_checksum=CHECKSUM)
    assert (props.apply_seeds, props.require_tls, props.connect_timeout_s) == (False, True, 10)
    assert props.region == "eu-west-1"


def test_every_property_is_parsed_from_its_string() -> None:
    props = ResourceProperties.from_properties(
        MINIMAL
        | {
            "Host": "proxy.internal",
            "Port": "5433",
            "ApplySeeds": "TRUE",
            "LockTimeoutMs": "250",
            "StatementTimeoutMs": "60000",
            "ConnectTimeoutS": "3",
            "CaBundlePath": "/opt/ca.pem",
            "RequireTls": "false",
        }
    )
    assert props.host == "proxy.internal"
    assert props.port == 5433
    assert props.apply_seeds is True
    assert (props.lock_timeout_ms, props.statement_timeout_ms) == (250, 60_000)
    assert props.connect_timeout_s == 3
    assert props.ca_bundle == Path("/opt/ca.pem")
    assert props.require_tls is False


@pytest.mark.parametrize("text", ["false", "False", "FALSE", " false "])
def test_false_strings_are_false(text: str) -> None:
    props = ResourceProperties.from_properties(MINIMAL | {"ApplySeeds": text, "RequireTls": text})
    assert props.apply_seeds is False
    assert props.require_tls is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ApplySeeds": "yes"}, 'ApplySeeds must be "true" or "false"'),
        ({"ApplySeeds": True}, "ApplySeeds must be a string, got bool"),
        ({"Port": "0"}, "Port must be between 1 and 65535"),
        ({"Port": ""}, "Port is empty; remove it to use the default"),
        ({"StatementTimeoutMs": "999"}, "StatementTimeoutMs must be between 1000 and 3600000"),
        ({"DatabaseName": "shop; drop"}, "is not a plain identifier"),
        ({"DatabaseName": ""}, r"DatabaseName is empty$"),
        ({"SecretArn": "arn:aws:s3:::bucket"}, "is not a Secrets Manager secret ARN"),
        ({"SqlChecksum": "A" * 64}, "SqlChecksum must be 64 lower-case hex digits"),
        ({"DatabaseNmae": "x"}, r"unknown property DatabaseNmae \(did you mean DatabaseName\?\)"),
    ],
)
def test_invalid_values_are_refused_with_the_property_name(
    extra: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        ResourceProperties.from_properties(MINIMAL | extra)


def test_missing_required_properties_are_all_named() -> None:
    with pytest.raises(SettingsError, match="required property missing: DatabaseName, SqlChecksum"):
        ResourceProperties.from_properties({"SecretArn": ARN})


def test_many_unknown_properties_are_summarised_within_a_reason() -> None:
    raw = MINIMAL | {f"Extra{i}": "x" for i in range(10)}
    with pytest.raises(
        SettingsError, match=r"unknown properties Extra0, Extra1, Extra2 \(\+7 more\)"
    ):
        ResourceProperties.from_properties(raw)


def test_host_and_port_override_the_secret_and_port_defaults_to_5432(tmp_path: Path) -> None:
    pem = tmp_path / "certs" / "aws-rds-proxy-ca-bundle.pem"
    pem.parent.mkdir()
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    props = ResourceProperties.from_properties(MINIMAL | {"Host": "proxy.internal"})
    settings = props.connection_settings(SECRET, bundle_root=tmp_path)
    assert (settings.host, settings.port, settings.user) == ("proxy.internal", 5432, "app")
    assert settings.tls is True
    assert settings.ca_bundle == pem
    assert "pw" not in repr(settings)


def test_without_host_the_secret_endpoint_is_used(tmp_path: Path) -> None:
    props = ResourceProperties.from_properties(MINIMAL | {"RequireTls": "false"})
    with pytest.raises(SettingsError, match="plaintext connection to non-loopback host"):
        props.connection_settings(SECRET, bundle_root=tmp_path)
    local = DbSecret(username="app", password="pw", host="127.0.0.1", port=6543)
    settings = props.connection_settings(local, bundle_root=tmp_path)
    assert (settings.host, settings.port, settings.ca_bundle) == ("127.0.0.1", 6543, None)


def test_a_secret_without_host_needs_the_host_property(tmp_path: Path) -> None:
    props = ResourceProperties.from_properties(MINIMAL)
    with pytest.raises(SettingsError, match="set Host to the RDS Proxy endpoint"):
        props.connection_settings(DbSecret(username="app", password="pw"), bundle_root=tmp_path)


def test_a_missing_ca_bundle_is_a_settings_error(tmp_path: Path) -> None:
    props = ResourceProperties.from_properties(MINIMAL | {"Host": "proxy.internal"})
    with pytest.raises(SettingsError, match=r"CA bundle .* does not exist"):
        props.connection_settings(SECRET, bundle_root=tmp_path)


def test_statement_timeout_never_outlasts_the_deadline(tmp_path: Path) -> None:
    props = ResourceProperties.from_properties(MINIMAL | {"StatementTimeoutMs": "3600000"})
    options = props.apply_options(tmp_path, Deadline.after(60))
    assert 55_000 < options.statement_timeout_ms <= 60_000
    assert options.apply_seeds is False
