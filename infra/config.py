"""Per-environment settings read from cdk.json context into frozen, validated dataclasses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ENVIRONMENT_NAMES = ("dev", "staging", "prod")
DATABASE_NAME = "shoppulse"
DATABASE_PORT = 5432

Engine = Literal["postgres", "aurora-postgresql"]
RemovalMode = Literal["destroy", "snapshot", "retain"]
DriftMode = Literal["warn", "fail"]

_ENGINE_BY_NAME: dict[str, Engine] = {
    "postgres": "postgres",
    "aurora-postgresql": "aurora-postgresql",
}
_REMOVAL_BY_NAME: dict[str, RemovalMode] = {
    "destroy": "destroy",
    "snapshot": "snapshot",
    "retain": "retain",
}
_DRIFT_BY_NAME: dict[str, DriftMode] = {"warn": "warn", "fail": "fail"}
_ENGINES = tuple(_ENGINE_BY_NAME)
_REMOVAL_MODES = tuple(_REMOVAL_BY_NAME)
_DRIFT_MODES = tuple(_DRIFT_BY_NAME)
_POSTGRES_MAJORS = ("16", "17")
# CloudWatch Logs accepts only these retention periods (days).
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_CIDR = re.compile(r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|2[0-4])$")
_INSTANCE_CLASS = re.compile(r"^[a-z][a-z0-9]*\.[a-z0-9]+$")
_TAG_VALUE = re.compile(r"^[\w .:/=+@-]{1,256}$")
# RDS accepts only these enhanced-monitoring intervals (seconds); 0 turns it off.
_MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+$"
)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_MIGRATION_LABEL = re.compile(r"^V\d{3,9}$")  # as the manifest spells it: V001


class ConfigError(ValueError):
    """A missing, unknown or invalid setting in cdk.json context."""


@dataclass(frozen=True)
class NetworkConfig:
    """VPC to create (cidr, max_azs) or to import (vpc_id), and whether to add the endpoints."""

    vpc_id: str | None
    vpc_cidr: str
    max_azs: int
    create_vpc_endpoints: bool


@dataclass(frozen=True)
class DatabaseConfig:
    """Engine, size, durability and retention of the database."""

    engine: Engine
    postgres_major_version: str
    instance_class: str
    allocated_storage_gib: int
    max_allocated_storage_gib: int
    multi_az: bool
    backup_retention_days: int
    deletion_protection: bool
    removal_policy: RemovalMode
    rotation_days: int
    performance_insights_retention_days: int
    log_retention_days: int
    # One customer-managed KMS key for secrets, storage, Performance Insights and log groups;
    # false keeps the AWS-managed keys (a storage key cannot change without a new instance).
    customer_managed_key: bool
    monitoring_interval_s: int


@dataclass(frozen=True)
class InitializerConfig:
    """The schema custom resource: seeds, drift and baseline policy, engine timeouts, sizing."""

    apply_seeds: bool
    lock_timeout_ms: int
    statement_timeout_ms: int
    connect_timeout_s: int
    timeout_minutes: int
    memory_mb: int
    log_retention_days: int
    on_drift: DriftMode
    baseline_version: str | None


@dataclass(frozen=True)
class AlarmConfig:
    """Where alarms go and their thresholds."""

    email: str | None
    topic_arn: str | None
    cpu_percent: int
    free_storage_gib: int
    max_connections: int
    freeable_memory_mib: int
    read_latency_ms: int
    write_latency_ms: int
    proxy_client_connections: int
    proxy_failed_logins: int


@dataclass(frozen=True)
class TagsConfig:
    """Cost-allocation tags every taggable resource carries (next to project and environment)."""

    owner: str
    cost_center: str


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything one environment's stack needs; built once in app.py and passed down."""

    name: str
    account: str
    region: str
    network: NetworkConfig
    database: DatabaseConfig
    initializer: InitializerConfig
    alarms: AlarmConfig
    tags: TagsConfig

    @property
    def stack_name(self) -> str:
        """The CloudFormation stack name, stable per environment."""
        return f"ShopPulseDb-{self.name}"


@dataclass(frozen=True)
class PipelineConfig:
    """Source and placement of the CDK Pipelines stack."""

    connection_arn: str
    repository: str
    branch: str
    account: str | None
    region: str


