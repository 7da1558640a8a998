"""Local replay of the CloudFormation custom-resource protocol: events in, responses over HTTPS.

Used by `shoppulse-db simulate` and the handler tests; needs the development requirements
(boto3, moto, cryptography), which the Lambda bundle does not import.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import os
import secrets
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

from db_init.errors import SettingsError
from db_init.scripts import sql_tree_checksum
from db_init.settings import ConnectionSettings

ACCOUNT = "123456789012"
REGION = "us-east-1"
RESOURCE_TYPE = "Custom::ShopPulseSchema"
FUNCTION_NAME = "ShopPulseDatabase-SchemaInitializerFunction"
SERVICE_TOKEN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
# Never real AWS: fixed fake credentials, and moto answers every call in-process.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

Handler = Callable[[dict[str, Any], Any], Any]


class SimulatorError(Exception):
    """The handler broke the protocol (no response, or more than one)."""


@dataclass(frozen=True)
class TlsFiles:
    """A throw-away CA and a server certificate it issued, as PEM files."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class Response:
    """What CloudFormation received for one request."""

    body: bytes
    document: dict[str, Any]
    seconds: float

    @property
    def status(self) -> str:
        """SUCCESS or FAILED."""
        return str(self.document.get("Status"))

    @property
    def reason(self) -> str:
        """The Reason CloudFormation shows in the stack events."""
        return str(self.document.get("Reason", ""))

    @property
    def physical_id(self) -> str:
        """The PhysicalResourceId."""
        return str(self.document.get("PhysicalResourceId", ""))

    @property
    def data(self) -> dict[str, str]:
        """The attributes Fn::GetAtt reads."""
        return dict(self.document.get("Data") or {})


class LambdaContext:
    """The parts of the Lambda context object a handler uses, with a real deadline."""

    def __init__(self, *, timeout_s: float, request_id: str | None = None) -> None:
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.function_name = FUNCTION_NAME
        self.invoked_function_arn = SERVICE_TOKEN
        self.memory_limit_in_mb = 512
        self.log_group_name = f"/aws/lambda/{FUNCTION_NAME}"
        self.log_stream_name = f"{dt.date.today():%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._ends = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the simulated Lambda timeout."""
        return max(0, int((self._ends - time.monotonic()) * 1000))


@dataclass
class ResponseReceiver:
    """An HTTPS endpoint on 127.0.0.1 standing in for the presigned S3 ResponseURL.

    Its certificate is issued by a throw-away CA that is trusted through SSL_CERT_FILE while
    the receiver runs (crhelper verifies with the default trust store, which honours it).
    """

    workdir: Path
    received: dict[str, list[bytes]] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _saved_cert_file: str | None = None

    def __enter__(self) -> ResponseReceiver:
        tls = issue_tls_files(self.workdir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert, tls.key)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self.received))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self._saved_cert_file = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = str(tls.ca)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved_cert_file is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = self._saved_cert_file
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def url(self, stack_id: str, logical_id: str, request_id: str) -> str:
        """A presigned-looking URL whose path identifies the request."""
        assert self._server is not None, "use the receiver as a context manager"
        port = self._server.server_address[1]
        key = quote(f"{stack_id}|{logical_id}|{request_id}", safe="")
        signature = secrets.token_hex(32)
        return (
            f"https://127.0.0.1:{port}/cloudformation-custom-resource-response-{REGION}/{key}"
            f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20250101T000000Z"
            f"&X-Amz-Expires=7200&X-Amz-Signature={signature}"
        )


