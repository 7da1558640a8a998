"""A failing statement through the custom resource: GIVEN a duplicate key in a migration, THEN
the Reason keeps the server's DETAIL and the JSON log line carries every server field in full.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from db_init import logs
from tests.cloudformation import Stack, assert_failed


def test_reason_keeps_the_detail_and_the_log_has_every_server_field(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a release whose new migration inserts the same key twice
    new_sql = stack.release(
        tmp_path,
        "V902__codes.sql",
        "CREATE TABLE codes (code text PRIMARY KEY);\nINSERT INTO codes VALUES ('A'), ('A');\n",
    )
    # WHEN CloudFormation creates the resource
    response = stack.cfn.create(stack.properties(new_sql), handler=stack.resource_for(new_sql))
    # THEN the Reason names the file, line, SQLSTATE and which key
    assert_failed(
        response, "MigrationFailedError [23505]: migrations/V902__codes.sql:2: duplicate key"
    )
    assert "(Key (code)=(A) already exists)" in response.reason
    # AND the JSON log line of the failure holds the server's fields in full
    (record,) = [r for r in caplog.records if r.getMessage().startswith("failed: ")]
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["server"]["detail"] == "Key (code)=(A) already exists."
    assert line["server"]["constraint"] == "codes_pkey"
    assert line["sqlstate"] == "23505"
    assert record.levelno == logging.ERROR
    assert stack.tables() == []