class _Section:
    """Reads one context mapping, tracking which keys were used so unknown ones are errors."""

    def __init__(self, where: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected an object, got {type(raw).__name__}")
        self.where = where
        self._raw: Mapping[str, Any] = raw
        self._seen: set[str] = set()

    def _get(self, key: str, default: object) -> object:
        self._seen.add(key)
        if key in self._raw:
            return self._raw[key]
        if default is _REQUIRED:
            raise ConfigError(f"{self.where}.{key}: missing required setting")
        return default

    def section(self, key: str) -> _Section:
        return _Section(f"{self.where}.{key}", self._get(key, {}))

    def boolean(self, key: str, default: object = None) -> bool:
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}.{key}: expected true or false, got {value!r}")
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> int:
        value = self._get(key, _REQUIRED if default is None else default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.where}.{key}: expected an integer, got {value!r}")
        if not low <= value <= high:
            raise ConfigError(f"{self.where}.{key}: {value} is outside {low}..{high}")
        return value

    def text(
        self,
        key: str,
        default: str | None = None,
        pattern: re.Pattern[str] | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        return self._check_text(key, value, pattern, choices)

    def optional_text(self, key: str, pattern: re.Pattern[str]) -> str | None:
        value = self._get(key, None)
        if value is None:
            return None
        return self._check_text(key, value, pattern, None)

    def _check_text(
        self,
        key: str,
        value: object,
        pattern: re.Pattern[str] | None,
        choices: tuple[str, ...] | None,
    ) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{self.where}.{key}: expected a string, got {value!r}")
        if choices is not None and value not in choices:
            raise ConfigError(f"{self.where}.{key}: {value!r} is not one of {', '.join(choices)}")
        if pattern is not None and not pattern.match(value):
            raise ConfigError(f"{self.where}.{key}: {value!r} is not valid")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self._raw) - self._seen)
        if unknown:
            raise ConfigError(f"{self.where}: unknown setting(s) {', '.join(unknown)} (typo?)")


_REQUIRED = object()


def _retention(section: _Section, key: str, default: int) -> int:
    value = section.integer(key, default, 1, 1827)
    if value not in _LOG_RETENTION_DAYS:
        raise ConfigError(f"{section.where}.{key}: {value} is not a CloudWatch retention period")
    return value


def _network(section: _Section) -> NetworkConfig:
    config = NetworkConfig(
        vpc_id=section.optional_text("vpc_id", _VPC_ID),
        vpc_cidr=section.text("vpc_cidr", "10.40.0.0/16", pattern=_CIDR),
        max_azs=section.integer("max_azs", 2, 2, 3),
        create_vpc_endpoints=section.boolean("create_vpc_endpoints", default=True),
    )
    section.finish()
    return config


def _database(section: _Section) -> DatabaseConfig:
    engine = section.text("engine", "postgres", choices=_ENGINES)
    removal = section.text("removal_policy", choices=_REMOVAL_MODES)
    allocated = section.integer("allocated_storage_gib", 20, 20, 65536)
    config = DatabaseConfig(
        engine=_ENGINE_BY_NAME[engine],
        postgres_major_version=section.text(
            "postgres_major_version", "17", choices=_POSTGRES_MAJORS
        ),
        instance_class=section.text("instance_class", pattern=_INSTANCE_CLASS),
        allocated_storage_gib=allocated,
        max_allocated_storage_gib=section.integer(
            "max_allocated_storage_gib", max(allocated, 100), allocated, 65536
        ),
        multi_az=section.boolean("multi_az"),
        backup_retention_days=section.integer("backup_retention_days", None, 1, 35),
        deletion_protection=section.boolean("deletion_protection"),
        removal_policy=_REMOVAL_BY_NAME[removal],
        rotation_days=section.integer("rotation_days", 30, 1, 365),
        performance_insights_retention_days=section.integer(
            "performance_insights_retention_days", 7, 7, 731
        ),
        log_retention_days=_retention(section, "log_retention_days", 30),
        customer_managed_key=section.boolean("customer_managed_key", default=False),
        monitoring_interval_s=section.integer("monitoring_interval_s", 0, 0, 60),
    )
    section.finish()
    if config.monitoring_interval_s not in _MONITORING_INTERVALS:
        raise ConfigError(
            f"{section.where}.monitoring_interval_s: {config.monitoring_interval_s} is not one of"
            f" {', '.join(map(str, _MONITORING_INTERVALS))}"
        )
    if config.deletion_protection and config.removal_policy == "destroy":
        raise ConfigError(
            f"{section.where}: deletion_protection true with removal_policy destroy contradict;"
            " use snapshot or retain"
        )
    return config