def _handler_for(received: dict[str, list[bytes]]) -> type[BaseHTTPRequestHandler]:
    class PresignedPut(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            received.setdefault(self.path.split("?")[0], []).append(body)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the request line holds the presigned URL, which is never logged."""

    return PresignedPut


class CloudFormation:
    """Sends Create/Update/Delete events to a handler in-process and collects each response."""

    def __init__(
        self,
        handler: Handler,
        receiver: ResponseReceiver,
        *,
        stack_name: str = "ShopPulseDatabase-dev",
        logical_id: str = "Schema",
        timeout_s: float = 60.0,
        service_timeout_s: int | None = 900,
    ) -> None:
        self.handler = handler
        self.receiver = receiver
        self.stack_id = (
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/{uuid.uuid4()}"
        )
        self.logical_id = logical_id
        self.timeout_s = timeout_s
        self.service_timeout_s = service_timeout_s
        self.sent: list[dict[str, Any]] = []
        self.received: list[Response] = []

    def event(
        self,
        request_type: str,
        properties: Mapping[str, str],
        *,
        physical_id: str | None = None,
        old_properties: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """A request exactly as CloudFormation sends it (provider properties included)."""
        request_id = request_id or str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": SERVICE_TOKEN,
            "ResponseURL": self.receiver.url(self.stack_id, self.logical_id, request_id),
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": self.logical_id,
            "ResourceType": RESOURCE_TYPE,
            "ResourceProperties": self._with_provider(properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = self._with_provider(old_properties)
        return event

    def create(self, properties: Mapping[str, str], **kwargs: Any) -> Response:
        """Send a Create."""
        return self.send(self.event("Create", properties), **kwargs)

    def update(
        self,
        physical_id: str,
        properties: Mapping[str, str],
        old_properties: Mapping[str, str],
        **kwargs: Any,
    ) -> Response:
        """Send an Update (also how CloudFormation rolls back a failed Update)."""
        event = self.event(
            "Update", properties, physical_id=physical_id, old_properties=old_properties
        )
        return self.send(event, **kwargs)

    def delete(self, physical_id: str, properties: Mapping[str, str], **kwargs: Any) -> Response:
        """Send a Delete."""
        return self.send(self.event("Delete", properties, physical_id=physical_id), **kwargs)

    def send(
        self,
        event: dict[str, Any],
        *,
        timeout_s: float | None = None,
        handler: Handler | None = None,
    ) -> Response:
        """Invoke the handler with a Lambda-like context; return the one response it sent."""
        context = LambdaContext(timeout_s=timeout_s or self.timeout_s)
        key = event["ResponseURL"].split("?")[0].split("/", 3)[3]
        self.sent.append(event)
        started = time.monotonic()
        (handler or self.handler)(event, context)
        seconds = time.monotonic() - started
        bodies = self.receiver.received.pop("/" + key, [])
        if len(bodies) != 1:
            raise SimulatorError(f"expected exactly one response, got {len(bodies)}")
        response = Response(body=bodies[0], document=json.loads(bodies[0]), seconds=seconds)
        self.received.append(response)
        return response

    def _with_provider(self, properties: Mapping[str, str]) -> dict[str, str]:
        provider = {"ServiceToken": SERVICE_TOKEN}
        if self.service_timeout_s is not None:
            provider["ServiceTimeout"] = str(self.service_timeout_s)
        return provider | dict(properties)


def replay(
    template: Mapping[str, Any],
    *,
    target: ConnectionSettings,
    sql_dir: Path,
    secret_string: str | None = None,
    database: str | None = None,
    timeout_s: float = 300.0,
    log_level: int = logging.INFO,
) -> Response:
    """Send one event file to the handler, as CloudFormation would, against `target`.

    Placeholders filled in: ${SecretArn} (a moto secret holding `secret_string`, default the
    target's credentials), ${Host}, ${Port}, ${DatabaseName}, ${SqlChecksum} (of `sql_dir`).
    The ResponseURL is always replaced by the local receiver's.
    """
    from db_init.handler import SchemaResource  # noqa: PLC0415 - needs crhelper and boto3

    _check_event(template)
    with (
        tempfile.TemporaryDirectory() as workdir,
        ResponseReceiver(Path(workdir)) as receiver,
        offline_aws(),
    ):
        secret = secret_string or json.dumps(
            {
                "username": target.user,
                "password": target.password,
                "engine": "postgres",
                "host": target.host,
                "port": target.port,
            }
        )
        values = {
            "SecretArn": put_secret("shoppulse/simulated", secret),
            "Host": target.host,
            "Port": str(target.port),
            "DatabaseName": database or target.database,
            "SqlChecksum": sql_tree_checksum(sql_dir),
        }
        event = fill(dict(template), values)
        event["ResponseURL"] = receiver.url(
            event["StackId"], event["LogicalResourceId"], event["RequestId"]
        )
        resource = SchemaResource(sql_dir=sql_dir, log_level=log_level)
        cfn = CloudFormation(resource, receiver)
        return cfn.send(event, timeout_s=timeout_s)


def _check_event(event: Mapping[str, Any]) -> None:
    if event.get("RequestType") not in ("Create", "Update", "Delete"):
        raise SettingsError("the event's RequestType must be Create, Update or Delete")
    missing = [
        key
        for key in ("StackId", "RequestId", "LogicalResourceId", "ResourceProperties")
        if key not in event
    ]
    if missing:
        raise SettingsError(f"the event lacks {', '.join(missing)}")


@contextmanager
def offline_aws() -> Iterator[None]:
    """Fake credentials and an in-process Secrets Manager (moto); nothing leaves the machine."""
    from moto import mock_aws  # noqa: PLC0415 - development requirement only

    saved = {name: os.environ.get(name) for name in (*FAKE_AWS_ENV, "AWS_PROFILE")}
    os.environ.update(FAKE_AWS_ENV)
    os.environ.pop("AWS_PROFILE", None)
    try:
        with mock_aws():
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def put_secret(name: str, secret_string: str) -> str:
    """Create (or replace the value of) a secret in the offline Secrets Manager; its ARN."""
    import boto3  # noqa: PLC0415

    client = boto3.client("secretsmanager", region_name=REGION)
    try:
        arn: str = client.create_secret(Name=name, SecretString=secret_string)["ARN"]
    except client.exceptions.ResourceExistsException:
        arn = client.put_secret_value(SecretId=name, SecretString=secret_string)["ARN"]
    return arn


def missing_secret_arn(name: str = "shoppulse/missing") -> str:
    """The ARN of a secret that does not exist."""
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"


def fill(template: Any, values: Mapping[str, str]) -> Any:
    """Replace `${Name}` placeholders in every string of an event template."""
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("${" + name + "}", value)
        return template
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, values) for value in template]
    return template


@dataclass(frozen=True)
class Authority:
    """A throw-away certificate authority: its name, certificate and signing key."""

    name: str
    cert: Any  # cryptography.x509.Certificate (a development requirement, imported lazily)
    key: Any  # its EC private key

    def pem(self) -> bytes:
        """The CA certificate as PEM."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        return bytes(self.cert.public_bytes(serialization.Encoding.PEM))


def new_authority(name: str = "shoppulse-db test CA") -> Authority:
    """A self-signed CA, valid for a day."""
    from cryptography import x509  # noqa: PLC0415 - development requirement only
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(x509, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return Authority(name, cert, key)


def server_certificate(authority: Authority, hosts: tuple[str, ...]) -> tuple[bytes, bytes]:
    """A server certificate for `hosts` (DNS names or IPs) signed by `authority`: PEM cert, key."""
    from cryptography import x509  # noqa: PLC0415 - development requirement only
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(x509, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), False
        )
        .sign(authority.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def issue_tls_files(
    directory: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> TlsFiles:
    """A throw-away CA and a server certificate for `hosts`, written under `directory`."""
    authority = new_authority()
    cert, key = server_certificate(authority, hosts)
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.crt", directory / "server.key")
    files.ca.write_bytes(authority.pem())
    files.cert.write_bytes(cert)
    files.key.write_bytes(key)
    files.key.chmod(0o600)
    return files


def _key_usage(x509: Any, *, cert_sign: bool) -> Any:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
