"""CloudFormation edge (crhelper): properties -> settings -> credentials -> engine -> response."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from crhelper import FAILED, CfnResource

from db_init import baseline, drift, engine, logs, preflight, response
from db_init.credentials import read_secret, secrets_client
from db_init.deadline import Deadline
from db_init.engine import Result
from db_init.errors import AuthenticationError, DbInitError, StaleAssetError
from db_init.manifest import manifest_of
from db_init.properties import ResourceProperties
from db_init.scripts import sql_tree_checksum
from db_init.settings import ApplyOptions, ConnectionSettings, RolePassword, default_sql_dir

BUNDLE_ROOT = Path(__file__).resolve().parents[1]
# Kept back from the Lambda's remaining time: enough to roll back and send FAILED ourselves
# well before crhelper's watchdog (which fires 0.5 s before the end and says only "timed out").
MARGIN_FRACTION, MARGIN_MIN_S, MARGIN_MAX_S = 0.1, 2.0, 30.0

Event = dict[str, Any]
SecretsClientFactory = Callable[[str | None], Any]
log = logging.getLogger(__name__)


class SchemaResource:
    """The Custom::ShopPulseSchema provider; one per Lambda container, one request at a time."""

    def __init__(
        self,
        *,
        sql_dir: Path,
        bundle_root: Path = BUNDLE_ROOT,
        secrets: SecretsClientFactory = secrets_client,
        log_level: int = logging.INFO,
    ) -> None:
        self.sql_dir = sql_dir
        self.bundle_root = bundle_root
        self._secrets = secrets
        self._log_level = log_level
        # Why sleep_on_delete=0: Delete changes nothing, so there are no logs worth waiting for.
        self._helper = CfnResource(
            json_logging=False,
            log_level=logging.getLevelName(log_level),
            boto_level="ERROR",
            sleep_on_delete=0,
        )
        self._helper.create(self._create_or_update)
        self._helper.update(self._create_or_update)
        self._helper.delete(self._delete)

    def __call__(self, event: Event, context: Any) -> None:
        """Handle one CloudFormation request; the response goes to its ResponseURL."""
        started = time.monotonic()
        logs.configure(self._log_level)
        logs.bind(
            request_id=str(getattr(context, "aws_request_id", "")),
            stack_id=str(event.get("StackId", "")),
            logical_resource_id=str(event.get("LogicalResourceId", "")),
            request_type=str(event.get("RequestType", "")),
            cfn_request_id=str(event.get("RequestId", "")),
        )
        logs.redact(event.get("ResponseURL"))
        log.info("request received", extra={"event": logs.without_response_url(event)})
        self._helper(event, context)
        log.info(
            "response sent",
            extra={
                "status": self._helper.Status,
                "physical_resource_id": self._helper.PhysicalResourceId,
                "duration_ms": _ms_since(started),
            },
        )

    def _create_or_update(self, event: Event, context: Any) -> str:
        deadline = lambda_deadline(context)
        physical_id = str(event.get("PhysicalResourceId") or placeholder_id(event))
        timings: dict[str, int] = {}
        try:
            props = ResourceProperties.from_properties(event.get("ResourceProperties") or {})
            self._check_bundle(props)
            client = self._secrets(props.region)
            with _timed(timings, "secret"):
                target = self._target(props, client)
            if event["RequestType"] == "Create":
                physical_id = identity(target)
            with _timed(timings, "preflight"):
                preflight.check(target, deadline=deadline)
            result = self._apply(props, target, client, deadline)
        except Exception as error:  # every failure fails the resource, never a green stack
            self._fail(error, event, timings)
            return physical_id
        physical_id = identity(target)
        data = response.data(result)
        self._helper.Data.update(response.fit(data, self._envelope(event, physical_id)))
        summary = "schema applied and verified"
        if result.future:  # this build ran nothing, and a declared difference only warned
            summary = (
                f"database ahead of this build: nothing applied; declared schema checked, "
                f"{result.drift_count} difference(s)"
            )
        log.info(
            summary,
            extra={
                "applied": result.applied_versions,
                "schema_version": data["SchemaVersion"],
                "future_versions": data["FutureVersions"],
                "timings_ms": timings | result.timings_ms,
            },
        )
        return physical_id

    def _delete(self, event: Event, context: Any) -> str:
        # Why nothing is dropped: the database holds tenant data and outlives the stack.
        log.info("delete: the database is retained; nothing was dropped or changed")
        return str(event.get("PhysicalResourceId") or placeholder_id(event))

    @cached_property
    def _bundled(self) -> tuple[str, tuple[str, ...]]:
        """Checksum and manifest of the bundled sql/ (immutable for the container's life)."""
        return sql_tree_checksum(self.sql_dir), tuple(manifest_of(self.sql_dir))

    def _check_bundle(self, props: ResourceProperties) -> None:
        bundled, manifest = self._bundled
        if bundled != props.sql_checksum:
            raise StaleAssetError(
                f"bundled sql/ has sha256 {bundled[:12]} but SqlChecksum is "
                f"{props.sql_checksum[:12]}: the function code is from another build than the "
                "template; redeploy both from one cdk synth"
            )
        if props.migrations is not None and props.migrations != manifest:
            raise StaleAssetError(
                "the Migrations property does not list the bundled migrations: the template "
                "is from another build than the function code; redeploy both from one cdk synth"
            )

    def _target(self, props: ResourceProperties, client: Any) -> ConnectionSettings:
        secret = read_secret(props.secret_arn, client=client)
        logs.redact(secret.password)
        return props.connection_settings(secret, bundle_root=self.bundle_root)

    def _apply(
        self,
        props: ResourceProperties,
        target: ConnectionSettings,
        client: Any,
        deadline: Deadline,
    ) -> Result:
        options = props.apply_options(
            self.sql_dir, deadline, role_passwords=self._role_passwords(props, client)
        )
        try:
            return self._baseline_and_apply(props, target, options, deadline)
        except AuthenticationError:
            # Rotation race: the password may have changed between our read and the login.
            fresh = read_secret(props.secret_arn, client=client)
            logs.redact(fresh.password)
            if (fresh.username, fresh.password) == (target.user, target.password):
                raise
            log.warning("authentication failed; the secret has changed since, retrying once")
            retry = target.with_credentials(fresh.username, fresh.password)
            return self._baseline_and_apply(props, retry, options, deadline)

    def _baseline_and_apply(
        self,
        props: ResourceProperties,
        target: ConnectionSettings,
        options: ApplyOptions,
        deadline: Deadline,
    ) -> Result:
        if props.baseline_version is not None:
            # Adopts a database the original script built (no-op once recorded), then applies.
            scratch = drift.existing_server(target)
            baseline.adopt(target, options, deadline, props.baseline_version, scratch=scratch)
        return engine.apply(target, options, deadline)

    def _role_passwords(self, props: ResourceProperties, client: Any) -> tuple[RolePassword, ...]:
        """Each login role's name and password, from its own secret."""
        passwords = []
        for arn in props.role_secret_arns:
            secret = read_secret(arn, client=client)
            logs.redact(secret.password)
            passwords.append(RolePassword(secret.username, secret.password))
        return tuple(passwords)

    def _fail(self, error: Exception, event: Event, timings: dict[str, int]) -> None:
        self._helper.Status = FAILED
        self._helper.Reason = logs.mask(
            response.reason(error, request_id=str(event.get("RequestId", "")))
        )
        if isinstance(error, DbInitError):
            log.error(
                "failed: %s",
                error.one_line(),
                extra={
                    "error": error.kind,
                    "sqlstate": error.sqlstate,
                    "server": error.server_fields(),
                    "timings_ms": timings,
                },
            )
        else:
            log.exception("failed with an unexpected error", extra={"timings_ms": timings})

    def _envelope(self, event: Event, physical_id: str) -> dict[str, Any]:
        """The response body crhelper will send, without Data (to measure its size)."""
        return {
            "Status": self._helper.Status,
            "PhysicalResourceId": physical_id,
            "StackId": event.get("StackId", ""),
            "RequestId": event.get("RequestId", ""),
            "LogicalResourceId": event.get("LogicalResourceId", ""),
            "Reason": self._helper.Reason,
            "NoEcho": False,
        }


def identity(target: ConnectionSettings) -> str:
    """The PhysicalResourceId: which database on which endpoint (stable, never random)."""
    return f"{target.database}@{target.host}:{target.port}"


def placeholder_id(event: Event) -> str:
    """The id of a resource that never got as far as knowing its database (a failed Create)."""
    return f"{event.get('LogicalResourceId', 'Schema')}-not-created"


def lambda_deadline(context: Any) -> Deadline:
    """Our own deadline: the Lambda's remaining time minus a margin to roll back and answer."""
    remaining = context.get_remaining_time_in_millis() / 1000
    margin = min(MARGIN_MAX_S, max(MARGIN_MIN_S, remaining * MARGIN_FRACTION))
    return Deadline.after(remaining - margin)


@cache
def _default() -> SchemaResource:
    return SchemaResource(
        sql_dir=default_sql_dir(), log_level=logs.level_from(os.environ.get("LOG_LEVEL"))
    )


def handler(event: Event, context: Any) -> None:
    """The Lambda entry point, `db_init.handler.handler`."""
    _default()(event, context)


@contextmanager
def _timed(timings: dict[str, int], phase: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[phase] = _ms_since(started)


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
