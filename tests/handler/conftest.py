"""Handler fixtures: offline AWS (moto), the HTTPS ResponseURL receiver, one stack per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from db_init.embedded import LocalServer
from db_init.settings import ConnectionSettings
from db_init.simulator import CloudFormation, ResponseReceiver, offline_aws, put_secret
from tests.cloudformation import Stack, assert_no_leaks, assert_protocol, rds_secret


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ResponseReceiver]:
    """The HTTPS endpoint behind every ResponseURL, trusted through SSL_CERT_FILE."""
    with ResponseReceiver(tmp_path / "receiver") as running:
        yield running


@pytest.fixture
def stack(
    receiver: ResponseReceiver,
    pg_server: LocalServer,
    target: ConnectionSettings,
    sql_dir: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Stack]:
    """A custom resource whose secret (moto) points at a fresh database; checks for leaks after."""
    with offline_aws():
        secret_string = rds_secret(target)
        arn = put_secret("shoppulse/db-admin", secret_string)
        cfn = CloudFormation(Stack.resource_for(sql_dir), receiver, timeout_s=60)
        stack = Stack(cfn, pg_server, target, sql_dir, arn, secret_string)
        yield stack
    assert_no_leaks(stack, caplog, capsys)
    assert_protocol(stack)