def _initializer(section: _Section) -> InitializerConfig:
    config = InitializerConfig(
        apply_seeds=section.boolean("apply_seeds"),
        lock_timeout_ms=section.integer("lock_timeout_ms", 5000, 100, 600_000),
        statement_timeout_ms=section.integer("statement_timeout_ms", 300_000, 1000, 3_600_000),
        connect_timeout_s=section.integer("connect_timeout_s", 10, 1, 120),
        timeout_minutes=section.integer("timeout_minutes", 14, 2, 15),
        memory_mb=section.integer("memory_mb", 512, 128, 10240),
        log_retention_days=_retention(section, "log_retention_days", 30),
        # Refusing to migrate over drift is the safe default; only a disposable env warns.
        on_drift=_DRIFT_BY_NAME[section.text("on_drift", "fail", choices=_DRIFT_MODES)],
        baseline_version=section.optional_text("baseline_version", _MIGRATION_LABEL),
    )
    section.finish()
    return config


def _alarms(section: _Section) -> AlarmConfig:
    config = AlarmConfig(
        email=section.optional_text("email", _EMAIL),
        topic_arn=section.optional_text("topic_arn", _SNS_ARN),
        cpu_percent=section.integer("cpu_percent", 80, 1, 100),
        free_storage_gib=section.integer("free_storage_gib", 2, 1, 1000),
        max_connections=section.integer("max_connections", 200, 1, 100_000),
        freeable_memory_mib=section.integer("freeable_memory_mib", 256, 16, 1_000_000),
        read_latency_ms=section.integer("read_latency_ms", 20, 1, 10_000),
        write_latency_ms=section.integer("write_latency_ms", 20, 1, 10_000),
        proxy_client_connections=section.integer("proxy_client_connections", 500, 1, 1_000_000),
        proxy_failed_logins=section.integer("proxy_failed_logins", 5, 1, 100_000),
    )
    section.finish()
    return config


def _tags(section: _Section) -> TagsConfig:
    config = TagsConfig(
        owner=section.text("owner", pattern=_TAG_VALUE),
        cost_center=section.text("cost_center", pattern=_TAG_VALUE),
    )
    section.finish()
    return config


def load_environment(
    context: Mapping[str, object], name: str, *, account: str | None = None
) -> EnvironmentConfig:
    """Validate the `shoppulse:environments.<name>` context block into an EnvironmentConfig.

    account (`-c account=...`) replaces the block's account, e.g. to keep ids out of the repo.
    """
    if name not in ENVIRONMENT_NAMES:
        raise ConfigError(f"-c env={name!r}: expected one of {', '.join(ENVIRONMENT_NAMES)}")
    environments = context.get("shoppulse:environments")
    if not isinstance(environments, Mapping) or name not in environments:
        raise ConfigError(f"cdk.json context shoppulse:environments.{name}: missing")
    root = _Section(f"shoppulse:environments.{name}", environments[name])
    configured = root.optional_text("account", _ACCOUNT)
    if account is not None and not _ACCOUNT.match(account):
        raise ConfigError(f"-c account={account!r}: expected a 12-digit AWS account id")
    chosen = account or configured
    if chosen is None:
        # An account-less stack sees two zones through Fn::GetAZs whatever max_azs says, and
        # setting the account later adds a subnet, which replaces the proxy.
        raise ConfigError(
            f"shoppulse:environments.{name}.account: not set; put the 12-digit AWS account id"
            " in cdk.json or pass -c account=<id> (see docs/stack.md)"
        )
    config = EnvironmentConfig(
        name=name,
        account=chosen,
        region=root.text("region", pattern=_REGION),
        network=_network(root.section("network")),
        database=_database(root.section("database")),
        initializer=_initializer(root.section("initializer")),
        alarms=_alarms(root.section("alarms")),
        tags=_tags(root.section("tags")),
    )
    root.finish()
    return config


def load_pipeline(context: Mapping[str, object]) -> PipelineConfig:
    """Validate the `shoppulse:pipeline` context block into a PipelineConfig."""
    root = _Section("shoppulse:pipeline", context.get("shoppulse:pipeline"))
    config = PipelineConfig(
        connection_arn=root.text("connection_arn", pattern=_CONNECTION_ARN),
        repository=root.text("repository", pattern=_REPOSITORY),
        branch=root.text("branch", "main"),
        account=root.optional_text("account", _ACCOUNT),
        region=root.text("region", pattern=_REGION),
    )
    root.finish()
    return config
