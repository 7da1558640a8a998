"""Typed, frozen settings, parsed once at the edge (CLI flags, URLs, CloudFormation properties)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from db_init.errors import SettingsError
from db_init.lint_config import LintSettings

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
PACKAGE_DIR = Path(__file__).resolve().parent
APPLICATION_NAME = "shoppulse-db"
DRIFT_POLICIES = ("warn", "fail", "off")
# what to do when the database records migrations newer than the bundle (a rollback, an older
# build): "ignore" applies nothing and verifies what the bundle declares; "fail" refuses
FUTURE_POLICIES = ("ignore", "fail")


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; the password never appears in repr()."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    # Why verify-full by default: the proxy endpoint is reached over a network we do not own.
    tls: bool = True
    ca_bundle: Path | None = None
    connect_timeout_s: float = 10.0
    maintenance_database: str = "postgres"
    application_name: str = APPLICATION_NAME

    def __post_init__(self) -> None:
        database_name(self.database)
        if not self.tls and not is_loopback(self.host):
            raise SettingsError(
                f"plaintext connection to non-loopback host {self.host!r} refused; "
                "give a CA bundle (sslrootcert / CaBundlePath) so TLS can be verified"
            )
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise SettingsError(f"CA bundle {self.ca_bundle} does not exist")

    def with_database(self, database: str) -> ConnectionSettings:
        """The same server and credentials, another database."""
        return replace(self, database=database)

    def with_credentials(self, user: str, password: str) -> ConnectionSettings:
        """The same target with rotated credentials."""
        return replace(self, user=user, password=password)


@dataclass(frozen=True)
class RolePassword:
    """A login role and the password to give it; repr() hides the password."""

    role: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class ApplyOptions:
    """What one run of the engine should do."""

    sql_dir: Path
    apply_seeds: bool = False
    dry_run: bool = False
    lock_timeout_ms: int = 5_000
    statement_timeout_ms: int = 300_000
    # how long to keep retrying while the server (or an RDS Proxy target) is not yet reachable
    connect_budget_s: float = 120.0
    # login passwords for the application roles, set after the migrations in the same transaction
    role_passwords: tuple[RolePassword, ...] = ()
    # before applying migrations to a database with history: compare it with what it recorded
    # (in a scratch database); "fail" refuses drift on objects a pending migration alters
    on_drift: str = "warn"
    # the pre-apply lint: PostgreSQL version and rules switched off (pyproject.toml)
    lint: LintSettings = field(default_factory=LintSettings)
    on_future: str = "ignore"

    def __post_init__(self) -> None:
        if self.on_drift not in DRIFT_POLICIES:
            raise SettingsError(f"on-drift must be one of {', '.join(DRIFT_POLICIES)}")
        if self.on_future not in FUTURE_POLICIES:
            raise SettingsError(f"on-future must be one of {', '.join(FUTURE_POLICIES)}")


def default_sql_dir() -> Path:
    """sql/ beside the package (Lambda bundle) or at the repository root (checkout)."""
    for candidate in (PACKAGE_DIR.parent / "sql", PACKAGE_DIR.parent.parent / "sql"):
        if (candidate / "migrations").is_dir():
            return candidate
    return Path("sql")


def parse_version(value: str) -> int:
    """`V001`, `v1` or `1` as a migration version number."""
    digits = value.strip().removeprefix("V").removeprefix("v")
    if not digits.isdigit() or int(digits) < 1:
        raise SettingsError(f"baseline version must look like V001 or 1, got {value[:20]!r}")
    return int(digits)


def database_name(value: str) -> str:
    """Validate a database name; only plain lower-case identifiers ever reach SQL."""
    if not _IDENTIFIER.fullmatch(value):
        raise SettingsError(
            f"database name {value[:70]!r} is not a plain identifier "
            "(lower-case letters, digits, underscore; at most 63 characters)"
        )
    return value


def role_name(value: str) -> str:
    """Validate a role name; only plain lower-case identifiers ever reach SQL."""
    if not _IDENTIFIER.fullmatch(value):
        raise SettingsError(f"role name {value[:70]!r} is not a plain lower-case identifier")
    return value


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (where plaintext may be allowed)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_bool(name: str, value: str) -> bool:
    """Strict boolean: "true" or "false" (any case); "false" is never truthy."""
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise SettingsError(f'{name} must be "true" or "false", got {value[:40]!r}')


def parse_int(name: str, value: str, *, minimum: int, maximum: int) -> int:
    """An integer within [minimum, maximum], from its string form."""
    try:
        number = int(value.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {value[:40]!r}") from None
    if not minimum <= number <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {number}")
    return number


def parse_database_url(url: str, *, connect_timeout_s: float = 10.0) -> ConnectionSettings:
    """postgresql://user:password@host:port/db?sslmode=verify-full|disable&sslrootcert=PATH."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SettingsError("database URL must start with postgresql://")
    if not parts.hostname or not parts.username:
        raise SettingsError("database URL needs a user and a host: postgresql://user@host/db")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"sslmode", "sslrootcert"})
    if unknown:
        raise SettingsError(f"database URL parameter(s) not supported: {', '.join(unknown)}")
    sslmode = query.get("sslmode", "verify-full")
    if sslmode not in ("verify-full", "disable"):
        raise SettingsError(
            f"sslmode={sslmode} is not supported: use verify-full (default) "
            "or disable (loopback only)"
        )
    try:
        port = parts.port or 5432
    except ValueError:
        raise SettingsError("database URL has an invalid port") from None
    root = query.get("sslrootcert")
    return ConnectionSettings(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")) or "shoppulse",
        tls=sslmode == "verify-full",
        ca_bundle=Path(root) if root else None,
        connect_timeout_s=connect_timeout_s,
    )
