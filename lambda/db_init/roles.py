"""Login roles' passwords, set as SCRAM verifiers so no plaintext password reaches the server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from collections.abc import Iterable

from db_init.db import Session, quote_identifier
from db_init.errors import SettingsError
from db_init.settings import RolePassword, role_name

log = logging.getLogger(__name__)
_ITERATIONS = 4096  # PostgreSQL's default scram_iterations


def scram_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS
) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802 / RFC 7677)."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def set_passwords(session: Session, passwords: Iterable[RolePassword]) -> list[str]:
    """Enable login for each role with its password (inside the caller's transaction)."""
    done: list[str] = []
    for entry in passwords:
        name = role_name(entry.role)
        if not session.query("SELECT 1 FROM pg_roles WHERE rolname = :name", name=name):
            raise SettingsError(
                f"role {name} does not exist; the migration creating it has not run"
            )
        # The verifier is base64 plus '$' and ':', so it is safe inside a literal.
        verifier = scram_verifier(entry.password)
        session.query(f"ALTER ROLE {quote_identifier(name)} WITH LOGIN PASSWORD '{verifier}'")
        log.info("login enabled for role %s (password from its secret)", name)
        done.append(name)
    return done
