"""TLS verify-full end to end: a PostgreSQL with a certificate from a throw-away CA."""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from db_init.embedded import LocalServer
from db_init.preflight import SSL_REQUEST
from db_init.settings import ConnectionSettings
from db_init.simulator import (
    CloudFormation,
    ResponseReceiver,
    TlsFiles,
    issue_tls_files,
    offline_aws,
    put_secret,
)
from tests import postgres
from tests.cloudformation import Stack, assert_failed, assert_no_leaks, assert_protocol, rds_secret
from tests.postgres import MIGRATIONS, SEEDS


class TlsTerminator:
    """Stands in for RDS Proxy: answers SSLRequest, terminates TLS, relays to a plaintext server.

    (The embedded PostgreSQL is built without SSL.)
    """

    def __init__(self, upstream: tuple[str, int], tls: TlsFiles) -> None:
        self.upstream = upstream
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(tls.cert, tls.key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            if client.recv(8) != SSL_REQUEST:
                return
            client.sendall(b"S")
            try:
                secure = self.context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the client rejected our certificate: what preflight reports
            with secure, socket.create_connection(self.upstream) as server:
                _relay(secure, server)


def _relay(secure: ssl.SSLSocket, plain: socket.socket) -> None:
    while True:
        ready = [secure] if secure.pending() else select.select([secure, plain], [], [], 5)[0]
        if not ready:
            return
        for sock in ready:
            try:
                data = sock.recv(65536)
            except (ssl.SSLError, OSError):
                return
            if not data:
                return
            (plain if sock is secure else secure).sendall(data)


@pytest.fixture(scope="module")
def tls_server(
    pg_server: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TlsTerminator, TlsFiles]]:
    """TLS in front of the test server; its certificate names only `localhost`."""
    tls = issue_tls_files(tmp_path_factory.mktemp("tls"), hosts=("localhost",))
    plain = pg_server.settings(database="postgres")
    terminator = TlsTerminator((plain.host, plain.port), tls)
    yield terminator, tls
    terminator.close()


@pytest.fixture
def tls_stack(
    tls_server: tuple[TlsTerminator, TlsFiles],
    pg_server: LocalServer,
    admin: ConnectionSettings,
    receiver: ResponseReceiver,
    sql_dir: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[tuple[Stack, TlsFiles]]:
    """A stack whose database lives on the TLS server."""
    terminator, tls = tls_server
    target = admin.with_database(postgres.new_database_name())
    with offline_aws():
        # the secret names the TLS endpoint, as an RDS secret names the cluster
        secret_string = rds_secret(target, host="localhost", port=terminator.port)
        arn = put_secret("shoppulse/tls-admin", secret_string)
        cfn = CloudFormation(Stack.resource_for(sql_dir), receiver)
        stack = Stack(cfn, pg_server, target, sql_dir, arn, secret_string)
        yield stack, tls
    assert_no_leaks(stack, caplog, capsys)
    assert_protocol(stack)
    postgres.drop_database(admin, target.database)


def test_create_over_verified_tls(tls_stack: tuple[Stack, TlsFiles]) -> None:
    stack, tls = tls_stack
    # GIVEN no Host/Port properties: the secret's endpoint is used, over verify-full TLS
    props = stack.properties(Host=None, Port=None, RequireTls="true", CaBundlePath=str(tls.ca))
    response = stack.cfn.create(props)
    assert response.status == "SUCCESS", response.reason
    assert response.physical_id == f"{stack.target.database}@localhost:{_port(stack)}"
    assert stack.history() == [*MIGRATIONS, *SEEDS]


def test_untrusted_certificate_fails_in_preflight(tls_stack: tuple[Stack, TlsFiles]) -> None:
    # GIVEN the default CA bundle (Amazon roots), which did not issue this certificate
    stack, _ = tls_stack
    response = stack.cfn.create(stack.properties(Host=None, Port=None, RequireTls=None))
    assert_failed(response, "PreflightError: TLS: certificate of localhost:")
    assert "CaBundlePath" in response.reason
    assert stack.snapshot() == "<no database>"


def test_host_not_named_in_the_certificate_fails_in_preflight(
    tls_stack: tuple[Stack, TlsFiles],
) -> None:
    # GIVEN a trusted CA but an address the certificate does not name
    stack, tls = tls_stack
    props = stack.properties(Port=str(_port(stack)), RequireTls="true", CaBundlePath=str(tls.ca))
    response = stack.cfn.create(props)
    assert_failed(response, "PreflightError: TLS: certificate of 127.0.0.1:")
    assert "mismatch" in response.reason


def _port(stack: Stack) -> int:
    return int(json.loads(stack.secret_string)["port"])
