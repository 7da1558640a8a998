"""CloudFormation as the handler tests see it: a stack with a secret, a database and a leak check.

The protocol itself (events, Lambda context, the HTTPS ResponseURL receiver, moto) lives in
db_init.simulator, because `shoppulse-db simulate` replays events with the same code.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from db_init.embedded import LocalServer
from db_init.handler import SchemaResource
from db_init.scripts import sql_tree_checksum
from db_init.settings import ConnectionSettings
from db_init.simulator import CloudFormation, Response, put_secret
from tests import postgres

__all__ = ["CloudFormation", "Response", "Stack", "rds_secret"]

MAX_REASON = 250
MAX_BODY = 4096


def rds_secret(settings: ConnectionSettings, **overrides: Any) -> str:
    """A secret string shaped like the one RDS generates for a cluster."""
    fields: dict[str, Any] = {
        "username": settings.user,
        "password": settings.password,
        "engine": "postgres",
        "host": settings.host,
        "port": settings.port,
        "dbname": "postgres",
        "dbClusterIdentifier": "shoppulse",
    }
    return json.dumps(fields | overrides)


@dataclass
class Stack:
    """One custom resource under test: its CloudFormation, secret, target database and sql/."""

    cfn: CloudFormation
    server: LocalServer
    target: ConnectionSettings
    sql_dir: Path
    secret_arn: str
    secret_string: str
    sensitive: list[str] = field(default_factory=list)

    def properties(self, sql_dir: Path | None = None, /, **overrides: str | None) -> dict[str, str]:
        """ResourceProperties as the CDK app sets them (all strings); None removes one."""
        props = {
            "SecretArn": self.secret_arn,
            "DatabaseName": self.target.database,
            "Host": self.target.host,
            "Port": str(self.target.port),
            "ApplySeeds": "true",
            "SqlChecksum": sql_tree_checksum(sql_dir or self.sql_dir),
            "LockTimeoutMs": "5000",
            "StatementTimeoutMs": "300000",
            "ConnectTimeoutS": "5",
            # the test server is plaintext on loopback (settings refuse plaintext elsewhere)
            "RequireTls": "false",
        }
        for name, value in overrides.items():
            if value is None:
                props.pop(name, None)
            else:
                props[name] = value
        return props

    def release(self, directory: Path, name: str, body: str) -> Path:
        """A new build: a copy of the deployed sql/ with one more migration, under `directory`."""
        new_sql = directory / f"sql-{name}"
        shutil.copytree(self.sql_dir, new_sql)
        postgres.add_migration(new_sql, name, body)
        return new_sql

    @staticmethod
    def resource_for(sql_dir: Path, **kwargs: Any) -> SchemaResource:
        """The handler as deployed with `sql_dir` bundled (a new deploy = a new bundle)."""
        return SchemaResource(sql_dir=sql_dir, **kwargs)

    def put_secret(self, secret_string: str) -> str:
        """Replace the secret's value (as a rotation would); its ARN."""
        self.sensitive.append(secret_string)
        return put_secret(self.secret_arn.split(":")[-1].rsplit("-", 1)[0], secret_string)

    def physical_id_for_target(self) -> str:
        """The PhysicalResourceId the handler derives for the target database."""
        return f"{self.target.database}@{self.target.host}:{self.target.port}"

    def snapshot(self) -> str:
        """The whole target database as pg_dump text."""
        return postgres.snapshot(self.server, self.target)

    def tables(self) -> list[str]:
        """Tables in the target database outside the system schemas."""
        rows = postgres.query(
            self.target,
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
        )
        return [str(r[0]) for r in rows]

    def history(self) -> list[str]:
        """Labels recorded in the history table."""
        rows = postgres.query(
            self.target,
            "SELECT kind, version FROM shoppulse_meta.schema_history ORDER BY kind, version",
        )
        return [f"{'V' if k == 'migration' else 'S'}{v:03d}" for k, v in rows]

    def leaks(self, text: str) -> list[str]:
        """Which sensitive values (password, secret string, ResponseURL) occur in `text`."""
        values = [self.target.password, self.secret_string, *self.sensitive, *self._urls()]
        return [v[:12] + "..." for v in values if v and v in text]

    def _urls(self) -> list[str]:
        urls = [str(e["ResponseURL"]) for e in self.cfn.sent]
        return urls + [u.split("?", 1)[1] for u in urls]


def assert_failed(response: Response, starts_with: str) -> None:
    """FAILED, with a Reason of at most 250 characters that starts with the error class."""
    assert response.status == "FAILED", response.document
    assert len(response.reason) <= MAX_REASON, response.reason
    assert response.reason.startswith(starts_with), response.reason
    assert len(response.body) <= MAX_BODY


def assert_no_leaks(
    stack: Stack, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing sensitive in any log record, on stdout/stderr, or in any response body."""
    captured = capsys.readouterr()
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "the handler logged nothing"
    assert stack.leaks(log_text(records) + captured.out + captured.err) == []
    for response in stack.cfn.received:
        assert stack.leaks(response.body.decode()) == []


def assert_protocol(stack: Stack) -> None:
    """Every response is one CloudFormation accepts: echoes the request, fits 4096 bytes."""
    assert len(stack.cfn.sent) == len(stack.cfn.received)
    for event, response in zip(stack.cfn.sent, stack.cfn.received, strict=True):
        document = response.document
        assert len(response.body) <= MAX_BODY
        assert document["Status"] in ("SUCCESS", "FAILED")
        assert document["PhysicalResourceId"]
        for key in ("StackId", "RequestId", "LogicalResourceId"):
            assert document[key] == event[key]
        if document["Status"] == "FAILED":
            assert 0 < len(document["Reason"]) <= MAX_REASON
        if event.get("PhysicalResourceId"):
            # Only a successful Update naming another database may change the id (a replacement).
            allowed = {event["PhysicalResourceId"]}
            if event["RequestType"] == "Update" and document["Status"] == "SUCCESS":
                allowed.add(identity_in(event["ResourceProperties"]))
            assert document["PhysicalResourceId"] in allowed


def identity_in(properties: dict[str, str]) -> str:
    """The PhysicalResourceId the properties' DatabaseName, Host and Port name."""
    return f"{properties['DatabaseName']}@{properties['Host']}:{properties['Port']}"


def log_text(records: list[logging.LogRecord]) -> str:
    """Every captured record in full: message, arguments, extras and traceback."""
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(json.dumps(record.__dict__, default=str))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)
