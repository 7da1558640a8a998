"""Expected catalogs kept on disk by key, so one sql/ tree is built in a scratch database once."""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from pathlib import Path

from db_init.catalog import Catalog, Entry

log = logging.getLogger(__name__)


def directory() -> Path:
    """Our private cache directory under the temporary directory (/tmp in the Lambda)."""
    return Path(tempfile.gettempdir()) / f"shoppulse-catalog-{os.getuid()}"


def load(key: str) -> Catalog | None:
    """The catalog stored under `key`, or None (absent, unreadable, or not safely ours)."""
    path = directory() / f"{key}.json"
    if not _private(path.parent):
        return None
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return {(str(k), str(n)): Entry(str(o), str(d)) for k, n, o, d in rows}
    except (OSError, ValueError, TypeError):
        return None


def store(key: str, catalog: Catalog) -> None:
    """Keep `catalog` under `key` where the directory is writable; otherwise do without."""
    folder = directory()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if not _private(folder):
            return
        rows = [[k, n, e.owner, e.definition] for (k, n), e in sorted(catalog.items())]
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(rows, out)
        os.replace(temporary, folder / f"{key}.json")  # readers never see half a file
    except OSError as error:
        log.debug("expected catalog not cached: %s", error)


def _private(folder: Path) -> bool:
    """Only a directory we own and no one else may write is trusted: its content is our verdict."""
    try:
        info = folder.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
