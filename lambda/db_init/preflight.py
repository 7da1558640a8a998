"""Fail-fast reachability of the database endpoint: DNS, then TCP, then the TLS handshake."""

from __future__ import annotations

import socket
import ssl
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from db_init.db import ssl_context_for
from db_init.deadline import Deadline
from db_init.errors import PreflightError
from db_init.settings import ConnectionSettings

# PostgreSQL's SSLRequest: length 8, code 1234.5679; the server answers b"S" or b"N".
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_Address = tuple[socket.AddressFamily, tuple[str, int]]


def check(settings: ConnectionSettings, *, deadline: Deadline) -> dict[str, int]:
    """Resolve, connect and (with TLS) handshake; durations in ms, or PreflightError naming why."""
    deadline.check(f"preflight of {settings.host}:{settings.port}")
    timeout = max(0.1, min(settings.connect_timeout_s, deadline.remaining()))
    timings: dict[str, int] = {}
    started = time.monotonic()
    addresses = _resolve(settings.host, settings.port, timeout)
    timings["dns"] = _ms_since(started)
    started = time.monotonic()
    sock = _connect(settings, addresses, timeout)
    timings["tcp"] = _ms_since(started)
    with sock:
        if settings.tls:
            started = time.monotonic()
            _handshake(sock, settings)
            timings["tls"] = _ms_since(started)
    return timings


def _resolve(host: str, port: int, timeout: float) -> list[_Address]:
    # getaddrinfo has no timeout of its own; a worker thread bounds it.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        found = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        infos = found.result(timeout=timeout)
    except FutureTimeout:
        raise PreflightError(
            "DNS",
            f"no answer for {host} within {timeout:.0f}s; likely cause: the VPC has no "
            "DNS resolution (enableDnsSupport) or the resolver is unreachable",
        ) from None
    except OSError as error:
        raise PreflightError(
            "DNS",
            f"cannot resolve {host} ({error.strerror or error}); likely cause: a wrong "
            "Host property or secret host, or the proxy/cluster endpoint does not exist yet",
        ) from None
    finally:
        pool.shutdown(wait=False)
    return [(family, (str(addr[0]), int(addr[1]))) for family, _, _, _, addr in infos]


def _connect(
    settings: ConnectionSettings, addresses: list[_Address], timeout: float
) -> socket.socket:
    where = f"{settings.host}:{settings.port}"
    last: OSError | None = None
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            last = error
            continue
        return sock
    if isinstance(last, TimeoutError):
        cause = (
            f"no answer within {timeout:.0f}s; likely cause: a security group does not allow "
            f"this function to reach port {settings.port}, or the function is not in the "
            "database's VPC subnets"
        )
    elif isinstance(last, ConnectionRefusedError):
        cause = (
            "connection refused; likely cause: a wrong port, or the proxy target / server "
            "is not available yet"
        )
    else:
        cause = f"{last}; likely cause: no route from the function's subnets to the database"
    raise PreflightError("TCP", f"cannot connect to {where}: {cause}")


def _handshake(sock: socket.socket, settings: ConnectionSettings) -> None:
    where = f"{settings.host}:{settings.port}"
    context = ssl_context_for(settings)
    assert isinstance(context, ssl.SSLContext)  # settings.tls is set
    try:
        sock.sendall(SSL_REQUEST)
        answer = sock.recv(1)
    except OSError as error:
        raise PreflightError("TLS", f"{where} dropped the connection ({error})") from None
    if answer == b"N":
        raise PreflightError(
            "TLS",
            f"{where} does not offer TLS; likely cause: Host points at a server with "
            "ssl off (RDS Proxy and RDS always offer it)",
        )
    if answer != b"S":
        raise PreflightError("TLS", f"{where} did not answer like PostgreSQL; check Host and Port")
    try:
        with context.wrap_socket(sock, server_hostname=settings.host):
            pass
    except ssl.SSLCertVerificationError as error:
        raise PreflightError(
            "TLS",
            f"certificate of {where} not accepted ({error.verify_message}); likely "
            "cause: CaBundlePath lacks the issuing CA, or Host is not the name in the "
            "certificate (use the proxy endpoint name, not an IP or CNAME)",
        ) from None
    except (ssl.SSLError, OSError) as error:
        raise PreflightError("TLS", f"handshake with {where} failed ({error})") from None


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
