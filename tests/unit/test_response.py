"""The answer to CloudFormation: Reason line, Data attributes, the 4096-byte limit."""

from __future__ import annotations

from db_init.engine import Result
from db_init.errors import MigrationFailedError, SettingsError
from db_init.response import MAX_REASON, MAX_RESPONSE_BYTES, data, fit, reason, size

ENVELOPE = {
    "Status": "SUCCESS",
    "PhysicalResourceId": "shoppulse@proxy.internal:5432",
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/" + "0" * 36,
    "RequestId": "0" * 36,
    "LogicalResourceId": "Schema",
    "Reason": "",
    "NoEcho": False,
}


def _result(recorded: tuple[str, ...], version: int | None = 1) -> Result:
    return Result(
        database="shoppulse",
        dry_run=False,
        applied=(),
        pending=(),
        schema_version=version,
        table_count=8,
        trigger_count=8,
        checksum="c" * 64,
        recorded=recorded,
    )


def test_data_are_strings_and_list_the_whole_history() -> None:
    assert data(_result(("V001", "V002", "S001"), version=2)) == {
        "SchemaVersion": "V002",
        "AppliedVersions": "V001,V002,S001",
        "TableCount": "8",
        "TriggerCount": "8",
        "Checksum": "c" * 64,
        "DriftCount": "0",
        "FutureVersions": "",
    }


def test_reason_starts_with_class_and_sqlstate_and_is_cut_at_250() -> None:
    error = MigrationFailedError("x" * 400, sqlstate="42P01", where="migrations/V002__broken.sql:7")
    text = reason(error, request_id="r-1")
    assert text.startswith("MigrationFailedError [42P01]: migrations/V002__broken.sql:7: xxx")
    assert len(text) == MAX_REASON
    assert reason(SettingsError("short"), request_id="r-1") == "SettingsError: short"


def test_reason_for_a_bug_shows_only_its_type() -> None:
    text = reason(KeyError("password=hunter2"), request_id="r-1")
    assert text == "InternalError: KeyError; see the function log, request r-1"


def test_fit_keeps_short_data_and_collapses_long_histories() -> None:
    short = data(_result(("V001", "S001")))
    assert fit(short, ENVELOPE) == short
    labels = (*(f"V{v:03d}" for v in range(1, 1001)), "S001", "S002", "S004")
    fitted = fit(data(_result(labels, version=1000)), ENVELOPE)
    assert fitted["AppliedVersions"] == "V001-V1000,S001-S002,S004"
    assert size(ENVELOPE, fitted) <= MAX_RESPONSE_BYTES


def test_fit_truncates_when_even_ranges_are_too_long() -> None:
    labels = tuple(f"V{v:03d}" for v in range(1, 3000, 2))  # no two consecutive
    fitted = fit(data(_result(labels, version=2999)), ENVELOPE)
    assert fitted["AppliedVersions"].startswith("V001,V003,")
    assert fitted["AppliedVersions"].endswith(",...")
    assert size(ENVELOPE, fitted) <= MAX_RESPONSE_BYTES
