"""What the custom resource answers: Data attributes, the one-line Reason, the 4 KiB limit."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from db_init.engine import Result
from db_init.errors import DbInitError

MAX_REASON = 250
MAX_RESPONSE_BYTES = 4096  # CloudFormation rejects larger custom resource responses
_LABEL = re.compile(r"([VS])(\d+)")
FUTURE_PARTS = 8  # FutureVersions names at most this many versions or runs (plus the newest)


def data(result: Result) -> dict[str, str]:
    """Fn::GetAtt attributes; AppliedVersions lists the whole history, so duplicates agree."""
    version = result.schema_version
    return {
        "SchemaVersion": f"V{version:03d}" if version is not None else "",
        "AppliedVersions": ",".join(result.recorded),
        "TableCount": str(result.table_count),
        "TriggerCount": str(result.trigger_count),
        "Checksum": result.checksum,
        "DriftCount": str(result.drift_count),
        # recorded migrations newer than this build (a rollback, an older build): "" when none
        "FutureVersions": future_versions(result.future),
    }


def future_versions(labels: tuple[str, ...]) -> str:
    """`V004-V006,V009`; a long list keeps its first runs and its newest: `V004,...,V950`."""
    parts = _ranges(",".join(labels)).split(",") if labels else []
    if len(parts) <= FUTURE_PARTS:
        return ",".join(parts)
    return ",".join([*parts[: FUTURE_PARTS - 1], "...", parts[-1]])


def reason(error: BaseException, *, request_id: str) -> str:
    """`Kind [SQLSTATE]: message` in at most 250 characters."""
    if isinstance(error, DbInitError):
        text = error.one_line()
    else:  # a bug: its message is not vetted for secrets, so only its type is shown
        text = f"InternalError: {type(error).__name__}; see the function log, request {request_id}"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def fit(data: dict[str, str], envelope: Mapping[str, Any]) -> dict[str, str]:
    """`data`, with AppliedVersions shortened until the whole response body fits 4096 bytes."""
    labels = data.get("AppliedVersions", "")
    for candidate in (labels, _ranges(labels)):
        fitted = data | {"AppliedVersions": candidate}
        if size(envelope, fitted) <= MAX_RESPONSE_BYTES:
            return fitted
    parts = _ranges(labels).split(",")
    while parts:
        parts.pop()
        fitted = data | {"AppliedVersions": ",".join(parts) + ",..."}
        if size(envelope, fitted) <= MAX_RESPONSE_BYTES:
            return fitted
    return data | {"AppliedVersions": "..."}


def size(envelope: Mapping[str, Any], data: Mapping[str, str]) -> int:
    """Bytes of the response body as crhelper serialises it."""
    return len(json.dumps(dict(envelope) | {"Data": dict(data)}).encode())


def _ranges(labels: str) -> str:
    """`V001,V002,V003,S001` -> `V001-V003,S001`: runs of consecutive versions collapsed."""
    runs: list[list[tuple[str, int, str]]] = []
    for label in filter(None, labels.split(",")):
        match = _LABEL.fullmatch(label)
        if not match:
            runs.append([("", 0, label)])
            continue
        kind, number = match[1], int(match[2])
        last = runs[-1][-1] if runs else None
        if last and last[0] == kind and last[1] == number - 1:
            runs[-1].append((kind, number, label))
        else:
            runs.append([(kind, number, label)])
    return ",".join(r[0][2] if len(r) == 1 else f"{r[0][2]}-{r[-1][2]}" for r in runs)
