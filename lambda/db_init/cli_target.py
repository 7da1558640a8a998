"""From flags, environment and the project's config to one target and the engine's options."""

from __future__ import annotations

import argparse
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from db_init import lint_config
from db_init.cli_config import PYPROJECT, Project, TargetConfig
from db_init.cli_options import (
    DEFAULT_CONNECT_BUDGET_S,
    DEFAULT_DATA_DIR,
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_STATEMENT_TIMEOUT_MS,
)
from db_init.deadline import Deadline
from db_init.embedded import LocalServer
from db_init.errors import SettingsError
from db_init.settings import ApplyOptions, ConnectionSettings, database_name, parse_database_url

log = logging.getLogger("db_init.cli")
_ARN_REGION = re.compile(r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):")


@dataclass(frozen=True)
class Target:
    """The resolved connection and a one-line description of it for people."""

    settings: ConnectionSettings
    description: str


def _pick(args: argparse.Namespace, name: str, config: TargetConfig) -> object:
    value = getattr(args, name, None)
    return value if value is not None else getattr(config, name)


def config_of(args: argparse.Namespace, project: Project) -> TargetConfig:
    """The config file's settings for --target (or its default target)."""
    return project.target(getattr(args, "target_name", None))


def sql_dir(args: argparse.Namespace, project: Project) -> Path:
    """--sql-dir, else the config's sql_dir, else sql/ of the project; it must hold migrations/."""
    chosen = _pick(args, "sql_dir", config_of(args, project))
    if chosen is None:
        if project.root is None:
            raise SettingsError(
                f"not inside a project: no sql/migrations in {Path.cwd()} or above; "
                "run in the project directory or pass --sql-dir"
            )
        chosen = project.root / "sql"
    assert isinstance(chosen, Path)
    if not (chosen / "migrations").is_dir():
        raise SettingsError(f"{chosen}/migrations not found; pass --sql-dir")
    return chosen


def data_dir(args: argparse.Namespace, project: Project) -> Path:
    """Where the embedded server lives; only inside a project unless --data-dir says where."""
    chosen = _pick(args, "data_dir", config_of(args, project))
    if chosen is None:
        if project.root is None:
            raise SettingsError(
                f"not inside a project (no sql/migrations in {Path.cwd()} or above): the embedded "
                "server was not started; run in the project, or pass --database-url, "
                "--target or --data-dir"
            )
        chosen = project.root / DEFAULT_DATA_DIR
    assert isinstance(chosen, Path)
    if chosen.exists() and not chosen.is_dir():
        raise SettingsError(f"--data-dir {chosen} is a file; give a directory")
    return chosen


def resolve_target(args: argparse.Namespace, project: Project) -> Target:
    """--database-url, --secret-arn, --target, $DATABASE_URL, else the embedded server."""
    target = _resolve(args, project)
    log.info("target: %s", target.description)
    return target


def _resolve(args: argparse.Namespace, project: Project) -> Target:
    config = config_of(args, project)
    named = getattr(args, "target_name", None) or project.default_target
    database_arg = _pick(args, "database", config)
    database = database_name(str(database_arg)) if database_arg else None
    url = getattr(args, "database_url", None)
    secret_arn = getattr(args, "secret_arn", None)
    if url and secret_arn:
        raise SettingsError("give either --database-url or --secret-arn, not both")
    if not url and not secret_arn:
        url = config.url()
        secret_arn = config.secret_arn
        if not url and not secret_arn and not named:
            url = os.environ.get("DATABASE_URL")
    if url:
        settings = parse_database_url(url)
        if database:
            settings = settings.with_database(database)
        return Target(settings, f"{settings.host}:{settings.port}, database {settings.database}")
    if secret_arn:
        return _secret_target(args, config, secret_arn, database or "shoppulse")
    if named and getattr(args, "data_dir", None) is None and config.data_dir is None:
        raise SettingsError(f"target {named!r} names no database_url, secret_arn or data_dir")
    return embedded_target(args, project, database or "shoppulse")


def embedded_target(args: argparse.Namespace, project: Project, database: str) -> Target:
    """Start (if needed) the project's embedded server and describe it."""
    directory = data_dir(args, project)
    server = LocalServer(directory)
    was_running = server.is_running()
    settings = server.start(database=database)
    state = "running" if was_running else "started"
    return Target(
        settings,
        f"embedded {server.version()} ({state}) at {settings.host}:{settings.port}, "
        f"database {settings.database}, data in {shown_path(directory)}/ "
        "(stop it with `shoppulse-db server stop`)",
    )


def shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _secret_target(
    args: argparse.Namespace, config: TargetConfig, secret_arn: str, database: str
) -> Target:
    try:
        import botocore.exceptions  # noqa: PLC0415

        from db_init.credentials import read_secret, secrets_client  # noqa: PLC0415
    except ImportError as error:
        raise SettingsError(
            f"--secret-arn needs boto3 and botocore ({error.name} is not installed): "
            ".venv/bin/pip install -r requirements-dev.txt"
        ) from None
    region = _pick(args, "region", config) or _region_of(secret_arn)
    try:
        client = secrets_client(str(region) if region else None)
    except botocore.exceptions.NoRegionError:
        raise SettingsError(
            f"no AWS region for secret {secret_arn}: pass --region, give the full ARN "
            "or set AWS_REGION"
        ) from None
    secret = read_secret(secret_arn, client=client)
    host = _pick(args, "host", config) or secret.host
    if not host:
        raise SettingsError("the secret has no host; pass --host (e.g. the RDS Proxy endpoint)")
    port = _pick(args, "port", config) or secret.port or 5432
    ca_bundle = _pick(args, "ca_bundle", config)
    settings = ConnectionSettings(
        host=str(host),
        port=int(str(port)),
        user=secret.username,
        password=secret.password,
        database=database,
        ca_bundle=ca_bundle if isinstance(ca_bundle, Path) else None,
    )
    return Target(settings, f"{host}:{settings.port} (TLS verify-full), database {database}")


def _region_of(secret_arn: str) -> str | None:
    match = _ARN_REGION.match(secret_arn)
    return match.group(1) if match else None


def apply_options(args: argparse.Namespace, project: Project) -> ApplyOptions:
    """The engine's options from flags over the config file over the defaults."""
    config = config_of(args, project)
    lock = _pick(args, "lock_timeout_ms", config)
    statement = _pick(args, "statement_timeout_ms", config)
    timeout = _pick(args, "timeout", config)
    drift = _pick(args, "on_drift", config)
    return ApplyOptions(
        sql_dir=sql_dir(args, project),
        apply_seeds=bool(getattr(args, "seeds", False)),
        dry_run=bool(getattr(args, "dry_run", False)),
        lock_timeout_ms=DEFAULT_LOCK_TIMEOUT_MS if lock is None else int(str(lock)),
        statement_timeout_ms=(
            DEFAULT_STATEMENT_TIMEOUT_MS if statement is None else int(str(statement))
        ),
        connect_budget_s=float(str(timeout)) if timeout else DEFAULT_CONNECT_BUDGET_S,
        on_drift=str(drift or "warn"),
        on_future=str(getattr(args, "on_future", None) or "ignore"),
        # [tool.shoppulse-db.lint] of the project's pyproject.toml (defaults without one)
        lint=lint_config.load((project.root or Path.cwd()) / PYPROJECT),
    )


def deadline(args: argparse.Namespace, project: Project) -> Deadline:
    """--timeout (or the config's timeout) as a Deadline; none by default."""
    timeout = _pick(args, "timeout", config_of(args, project))
    return Deadline.after(float(str(timeout))) if timeout else Deadline.never()
