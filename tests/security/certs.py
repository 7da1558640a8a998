"""Test certificate authorities and TLS server contexts, on the simulator's certificate code."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from db_init import simulator


@dataclass(frozen=True)
class Authority:
    """A CA and the PEM file a client trusts it by."""

    name: str
    issuer: simulator.Authority
    pem: Path


def make_ca(directory: Path, name: str) -> Authority:
    """A self-signed CA written to directory/<name>.pem."""
    issuer = simulator.new_authority(name)
    pem = directory / f"{name}.pem"
    pem.write_bytes(issuer.pem())
    return Authority(name, issuer, pem)


def server_context(directory: Path, ca: Authority, *, hosts: tuple[str, ...]) -> ssl.SSLContext:
    """A TLS server context whose certificate (signed by `ca`) names `hosts` (DNS or IP)."""
    cert, key = simulator.server_certificate(ca.issuer, hosts)
    stem = directory / f"server-{ca.name}-{hosts[0]}"
    cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
    cert_file.write_bytes(cert)
    key_file.write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
