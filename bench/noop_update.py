"""A no-op Update (nothing pending, verify only) end to end vs a plain SELECT 1 round trip.

End to end = the CloudFormation simulator invoking the handler in-process: properties, the
secret from an in-process Secrets Manager (moto), preflight (DNS, TCP), connect, lock, history,
verify, and the HTTPS PUT of the response. Also engine.apply alone. Target: <= 50 ms.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from bench.local_server import SQL_DIR, create_database, median, percentile, throwaway_server
from db_init import engine
from db_init.db import connect_once
from db_init.deadline import Deadline
from db_init.scripts import sql_tree_checksum
from db_init.settings import ApplyOptions, ConnectionSettings

ROUNDS = 30
OPTIONS = ApplyOptions(sql_dir=SQL_DIR, apply_seeds=True)


def timed(action: Callable[[], object], rounds: int = ROUNDS) -> list[float]:
    """Seconds per call of `action`, `rounds` times."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def through_handler(target: ConnectionSettings) -> list[float] | str:
    """No-op Updates through the handler and the CloudFormation simulator (or why not)."""
    try:
        from db_init.handler import SchemaResource  # noqa: PLC0415 - optional: handler issue
        from db_init.simulator import (  # noqa: PLC0415
            CloudFormation,
            ResponseReceiver,
            offline_aws,
            put_secret,
        )
    except ImportError as error:
        return f"handler or simulator not available ({error})"
    secret = json.dumps(
        {
            "username": target.user,
            "password": target.password,
            "engine": "postgres",
            "host": target.host,
            "port": target.port,
        }
    )
    with offline_aws(), tempfile.TemporaryDirectory() as workdir:
        properties = {
            "SecretArn": put_secret("shoppulse/bench", secret),
            "DatabaseName": target.database,
            "Host": target.host,
            "Port": str(target.port),
            "ApplySeeds": "true",
            "SqlChecksum": sql_tree_checksum(SQL_DIR),
            "RequireTls": "false",  # the bench server is plaintext on loopback
        }
        with ResponseReceiver(Path(workdir)) as receiver:
            resource = SchemaResource(sql_dir=SQL_DIR, log_level=logging.WARNING)
            cfn = CloudFormation(resource, receiver)
            physical_id = cfn.create(properties).physical_id
            seconds = []
            for _ in range(ROUNDS):
                response = cfn.update(physical_id, properties, properties)
                assert response.status == "SUCCESS", response.reason
                seconds.append(response.seconds)
    return seconds


def main() -> None:
    """Measure and print."""
    with throwaway_server() as (_, admin):
        target = create_database(admin, "bench_noop")
        engine.apply(target, OPTIONS, Deadline.never())

        def select_one_new_connection() -> None:
            with closing(connect_once(target, operation_timeout_s=10)) as session:
                session.query("SELECT 1")

        with closing(connect_once(target, operation_timeout_s=10)) as open_session:
            on_open = timed(lambda: open_session.query("SELECT 1"))
        fresh = timed(select_one_new_connection)
        noop = timed(lambda: engine.apply(target, OPTIONS, Deadline.never()))
        handler = through_handler(target)

    def row(name: str, seconds: list[float]) -> str:
        return (
            f"{name:44} median {median(seconds) * 1000:7.2f} ms   "
            f"p90 {percentile(seconds, 0.9) * 1000:7.2f} ms"
        )

    print(f"noop_update: {ROUNDS} rounds each")
    print(row("SELECT 1 on an open connection", on_open))
    print(row("SELECT 1 on a new connection (connect+auth)", fresh))
    print(row("engine.apply, nothing pending (verify only)", noop))
    if isinstance(handler, str):
        print(f"handler end to end: skipped: {handler}")
    else:
        print(row("no-op Update through handler + simulator", handler))
        print(
            f"RATIO noop_update (handler no-op Update / SELECT 1 on a new connection): "
            f"{median(handler) / median(fresh):.1f}x; absolute {median(handler) * 1000:.1f} ms "
            "(target <= 50 ms)"
        )
    print(
        f"RATIO noop_update (engine.apply no-op / SELECT 1 on a new connection): "
        f"{median(noop) / median(fresh):.1f}x; absolute {median(noop) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
