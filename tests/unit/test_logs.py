"""JSON log lines: request fields on every line, extras as fields, registered secrets masked."""

from __future__ import annotations

import json
import logging

from db_init import logs


def _line(message: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("db_init.handler", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return dict(json.loads(logs.JsonFormatter().format(record)))


def test_lines_carry_the_bound_request_fields_and_extras() -> None:
    logs.bind(request_id="req-1", stack_id="arn:stack", logical_resource_id="Schema")
    line = _line("applied %s", "V001", duration_ms=12)
    assert line["message"] == "applied V001"
    assert (line["request_id"], line["stack_id"], line["logical_resource_id"]) == (
        "req-1",
        "arn:stack",
        "Schema",
    )
    assert line["duration_ms"] == 12
    assert line["level"] == "INFO"


def test_registered_secrets_are_masked_in_message_and_fields() -> None:
    logs.bind(request_id="req-2")
    logs.redact("s3cr3t-pass", "https://x/?X-Amz-Signature=abc", None, "ab")
    line = _line("login with %s", "s3cr3t-pass", url="https://x/?X-Amz-Signature=abc")
    assert "s3cr3t-pass" not in json.dumps(line)
    assert line["message"] == "login with ***"
    assert line["url"] == "***"
    logs.bind(request_id="req-3")  # a new request forgets the old values
    assert logs.mask("s3cr3t-pass") == "s3cr3t-pass"


def test_the_event_is_logged_without_its_response_url() -> None:
    event = {"RequestType": "Create", "ResponseURL": "https://presigned", "RequestId": "1"}
    assert logs.without_response_url(event) == {"RequestType": "Create", "RequestId": "1"}


def test_level_names_fall_back_to_info() -> None:
    assert logs.level_from("debug") == logging.DEBUG
    assert logs.level_from("chatty") == logging.INFO
    assert logs.level_from(None) == logging.INFO
