"""Baseline: adopt a database built without us, recording migrations up to V once proven equal."""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import Any

from db_init import drift, engine, ledger, scripts
from db_init.deadline import Deadline
from db_init.errors import BaselineRefusedError, HistoryError, SettingsError
from db_init.scripts import Kind
from db_init.settings import ApplyOptions, ConnectionSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaselineResult:
    """What a baseline recorded, or that the history already held it."""

    database: str
    version: int
    recorded: tuple[str, ...]  # labels this run recorded (V001, ...); empty when already done
    already_recorded: bool
    object_count: int  # objects compared with the migrations' catalog (0 when already done)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def adopt(
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
    version: int,
    *,
    scratch: drift.Scratch | None = None,
) -> BaselineResult:
    """Record migrations <= version as applied (duration 0, baseline) if the schema matches them.

    Idempotent: a history that already records them (and nothing contradicts) is a no-op, so
    the custom resource may pass the same BaselineVersion on every update.
    """
    scriptset = scripts.load(options.sql_dir)
    wanted = [m for m in scriptset.migrations if m.version <= version]
    if scriptset.migration(version) is None:
        raise SettingsError(f"no migration V{version:03d} in {options.sql_dir}/migrations")
    session = drift.open_session(target, options, deadline)
    with closing(session), ledger.locked(session, deadline=deadline, wait_s=deadline.remaining()):
        history = ledger.read(session)
        engine.plan_scripts(scriptset, history, with_seeds=False)  # refuses changed/missing files
        recorded = {e.version for e in history if e.kind is Kind.MIGRATION}
        if recorded:
            if all(m.version in recorded for m in wanted):
                log.info("%s already records V001..V%03d: nothing to do", target.database, version)
                return BaselineResult(target.database, version, (), True, 0)
            raise HistoryError(
                f"{target.database} already records migrations up to V{max(recorded):03d} but "
                f"not all up to V{version:03d}; baseline only adopts databases without history"
            )
        report = drift.compare_live(
            session, scriptset, options, deadline, up_to=version, scratch=scratch
        )
        if report.differences:
            raise _refusal(target.database, version, [str(d) for d in report.differences])
        with session.transaction():
            ledger.ensure(session)
            ledger.record(
                session,
                *(
                    ledger.Applied(script, 0, engine.allow_markers(script), baseline=True)
                    for script in wanted
                ),
            )
    labels = tuple(m.label for m in wanted)
    log.info("baseline: recorded %s as applied in %s", " ".join(labels), target.database)
    return BaselineResult(target.database, version, labels, False, report.object_count)


def _refusal(database: str, version: int, differences: list[str]) -> BaselineRefusedError:
    shown = "; ".join(differences[:3])
    more = f" (+{len(differences) - 3} more)" if len(differences) > 3 else ""
    return BaselineRefusedError(
        f"{database} does not match the migrations up to V{version:03d}: {shown}{more}; "
        "nothing was recorded -- make the schema match (or baseline an earlier version)",
        differences=differences,
    )
