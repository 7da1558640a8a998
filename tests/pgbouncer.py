"""A real PgBouncer (Debian package) on loopback in transaction mode, for tests and benchmarks."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from db_init.embedded import SERVICE_USER

BINARY_CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer")
START_TIMEOUT_S = 20.0


class PgBouncerMissingError(RuntimeError):
    """pgbouncer is not installed (make test installs the pinned Debian package)."""


def binary() -> str:
    """Path of the pgbouncer executable."""
    for candidate in BINARY_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise PgBouncerMissingError(
        "pgbouncer not found; run `make test` (it installs the pinned Debian package pgbouncer)"
    )


@dataclass(frozen=True)
class PoolSettings:
    """What the pooler puts in front of which server."""

    server_host: str
    server_port: int
    database: str
    users: Mapping[str, str]  # user -> password (clients and server logins alike)
    pool_size: int = 2
    pool_mode: str = "transaction"


class PgBouncer:
    """Start/stop one pgbouncer process whose files live in a private temporary directory."""

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self.host = "127.0.0.1"
        self.port = _free_port()
        # As root the files must be reachable by the unprivileged user pgbouncer runs as, so
        # they go under /tmp rather than a TMPDIR that may sit in root's home.
        base = "/tmp" if os.geteuid() == 0 else None
        self._dir = Path(tempfile.mkdtemp(prefix="shoppulse-pgbouncer-", dir=base))
        self._process: subprocess.Popen[bytes] | None = None
        self.log_file = self._dir / "pgbouncer.log"

    def start(self) -> PgBouncer:
        """Write the config, start pgbouncer in the foreground and wait until it accepts."""
        config = self._write_config()
        # pgbouncer refuses to run as root: CI and this machine run tests as root, so the
        # process runs as the same unprivileged user the embedded PostgreSQL runs as.
        user = SERVICE_USER if os.geteuid() == 0 else None
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (self._dir, *self._dir.iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._process = subprocess.Popen(
            [binary(), str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited at start: {self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pgbouncer did not listen within {START_TIMEOUT_S}s")

    def stop(self) -> None:
        """Stop pgbouncer (SIGTERM, then SIGKILL) and remove its files."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def _write_config(self) -> Path:
        s = self.settings
        auth_file = self._dir / "users.txt"
        auth_file.write_text(
            "".join(f'"{user}" "{password}"\n' for user, password in s.users.items())
        )
        auth_file.chmod(0o600)
        config = self._dir / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"{s.database} = host={s.server_host} port={s.server_port} dbname={s.database}\n"
            "[pgbouncer]\n"
            f"listen_addr = {self.host}\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {auth_file}\n"
            f"pool_mode = {s.pool_mode}\n"
            f"default_pool_size = {s.pool_size}\n"
            "min_pool_size = 0\n"
            "reserve_pool_size = 0\n"
            "max_client_conn = 200\n"
            "server_lifetime = 3600\n"
            "server_idle_timeout = 600\n"
            f"logfile = {self.log_file}\n"
            f"pidfile = {self._dir / 'pgbouncer.pid'}\n"
        )
        config.chmod(0o600)
        return config

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-3:])
        except OSError:
            return "(no log)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
