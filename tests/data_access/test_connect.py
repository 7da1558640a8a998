"""connect(): TLS verify-full, logins from the role's secret (re-read once after a rotation), IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from db_init.settings import ConnectionSettings
from db_init.simulator import REGION, offline_aws, put_secret
from shoppulse_data import (
    AuthenticationError,
    AuthMode,
    ClientConfig,
    ConfigError,
    IamLogin,
    Login,
    SecretLogin,
    StaticLogin,
    TlsError,
    connect,
    tenant_transaction,
)
from shoppulse_data.connection import ssl_context_for
from shoppulse_data.settings import DEFAULT_CA_BUNDLE
from tests.data_access.conftest import local_config
from tests.faults.relay import SSL_REQUEST, Relay
from tests.postgres import query
from tests.security.certs import make_ca, server_context
from tests.tenants import AppDatabase

ROTATING_ROLE = "shoppulse_rotating"


@dataclass
class CountingSecrets:
    """A Secrets Manager client (moto) that counts GetSecretValue calls."""

    client: Any
    calls: list[str] = field(default_factory=list)

    def get_secret_value(self, SecretId: str) -> Any:  # noqa: N803 - boto3's parameter name
        self.calls.append(SecretId)
        return self.client.get_secret_value(SecretId=SecretId)


@pytest.fixture
def rotating_role(app_db: AppDatabase) -> Iterator[str]:
    """A login role member of shoppulse_app, whose password the test rotates."""
    query(app_db.owner, f"DROP ROLE IF EXISTS {ROTATING_ROLE}")
    query(
        app_db.owner,
        f"CREATE ROLE {ROTATING_ROLE} LOGIN PASSWORD 'first-password' IN ROLE shoppulse_app",
    )
    yield ROTATING_ROLE
    query(app_db.owner, f"DROP ROLE IF EXISTS {ROTATING_ROLE}")


def _secret(user: str, password: str) -> str:
    # host/port as the attachment writes them: the instance, which connect() ignores.
    return json.dumps({"username": user, "password": password, "host": "db.internal", "port": 5432})


def test_a_rotated_password_is_re_read_once_and_the_login_succeeds(
    app_db: AppDatabase, rotating_role: str
) -> None:
    with offline_aws():
        arn = put_secret("shoppulse/app", _secret(rotating_role, "first-password"))
        secrets = CountingSecrets(boto3.client("secretsmanager", region_name=REGION))
        login = SecretLogin(arn, client=secrets)
        config = local_config(app_db.owner, secret_arn=arn)
        # GIVEN a login read once and cached
        connect(config, login=login).close()
        connect(config, login=login).close()
        assert len(secrets.calls) == 1
        # WHEN the password rotates (database first, then the secret, as rotation does)
        query(app_db.owner, f"ALTER ROLE {rotating_role} PASSWORD 'second-password'")
        put_secret("shoppulse/app", _secret(rotating_role, "second-password"))
        connection = connect(config, login=login)
        # THEN the refused cached password led to exactly one re-read, and the new one works
        assert len(secrets.calls) == 2
        with tenant_transaction(connection, "T001") as transaction:
            assert transaction.run("SELECT current_user")[0][0] == rotating_role
        connection.close()


def test_a_password_that_is_still_wrong_fails_after_one_re_read_without_showing_it(
    app_db: AppDatabase, rotating_role: str
) -> None:
    with offline_aws():
        arn = put_secret("shoppulse/stale", _secret(rotating_role, "not-the-password"))
        secrets = CountingSecrets(boto3.client("secretsmanager", region_name=REGION))
        with pytest.raises(AuthenticationError) as refused:
            connect(
                local_config(app_db.owner, secret_arn=arn), login=SecretLogin(arn, client=secrets)
            )
    assert len(secrets.calls) == 2
    assert refused.value.sqlstate == "28P01"
    assert "not-the-password" not in str(refused.value)
    assert "\n" not in str(refused.value)


class FakeRds:
    """Signs 'tokens' locally, as botocore does, recording for whom."""

    def __init__(self) -> None:
        self.users: list[str] = []

    def generate_db_auth_token(self, DBHostname: str, Port: int, DBUsername: str) -> str:  # noqa: N803
        self.users.append(DBUsername)
        return f"token-for-{DBUsername}@{DBHostname}:{Port}"


def test_iam_login_signs_a_token_per_connection_and_tries_the_rotation_clone_when_refused() -> None:
    rds = FakeRds()
    login = IamLogin(host="proxy.example", port=5432, user="shoppulse_app", client=rds)
    assert login.current() == Login("shoppulse_app", "token-for-shoppulse_app@proxy.example:5432")
    assert login.refresh().user == "shoppulse_app_clone"
    assert login.current().user == "shoppulse_app_clone"  # sticks with the one that works
    assert login.refresh().user == "shoppulse_app"  # the next rotation swaps back
    assert rds.users == [
        "shoppulse_app",
        "shoppulse_app_clone",
        "shoppulse_app_clone",
        "shoppulse_app",
    ]
    assert "token" not in repr(login.current())


def test_the_config_is_read_from_the_variables_grant_connect_sets() -> None:
    env = {
        "SHOPPULSE_DB_HOST": "shoppulse-prod.proxy-abc.eu-west-1.rds.amazonaws.com",
        "SHOPPULSE_DB_PORT": "5432",
        "SHOPPULSE_DB_NAME": "shoppulse",
        "SHOPPULSE_DB_AUTH": "iam",
        "SHOPPULSE_DB_USER": "shoppulse_app",
        "AWS_REGION": "eu-west-1",
    }
    config = ClientConfig.from_environment(env)
    assert (config.auth, config.user, config.port, config.tls) == (
        AuthMode.IAM,
        "shoppulse_app",
        5432,
        True,
    )
    assert config.ca_bundle == DEFAULT_CA_BUNDLE and DEFAULT_CA_BUNDLE.is_file()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SHOPPULSE_DB_AUTH": "iam", "SHOPPULSE_DB_USER": "shoppulse_app"},
            "proxy endpoint is required",
        ),
        ({"SHOPPULSE_DB_HOST": "h", "SHOPPULSE_DB_AUTH": "password"}, "expected 'iam' or 'secret'"),
        ({"SHOPPULSE_DB_HOST": "h", "SHOPPULSE_DB_AUTH": "iam"}, "needs the role name"),
        ({"SHOPPULSE_DB_HOST": "h", "SHOPPULSE_DB_AUTH": "secret"}, "needs the role's secret"),
        (
            {"SHOPPULSE_DB_HOST": "h", "SHOPPULSE_DB_AUTH": "secret", "SHOPPULSE_DB_PORT": "x"},
            "port",
        ),
    ],
)
def test_missing_or_invalid_settings_fail_with_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ClientConfig.from_environment(env)


def test_plaintext_is_refused_off_loopback_and_for_iam_tokens() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        ClientConfig(host="proxy.example", auth=AuthMode.SECRET, secret_arn="arn:x", tls=False)
    with pytest.raises(ConfigError, match="only sent over TLS"):
        ClientConfig(host="127.0.0.1", auth=AuthMode.IAM, user="shoppulse_app", tls=False)


def test_tls_is_verify_full_by_default() -> None:
    context = ssl_context_for(
        ClientConfig(host="proxy.example", auth=AuthMode.IAM, user="shoppulse_app")
    )
    assert not isinstance(context, bool)
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


def _tls_config(app_db: AppDatabase, port: int, ca: Path, host: str = "127.0.0.1") -> ClientConfig:
    return local_config(app_db.owner, host=host, port=port, tls=True, ca_bundle=ca)


def test_tls_to_an_endpoint_our_ca_signed_for_the_host_succeeds_and_a_stranger_fails(
    app_db: AppDatabase, tmp_path: Path
) -> None:
    trusted, stranger = make_ca(tmp_path, "trusted"), make_ca(tmp_path, "stranger")
    login = StaticLogin(Login("shoppulse_app", app_db.passwords["shoppulse_app"]))
    settings: ConnectionSettings = app_db.owner
    context = server_context(tmp_path, trusted, hosts=("localhost", "127.0.0.1"))
    with Relay(settings.port, tls=context) as relay:
        # WHEN the certificate chains to our bundle and names the host THEN it connects over TLS
        connection = connect(_tls_config(app_db, relay.port, trusted.pem), login=login)
        with tenant_transaction(connection, "T001") as transaction:
            assert transaction.run("SELECT count(*) FROM orders")[0][0] == 3
        connection.close()
        assert bytes(relay.client_bytes) == SSL_REQUEST * relay.accepted
        # WHEN another CA signed it THEN TlsError, before any credential is sent
        with pytest.raises(TlsError, match="CERTIFICATE_VERIFY_FAILED"):
            connect(_tls_config(app_db, relay.port, stranger.pem), login=login)
    wrong_host = server_context(tmp_path, trusted, hosts=("db.example.com",))
    with Relay(settings.port, tls=wrong_host) as relay, pytest.raises(TlsError, match="mismatch"):
        connect(_tls_config(app_db, relay.port, trusted.pem), login=login)
