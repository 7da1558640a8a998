"""The password never appears in a log line, an error, a traceback, stdout or stderr."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from db_init import engine
from db_init.deadline import Deadline
from db_init.errors import DbInitError
from db_init.settings import ApplyOptions, ConnectionSettings
from tests.faults.relay import Mode, Relay
from tests.postgres import REPO, add_migration, database_url


class Transcript(logging.Handler):
    """Every record at every level, formatted with its extras and exception, plus other text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the message, every attribute (extras included) and the formatted exception."""
        self.texts.append(self.format(record))
        self.texts.append(repr(record.__dict__))

    def add(self, text: str) -> None:
        """Add output that did not come through logging."""
        self.texts.append(text)

    def add_error(self, error: BaseException) -> None:
        """Add an error as a user or a log could see it: one line, repr, full chained traceback."""
        if isinstance(error, DbInitError):
            self.texts.append(error.one_line())
        self.texts.append(repr(error))
        self.texts.extend(traceback.format_exception(error))

    def leaks(self, *values: str) -> list[str]:
        """The captured texts that contain any of `values`."""
        return [text for text in self.texts if any(value in text for value in values)]


@pytest.fixture
def transcript() -> Iterator[Transcript]:
    """Capture all logging (root and db_init, which the CLI detaches) at DEBUG."""
    capture = Transcript()
    loggers = [logging.getLogger(), logging.getLogger("db_init"), logging.getLogger("pg8000")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
        logger.setLevel(logging.DEBUG)
    yield capture
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(capture)
        logger.setLevel(level)


def _attempt(transcript: Transcript, call: Callable[[], object]) -> None:
    try:
        transcript.add(repr(call()))
    except DbInitError as error:
        transcript.add_error(error)


def _cli(transcript: Transcript, url: str, sql_dir: Path, *args: str) -> int:
    result = subprocess.run(
        [sys.executable, "-m", "db_init", *args, "-vv", "--sql-dir", str(sql_dir)],
        env=os.environ | {"DATABASE_URL": url, "PYTHONPATH": str(REPO / "lambda")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    transcript.add(result.stdout)
    transcript.add(result.stderr)
    return result.returncode


def test_no_scenario_reveals_a_password(
    transcript: Transcript,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> None:
    # GIVEN the real password and a wrong one a user might type
    wrong = "Wr0ng-" + secrets.token_urlsafe(12)
    real = target.password
    assert len(real) >= 16
    # WHEN every kind of run happens, in process and through the CLI
    _attempt(transcript, lambda: engine.apply(target, options, deadline))  # success
    _attempt(transcript, lambda: engine.apply(target, options, deadline))  # no-op
    _attempt(
        transcript,
        lambda: engine.apply(target.with_credentials(target.user, wrong), options, deadline),
    )
    with Relay(target.port, mode=Mode.REFUSE) as refusing:  # retries are logged
        _attempt(
            transcript,
            lambda: engine.apply(
                replace(target, port=refusing.port),
                replace(options, connect_budget_s=1),
                deadline,
            ),
        )
    add_migration(options.sql_dir, "V902__broken.sql", "ALTER TABLE tenants ADD COLUMN;\n")
    _attempt(transcript, lambda: engine.apply(target, options, deadline))  # failing migration
    transcript.add(repr(target))
    codes = [
        _cli(
            transcript,
            database_url(target),
            options.sql_dir,
            "apply",
            "--json",
        ),
        _cli(
            transcript,
            database_url(target),
            options.sql_dir,
            "apply",
        ),
        _cli(
            transcript,
            database_url(target.with_credentials(target.user, wrong)),
            options.sql_dir,
            "apply",
            "--json",
        ),
        _cli(
            transcript,
            database_url(target),
            options.sql_dir,
            "status",
            "--json",
        ),
    ]
    # THEN the scenarios really ran (and failed where they should) ...
    assert codes == [1, 1, 1, 0]
    failures = [json.loads(t) for t in transcript.texts if t.startswith('{"ok": false')]
    assert {f["error"]["kind"] for f in failures} == {"MigrationFailedError", "AuthenticationError"}
    assert any("retrying in" in text for text in transcript.texts)
    # ... and no password appears anywhere in what they printed or logged
    assert transcript.leaks(target.database)  # the transcript holds what the runs said
    assert transcript.leaks(real, wrong) == []
