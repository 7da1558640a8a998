"""Structured JSON log lines carrying the request's identity, with known secrets masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MASK = "***"
# Attributes every LogRecord has; anything else came in through `extra=` and is logged as a field.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_fields: dict[str, str] = {}
_secrets: set[str] = set()
# crhelper logs the whole event (with ResponseURL) and the response URL at DEBUG.
QUIET_LOGGERS = ("crhelper", "boto", "boto3", "botocore", "urllib3")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request fields, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line, secrets masked."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        line |= _fields
        line |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            line["exception"] = mask(self.formatException(record.exc_info))
        return mask(json.dumps(line, default=str))


def level_from(name: str | None) -> int:
    """A logging level from its name (LOG_LEVEL); INFO when unset or unknown."""
    level = logging.getLevelName((name or "INFO").strip().upper())
    return level if isinstance(level, int) else logging.INFO


def configure(level: int) -> None:
    """JSON lines on every root handler (the Lambda runtime's); our loggers at `level`."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    package = logging.getLogger("db_init")
    package.setLevel(level)
    package.propagate = True  # through the root handlers, as the Lambda runtime expects
    # Why pinned: at DEBUG these print the event's ResponseURL and Secrets Manager responses.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, level))


def bind(**fields: str) -> None:
    """Fields added to every line until the next bind (one request at a time per container)."""
    _fields.clear()
    _fields.update(fields)
    _secrets.clear()


def redact(*values: str | None) -> None:
    """Mask these values wherever they would appear in a log line (backstop, not the plan)."""
    _secrets.update(v for v in values if v and len(v) >= 4)


def mask(text: str) -> str:
    """`text` with every registered secret replaced by ***."""
    for value in _secrets:
        text = text.replace(value, MASK)
    return text


def without_response_url(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as it may be logged: the presigned ResponseURL removed."""
    return {k: v for k, v in event.items() if k != "ResponseURL"}
