"""The custom resource's property contract: CloudFormation strings in, frozen settings out."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from db_init.credentials import DbSecret
from db_init.deadline import Deadline
from db_init.errors import SettingsError
from db_init.settings import (
    FUTURE_POLICIES,
    ApplyOptions,
    ConnectionSettings,
    RolePassword,
    database_name,
    parse_bool,
    parse_int,
    parse_version,
)

SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
DEFAULT_PORT = 5432
# The RDS/Amazon roots shipped in the function bundle (relative to the bundle root).
DEFAULT_CA_BUNDLE = Path("certs/aws-rds-proxy-ca-bundle.pem")
# CloudFormation adds these to every custom resource's properties; they configure the provider.
PROVIDER_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
KNOWN = frozenset(
    {
        "SecretArn",
        "DatabaseName",
        "Host",
        "Port",
        "ApplySeeds",
        "SqlChecksum",
        "LockTimeoutMs",
        "StatementTimeoutMs",
        "ConnectTimeoutS",
        "CaBundlePath",
        "RequireTls",
        "AppRoleSecretArn",
        "AnalyticsRoleSecretArn",
        "OnDrift",
        "OnFutureMigrations",
        "Migrations",
        "BaselineVersion",
    }
)
ROLE_SECRETS = ("AppRoleSecretArn", "AnalyticsRoleSecretArn")
MANIFEST = re.compile(r"V\d{3,}:[0-9a-f]{8}(,V\d{3,}:[0-9a-f]{8})*")
REQUIRED = ("SecretArn", "DatabaseName", "SqlChecksum")


@dataclass(frozen=True)
class ResourceProperties:
    """The validated properties of one Custom::ShopPulseSchema request."""

    secret_arn: str
    database: str
    sql_checksum: str
    host: str | None = None
    port: int | None = None
    apply_seeds: bool = False
    lock_timeout_ms: int = 5_000
    statement_timeout_ms: int = 300_000
    connect_timeout_s: int = 10
    ca_bundle: Path | None = None  # None: the PEM bundled with the function
    require_tls: bool = True
    role_secret_arns: tuple[str, ...] = ()  # login roles whose passwords come from these secrets
    on_drift: str = "warn"
    # Why "ignore" by default: a rollback sends the previous build, which lacks the newest
    # migration; refusing it would leave the stack in UPDATE_ROLLBACK_FAILED.
    on_future: str = "ignore"
    migrations: tuple[str, ...] | None = None  # the plan the template was synthesized with
    baseline_version: int | None = None

    @classmethod
    def from_properties(cls, raw: Mapping[str, object]) -> ResourceProperties:
        """Parse ResourceProperties strictly: strings only, unknown names refused."""
        unknown = sorted(set(raw) - KNOWN - PROVIDER_PROPERTIES)
        if unknown:
            raise SettingsError(_unknown_message(unknown))
        values = {name: _string(name, raw[name]) for name in KNOWN if name in raw}
        missing = [name for name in REQUIRED if name not in values]
        if missing:
            raise SettingsError(f"required property missing: {', '.join(missing)}")
        for name in ("SecretArn", *ROLE_SECRETS):
            if name in values and not SECRET_ARN.fullmatch(values[name]):
                raise SettingsError(
                    f"{name} {values[name][:100]!r} is not a Secrets Manager secret ARN"
                )
        on_drift = values.get("OnDrift", "warn")
        if on_drift not in ("warn", "fail"):
            raise SettingsError(f'OnDrift must be "warn" or "fail", got {on_drift[:20]!r}')
        on_future = values.get("OnFutureMigrations", "ignore")
        if on_future not in FUTURE_POLICIES:
            raise SettingsError(
                f'OnFutureMigrations must be "ignore" or "fail", got {on_future[:20]!r}'
            )
        manifest = values.get("Migrations")
        if manifest is not None and not MANIFEST.fullmatch(manifest):
            raise SettingsError("Migrations must look like V001:5d06ebcf,V002:... (see manifest)")
        baseline = values.get("BaselineVersion")
        if not SHA256_HEX.fullmatch(values["SqlChecksum"]):
            raise SettingsError("SqlChecksum must be 64 lower-case hex digits (sha256 of sql/)")
        port = values.get("Port")
        timeouts = {
            key: parse_int(name, values[name], minimum=low, maximum=high)
            for key, name, low, high in (
                ("lock_timeout_ms", "LockTimeoutMs", 100, 600_000),
                ("statement_timeout_ms", "StatementTimeoutMs", 1_000, 3_600_000),
                ("connect_timeout_s", "ConnectTimeoutS", 1, 120),
            )
            if name in values
        }
        ca_bundle = values.get("CaBundlePath")
        return cls(
            secret_arn=values["SecretArn"],
            database=database_name(values["DatabaseName"]),
            sql_checksum=values["SqlChecksum"],
            host=values.get("Host"),
            port=parse_int("Port", port, minimum=1, maximum=65_535) if port else None,
            apply_seeds=parse_bool("ApplySeeds", values.get("ApplySeeds", "false")),
            ca_bundle=Path(ca_bundle) if ca_bundle else None,
            require_tls=parse_bool("RequireTls", values.get("RequireTls", "true")),
            role_secret_arns=tuple(values[name] for name in ROLE_SECRETS if name in values),
            on_drift=on_drift,
            on_future=on_future,
            migrations=tuple(manifest.split(",")) if manifest else None,
            baseline_version=parse_version(baseline) if baseline else None,
            **timeouts,
        )

    @property
    def region(self) -> str:
        """The secret's region, from its ARN."""
        return self.secret_arn.split(":")[3]

    def connection_settings(self, secret: DbSecret, *, bundle_root: Path) -> ConnectionSettings:
        """Where to connect: Host/Port override the secret's; TLS verified against the CA bundle."""
        host = self.host or secret.host
        if not host:
            raise SettingsError(
                f"secret {self.secret_arn} has no host and no Host property is set; "
                "set Host to the RDS Proxy endpoint"
            )
        port = self.port or (None if self.host else secret.port) or DEFAULT_PORT
        ca_bundle = self.ca_bundle or DEFAULT_CA_BUNDLE
        return ConnectionSettings(
            host=host,
            port=port,
            user=secret.username,
            password=secret.password,
            database=self.database,
            tls=self.require_tls,
            # relative paths name a file inside the function bundle
            ca_bundle=(bundle_root / ca_bundle) if self.require_tls else None,
            connect_timeout_s=float(self.connect_timeout_s),
        )

    def apply_options(
        self, sql_dir: Path, deadline: Deadline, *, role_passwords: tuple[RolePassword, ...] = ()
    ) -> ApplyOptions:
        """Engine options; the statement timeout never outlasts the deadline."""
        return ApplyOptions(
            sql_dir=sql_dir,
            apply_seeds=self.apply_seeds,
            lock_timeout_ms=self.lock_timeout_ms,
            statement_timeout_ms=deadline.cap_ms(self.statement_timeout_ms),
            role_passwords=role_passwords,
            on_drift=self.on_drift,
            on_future=self.on_future,
            # Why the whole deadline, not a fixed budget: a new RDS Proxy target may take
            # minutes to register; the deadline already keeps the margin to answer.
            connect_budget_s=max(0.0, deadline.remaining()),
        )


def _unknown_message(unknown: list[str]) -> str:
    """Name each unknown property, with the likely intended one (typos must not pass silently)."""
    named = []
    for name in unknown[:3]:
        close = difflib.get_close_matches(name, KNOWN, n=1)
        named.append(f"{name[:40]} (did you mean {close[0]}?)" if close else name[:40])
    more = f" (+{len(unknown) - 3} more)" if len(unknown) > 3 else ""
    return (
        f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(named)}{more}; "
        f"known: {', '.join(sorted(KNOWN))}"
    )


def _string(name: str, value: object) -> str:
    """CloudFormation delivers every scalar as a string; anything else is a template mistake."""
    if not isinstance(value, str):
        raise SettingsError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        advice = "" if name in REQUIRED else "; remove it to use the default"
        raise SettingsError(f"{name} is empty{advice}")
    return value.strip()
