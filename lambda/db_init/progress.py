"""Progress of a long statement: elapsed time and, for index builds, PostgreSQL's progress view."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from db_init.db import Session, connect_once
from db_init.errors import DbInitError

log = logging.getLogger(__name__)

FIRST_REPORT_S = 3.0  # a statement quicker than this says nothing
EVERY_S = 5.0

_INDEX_PROGRESS = """
SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total
FROM pg_stat_progress_create_index WHERE pid = :pid"""
_ACTIVITY = """
SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 60) FROM pg_stat_activity WHERE pid = :pid"""


@contextmanager
def reporting(session: Session, where: str) -> Iterator[None]:
    """While the block runs, log every few seconds how long `where` has been running."""
    pid = session.backend_pid
    if pid is None:
        yield
        return
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(session, pid, where, done), name="progress", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=2)


def _watch(session: Session, pid: int, where: str, done: threading.Event) -> None:
    started = time.monotonic()
    if done.wait(FIRST_REPORT_S):
        return
    monitor: Session | None = None
    try:
        monitor = connect_once(session.settings, operation_timeout_s=5)
    except DbInitError as error:  # progress is a courtesy: the statement goes on without it
        log.debug("progress: no monitor connection (%s)", error.one_line())
    try:
        while not done.is_set():
            elapsed = time.monotonic() - started
            log.info("still running %s (%.0fs)%s", where, elapsed, _detail(monitor, pid))
            if done.wait(EVERY_S):
                return
    finally:
        if monitor is not None:
            monitor.close()


def _detail(monitor: Session | None, pid: int) -> str:
    if monitor is None:
        return ""
    try:
        index = monitor.query(_INDEX_PROGRESS, pid=pid)
        if index:
            phase, blocks_done, blocks_total, tuples_done, tuples_total = index[0]
            share = f", {100 * blocks_done // blocks_total}% of blocks" if blocks_total else ""
            tuples = f", {tuples_done:,}/{tuples_total:,} tuples" if tuples_total else ""
            return f": index build {phase}{share}{tuples}"
        activity = monitor.query(_ACTIVITY, pid=pid)
    except DbInitError:
        return ""
    return f": {activity[0][0]}" if activity and activity[0][0] else ""
