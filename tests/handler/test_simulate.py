"""`shoppulse-db simulate`: replay the sample events and print what CloudFormation would get."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from db_init import cli
from db_init.settings import ConnectionSettings
from tests import postgres
from tests.postgres import MIGRATIONS, SEEDS, database_url

EVENTS = Path(__file__).resolve().parents[1] / "events"


def _simulate(
    event: str, admin: ConnectionSettings, target: ConnectionSettings, sql_dir: Path, *extra: str
) -> list[str]:
    return [
        "simulate",
        str(EVENTS / event),
        "--database-url",
        database_url(admin),
        "--database",
        target.database,
        "--sql-dir",
        str(sql_dir),
        "--timeout",
        "30",
        *extra,
    ]


def test_sample_events_replay_create_update_delete(
    admin: ConnectionSettings,
    target: ConnectionSettings,
    sql_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    documents = []
    for event in ("create.json", "update.json", "delete.json"):
        assert cli.main(_simulate(event, admin, target, sql_dir)) == 0
        captured = capsys.readouterr()
        assert admin.password not in captured.out + captured.err
        assert "X-Amz-Signature" not in captured.out + captured.err
        documents.append(json.loads(captured.out))
    created, updated, deleted = documents
    assert [d["Status"] for d in documents] == ["SUCCESS"] * 3
    physical_id = f"{target.database}@{admin.host}:{admin.port}"
    assert {d["PhysicalResourceId"] for d in documents} == {physical_id}
    assert created["Data"]["AppliedVersions"] == ",".join(MIGRATIONS + SEEDS)
    assert updated["Data"] == created["Data"]
    assert deleted["Data"] == {}
    assert postgres.query(target, "SELECT count(*) FROM tenants")[0][0] > 0  # retained


def test_simulated_failure_prints_failed_and_exits_1(
    admin: ConnectionSettings,
    target: ConnectionSettings,
    sql_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"username": admin.user, "password": "wrong-password-x"}))
    code = cli.main(_simulate("create.json", admin, target, sql_dir, "--secret-file", str(secret)))
    assert code == cli.EXIT_FAILED
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["Status"] == "FAILED"
    assert document["Reason"].startswith("AuthenticationError [28P01]: ")
    assert "wrong-password-x" not in captured.out + captured.err
