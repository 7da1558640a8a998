"""Plan, apply and verify migrations and seeds; knows nothing of CloudFormation or AWS."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from db_init import (
    ahead,
    drift,
    error_lines,
    failure_notes,
    invalid_index,
    ledger,
    lint,
    progress,
    roles,
    scripts,
    verify,
)
from db_init.db import (
    Session,
    StatementFailedError,
    as_error,
    connect,
    quote_identifier,
    server_error,
    with_timeouts,
)
from db_init.deadline import Deadline
from db_init.errors import (
    ChecksumMismatchError,
    ConnectError,
    DbInitError,
    DeadlineExceededError,
    DriftConflictError,
    HistoryError,
    MigrationFailedError,
    MissingMigrationError,
    SqlError,
    VerificationFailedError,
)
from db_init.scripts import Kind, Script, ScriptSet
from db_init.settings import ApplyOptions, ConnectionSettings

log = logging.getLogger(__name__)

_INVALID_CATALOG = "3D000"
# A concurrent CREATE DATABASE loses with 42P04, or with 23505 when both pass the name check.
_DATABASE_EXISTS = {"42P04", "23505"}
DRIFT_BUDGET_S = 120.0  # interactive runs (no deadline): at most this long for the drift check
_ADVICE = {
    "55P03": "another session holds a conflicting lock; retry when it is idle or raise "
    "the lock timeout",
    "57014": "the statement ran past the statement timeout; raise it or make the migration cheaper",
    "42501": "the database user lacks a privilege this migration needs",
    "55P04": "a value added by ALTER TYPE ... ADD VALUE is usable only once its transaction "
    "commits: use it in a later file (the run commits after each file that adds enum values)",
    "25001": "this statement cannot run inside a transaction: put it alone in a file whose "
    "first line is `-- shoppulse:non-transactional`",
}


@dataclass(frozen=True)
class AppliedScript:
    """A script this run applied (or rehearsed, in a dry run)."""

    kind: str
    version: int
    script: str
    duration_ms: int


@dataclass(frozen=True)
class Result:
    """What a run did and found; the CLI prints it and the custom resource returns it."""

    database: str
    dry_run: bool
    applied: tuple[AppliedScript, ...]
    pending: tuple[str, ...]
    schema_version: int | None
    table_count: int
    trigger_count: int
    checksum: str
    recorded: tuple[str, ...] = ()  # every label (V001, S001) in the history after the run
    # objects that differ from what the migrations make: the deep comparison when migrations were
    # pending on a database with history, otherwise the undeclared objects verification found
    drift_count: int = 0
    undeclared: tuple[str, ...] = ()
    not_rehearsed: tuple[str, ...] = ()
    timings_ms: dict[str, int] = field(default_factory=dict)
    future: tuple[str, ...] = ()  # recorded migrations newer than the bundle (V004, ...)

    @property
    def applied_versions(self) -> list[str]:
        """Labels (V001, S002) of what this run applied, in order."""
        return [_label(a.kind, a.version) for a in self.applied]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"applied_versions": self.applied_versions}


@dataclass(frozen=True)
class StatusRow:
    """One migration or seed with its state in this database."""

    kind: str
    version: int
    script: str
    state: str  # applied | pending | changed | missing | future
    applied_at: str | None
    checksum: str = ""  # of the file; the recorded one for a missing file
    recorded_checksum: str | None = None
    duration_ms: int | None = None
    applied_by: str | None = None
    baseline: bool = False


def _label(kind: str, version: int) -> str:
    return f"{'V' if kind == Kind.MIGRATION.value else 'S'}{version:03d}"


def _recorded(history: list[ledger.Entry], applied: list[AppliedScript]) -> tuple[str, ...]:
    keys = {(e.kind.value, e.version) for e in history} | {(a.kind, a.version) for a in applied}
    return tuple(_label(k, v) for k, v in sorted(keys))


class _Timer:
    def __init__(self) -> None:
        self.marks: dict[str, int] = {}
        self._start = time.monotonic()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.marks[name] = round((time.monotonic() - started) * 1000)

    def total(self) -> dict[str, int]:
        return self.marks | {"total": round((time.monotonic() - self._start) * 1000)}


def plan_scripts(
    scriptset: ScriptSet, history: list[ledger.Entry], *, with_seeds: bool
) -> list[Script]:
    """Pending scripts in order; refuses a missing, changed or out-of-order migration."""
    # Future migrations (the bundle is a prefix of the history) are not refused here:
    # callers decide with ahead.enforce whether a database ahead of the bundle may be used.
    history = ahead.known(scriptset, history)
    applied = {e.version: e for e in history if e.kind is Kind.MIGRATION}
    for version, entry in sorted(applied.items()):
        script = scriptset.migration(version)
        if script is None:
            raise MissingMigrationError(
                f"migrations/{entry.script} was applied on {entry.applied_at:%Y-%m-%d} but the "
                "file is gone; restore it (applied migrations are never deleted)"
            )
        if script.checksum != entry.checksum:
            raise ChecksumMismatchError(
                f"migrations/{script.name} changed after it was applied: recorded sha256 "
                f"{entry.checksum[:12]}, file now {script.checksum[:12]}; revert the edit and "
                "put the change in a new migration"
            )
    pending = [m for m in scriptset.migrations if m.version not in applied]
    if pending and applied and pending[0].version < max(applied):
        raise HistoryError(
            f"migrations/{pending[0].name} is older than the newest applied migration "
            f"V{max(applied):03d}; renumber it above V{max(applied):03d}"
        )
    seeded = {e.version: e.checksum for e in history if e.kind is Kind.SEED}
    seeds = (
        [s for s in scriptset.seeds if seeded.get(s.version) != s.checksum] if with_seeds else []
    )
    return pending + seeds


def apply(target: ConnectionSettings, options: ApplyOptions, deadline: Deadline) -> Result:
    """Apply pending migrations (+ seeds), verify, and commit only if everything succeeded."""
    timer = _Timer()
    scriptset = scripts.load(options.sql_dir)
    expected = verify.load_expectations(options.sql_dir)
    with timer.phase("connect"):
        session = _session(target, options, deadline)
    with closing(session), ledger.locked(session, deadline=deadline, wait_s=deadline.remaining()):
        history = ledger.read(session)
        pending, future = _plan_over(
            target, scriptset, history, options, with_seeds=options.apply_seeds
        )
        # Before anything is written: refuse pending migrations with unallowed lint findings.
        if any(s.kind is Kind.MIGRATION for s in pending):
            with timer.phase("lint"):
                findings = lint_reports(scriptset, pending=pending, options=options)
            if findings is not None:
                lint.refuse_unallowed(findings, names={s.name for s in pending})
            with timer.phase("drift"):
                drift_count = _check_drift(
                    session,
                    scriptset,
                    history,
                    pending,
                    target=target,
                    options=options,
                    deadline=deadline,
                )
        else:
            drift_count = None
        log.info(
            "%d script(s) pending in %s%s",
            len(pending),
            target.database,
            " (dry run: everything is rolled back)" if options.dry_run else "",
        )
        applied: list[AppliedScript]
        skipped: list[str]
        with timer.phase("apply"):
            if future:
                applied, skipped = [], []
                report = _verify_ahead(session, expected, options)
            else:
                try:
                    applied, report, skipped = _run(session, pending, expected, options, deadline)
                except DbInitError as error:  # say what this run kept, read back from the history
                    raise failure_notes.explain(error, session, history, pending) from None
    version = max(
        [e.version for e in history if e.kind is Kind.MIGRATION]
        + [a.version for a in applied if a.kind == Kind.MIGRATION.value],
        default=None,
    )
    for extra in () if future else report.extras:  # future migrations made the others
        log.warning("verification: %s (not in sql/%s)", extra, verify.EXPECTATIONS_FILE)
    if future:
        drift_count = len(report.problems)
    return Result(
        database=target.database,
        dry_run=options.dry_run,
        applied=tuple(applied),
        pending=tuple(s.name for s in pending) if options.dry_run else (),
        schema_version=version,
        table_count=report.table_count,
        trigger_count=report.trigger_count,
        checksum=scriptset.checksum,
        recorded=() if options.dry_run else _recorded(history, applied),
        drift_count=len(report.extras) if drift_count is None else drift_count,
        undeclared=tuple(report.extras),
        not_rehearsed=tuple(skipped),
        timings_ms=timer.total(),
        future=ahead.labels(future),
    )


def _check_drift(
    session: Session,
    scriptset: ScriptSet,
    history: list[ledger.Entry],
    pending: list[Script],
    *,
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
) -> int | None:
    """Compare the database with the migrations it recorded before pending ones change it."""
    if options.on_drift == "off" or not any(e.kind is Kind.MIGRATION for e in history):
        return None  # nothing recorded yet: nothing to drift from
    # The scratch build may take a share of the budget, never the time the migrations need.
    budget = Deadline(min(deadline.at, time.monotonic() + max(1.0, deadline.remaining() * 0.25)))
    if budget.at == float("inf"):
        budget = Deadline.after(DRIFT_BUDGET_S)
    log.info("drift gate: building the recorded migrations in a scratch database to compare")
    try:
        report = drift.compare_live(
            session,
            scriptset,
            options,
            budget,
            scratch=drift.existing_server(target),
        )
    except DbInitError as error:  # no CREATEDB for the scratch copy, or its budget ran out
        if options.on_drift == "fail":
            raise
        log.warning("drift not checked: %s", error.one_line())
        return None
    for difference in report.differences:
        log.warning("drift: %s", difference)
    conflicts = drift.owners_named_in(report, [s for s in pending if s.kind is Kind.MIGRATION])
    if conflicts and options.on_drift == "fail":
        shown = "; ".join(str(d) for d in conflicts[:2])
        more = f" (+{len(conflicts) - 2} more)" if len(conflicts) > 2 else ""
        raise DriftConflictError(
            f"live schema drifted on what pending migrations alter: {shown}{more}; nothing was "
            "applied -- undo the manual change (see `shoppulse-db drift`) or set OnDrift to warn"
        )
    return report.drift_count


def _plan_over(
    target: ConnectionSettings,
    scriptset: ScriptSet,
    history: list[ledger.Entry],
    options: ApplyOptions,
    *,
    with_seeds: bool,
) -> tuple[list[Script], tuple[ledger.Entry, ...]]:
    """Pending scripts and the future migrations; refuses those under OnFutureMigrations=fail."""
    future = ahead.future_entries(scriptset, history)
    ahead.enforce(target.database, scriptset, future, policy=options.on_future)
    pending = plan_scripts(scriptset, history, with_seeds=with_seeds)
    # Over a newer schema nothing of this older build runs (hold_back names what it skips).
    return (ahead.hold_back(pending) if future else pending), future


def lint_reports(
    scriptset: ScriptSet, *, pending: list[Script], options: ApplyOptions
) -> list[lint.FileReport] | None:
    """Lint every migration (later files see earlier ones); None where pglast is absent.

    Tables that a migration pending in this run creates are new to the lint (a first deploy
    is not refused for indexing its own tables). The Lambda bundle has no pglast: there the
    lint that ran at synth time over the same bytes stands in for this one.
    """
    if not lint.available():
        log.debug("pglast not installed: relying on the lint that ran at synth time")
        return None
    names = frozenset(s.name for s in pending if s.kind is Kind.MIGRATION)
    context = lint.RunContext(pending=names)
    return lint.lint_texts(
        ((m.path, m.text) for m in scriptset.migrations), settings=options.lint, context=context
    )


def plan(target: ConnectionSettings, options: ApplyOptions, deadline: Deadline) -> list[Script]:
    """What `apply` would run, in order, without changing anything (refuses like apply)."""
    scriptset = scripts.load(options.sql_dir)
    try:
        session = _session(target, options, deadline, create=False)
    except SqlError as error:
        if error.sqlstate != _INVALID_CATALOG:
            raise
        return plan_scripts(scriptset, [], with_seeds=options.apply_seeds)
    with closing(session):
        history = ledger.read(session)
    pending, _ = _plan_over(target, scriptset, history, options, with_seeds=options.apply_seeds)
    return pending


def check(target: ConnectionSettings, options: ApplyOptions, deadline: Deadline) -> Result:
    """Verify only: history consistent, nothing pending, schema as declared; changes nothing."""
    timer = _Timer()
    scriptset = scripts.load(options.sql_dir)
    expected = verify.load_expectations(options.sql_dir)
    with timer.phase("connect"):
        session = _session(target, options, deadline, create=False)
    with closing(session):
        history = ledger.read(session)
        pending, future = _plan_over(target, scriptset, history, options, with_seeds=False)
        report = verify.check(session, expected, subset=bool(future))
    problems = [f"{s.name} not applied" for s in pending] + report.problems
    if problems:
        raise VerificationFailedError(problems)
    versions = [e.version for e in history if e.kind is Kind.MIGRATION]
    return Result(
        database=target.database,
        dry_run=True,
        applied=(),
        pending=(),
        schema_version=max(versions, default=None),
        table_count=report.table_count,
        trigger_count=report.trigger_count,
        checksum=scriptset.checksum,
        recorded=_recorded(history, []),
        undeclared=tuple(report.extras),
        timings_ms=timer.total(),
        future=ahead.labels(future),
    )


def status(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline
) -> list[StatusRow]:
    """Every known script with its state, without refusing on drift (that is what it shows)."""
    scriptset = scripts.load(options.sql_dir)
    with closing(_session(target, options, deadline, create=False)) as session:
        entries = ledger.read(session)
        details = ledger.details(session)
    future = {e.version for e in ahead.future_entries(scriptset, entries)}
    history = {(e.kind, e.version): e for e in entries}
    rows: list[StatusRow] = []
    for script in scriptset.migrations + scriptset.seeds:
        key = (script.kind, script.version)
        entry = history.pop(key, None)
        state = (
            "pending"
            if entry is None
            else ("applied" if entry.checksum == script.checksum else "changed")
        )
        at = entry.applied_at.isoformat(timespec="seconds") if entry else None
        rows.append(
            _with_detail(
                StatusRow(script.kind.value, script.version, script.name, state, at),
                script.checksum,
                details.get(key),
            )
        )
    for (kind, version), entry in sorted(
        history.items(), key=lambda kv: (kv[0][0].value, kv[0][1])
    ):
        at = entry.applied_at.isoformat(timespec="seconds")
        state = "future" if kind is Kind.MIGRATION and version in future else "missing"
        row = StatusRow(kind.value, version, entry.script, state, at)
        rows.append(_with_detail(row, entry.checksum, details.get((kind, version))))
    return rows


def _with_detail(row: StatusRow, checksum: str, detail: ledger.Detail | None) -> StatusRow:
    if detail is None:
        return replace(row, checksum=checksum)
    return replace(
        row,
        checksum=checksum,
        recorded_checksum=detail.checksum,
        duration_ms=detail.duration_ms,
        applied_by=detail.applied_by,
        baseline=detail.baseline,
    )


def _session(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline, *, create: bool = True
) -> Session:
    """A connected session with our lock and statement timeouts (creates the database if asked)."""
    return with_timeouts(
        _open(target, options, deadline, create=create),
        lock_timeout_ms=options.lock_timeout_ms,
        statement_timeout_ms=deadline.cap_ms(options.statement_timeout_ms),
    )


def _open(
    target: ConnectionSettings, options: ApplyOptions, deadline: Deadline, *, create: bool
) -> Session:
    operation_timeout = options.statement_timeout_ms / 1000 + 30
    try:
        return connect(
            target,
            deadline=deadline,
            retry_budget_s=options.connect_budget_s,
            operation_timeout_s=operation_timeout,
        )
    except SqlError as error:
        if error.sqlstate != _INVALID_CATALOG or not create:
            raise
    _create_database(target, options, deadline)
    return connect(
        target,
        deadline=deadline,
        retry_budget_s=options.connect_budget_s,
        operation_timeout_s=operation_timeout,
    )


def _create_database(target: ConnectionSettings, options: ApplyOptions, deadline: Deadline) -> None:
    """CREATE DATABASE outside any transaction; a concurrent creator winning is fine."""
    if options.dry_run:
        raise SqlError(
            f'database "{target.database}" does not exist (a dry run does not create it)',
            sqlstate=_INVALID_CATALOG,
            where=None,
        )
    maintenance = connect(
        target.with_database(target.maintenance_database),
        deadline=deadline,
        retry_budget_s=options.connect_budget_s,
    )
    try:
        log.info("creating database %s", target.database)
        maintenance.query(f"CREATE DATABASE {quote_identifier(target.database)}")
    except SqlError as error:
        if error.sqlstate == "42501":
            raise SqlError(
                f'database "{target.database}" does not exist and {target.user} may not create '
                "it: create it first, or grant CREATEDB",
                sqlstate=error.sqlstate,
                where=None,
            ) from None
        if error.sqlstate not in _DATABASE_EXISTS:
            raise
    finally:
        maintenance.close()


def _run(
    session: Session,
    pending: list[Script],
    expected: verify.SchemaShape,
    options: ApplyOptions,
    deadline: Deadline,
) -> tuple[list[AppliedScript], verify.Report, list[str]]:
    """Run pending scripts in transactional batches; verification ends the last batch."""
    applied: list[AppliedScript] = []
    skipped: list[str] = []
    batch: list[Script] = []
    for script in pending:
        if options.dry_run and any(earlier.adds_enum_values for earlier in batch):
            skipped.append(script.name)  # it may use enum values a rehearsal cannot commit
            continue
        if script.transactional:
            batch.append(script)
            if not script.adds_enum_values or options.dry_run or script is pending[-1]:
                continue
            # Later files may use the new enum values only once they are committed (55P04).
            _batch(
                session, batch, expected=None, options=options, deadline=deadline, applied=applied
            )
            batch = []
            continue
        if options.dry_run:
            skipped.append(script.name)
            continue
        # Everything before a non-transactional migration is committed first; it then runs alone.
        _batch(session, batch, expected=None, options=options, deadline=deadline, applied=applied)
        batch = []
        applied.append(_run_alone(session, script, options, deadline, kept=_kept(applied)))
    report = _batch(
        session,
        batch,
        expected=expected,
        options=options,
        deadline=deadline,
        applied=applied,
        rehearse=bool(skipped),
    )
    assert report is not None
    return applied, report, skipped


def _verify_ahead(
    session: Session, expected: verify.SchemaShape, options: ApplyOptions
) -> verify.Report:
    """Nothing to apply over a newer schema: verify what this build declares, as a subset."""
    # A declared object the future migrations changed only warns: failing cannot undo them,
    # and it would leave a rollback stuck in UPDATE_ROLLBACK_FAILED.
    with session.transaction(commit=not options.dry_run):
        roles.set_passwords(session, options.role_passwords)
        report = verify.check(session, expected, subset=True)
    for problem in report.problems:
        log.warning("verification (database ahead of this build): %s", problem)
    return report


def _kept(applied: list[AppliedScript]) -> tuple[str, ...]:
    """Labels committed earlier in this run (a later failure does not undo them)."""
    return tuple(_label(a.kind, a.version) for a in applied)


def _not_committed(
    kept: tuple[str, ...], *, none: str = "nothing from this run was committed"
) -> str:
    """What a failure leaves, said exactly: earlier commits of this run stay."""
    if not kept:
        return none
    return f"{failure_notes.KEPT} {' '.join(kept)}"


def _batch(
    session: Session,
    batch: list[Script],
    *,
    expected: verify.SchemaShape | None,
    options: ApplyOptions,
    deadline: Deadline,
    applied: list[AppliedScript],
    rehearse: bool = False,
) -> verify.Report | None:
    """One transaction: the batch, then (for the last batch) verification, then commit."""
    if not batch and expected is None:
        return None
    report: verify.Report | None = None
    kept = _kept(applied)
    with session.transaction(commit=not options.dry_run):
        ledger.ensure(session)
        done: list[ledger.Applied] = []
        for script in batch:
            if deadline.at != float("inf"):  # keep each script inside the time budget
                timeout_ms = deadline.cap_ms(options.statement_timeout_ms)
                session.query(f"SET LOCAL statement_timeout = {timeout_ms}")
            done.append(_run_script(session, script, deadline, kept=kept))
        ledger.record(session, *done)
        applied.extend(_applied(item) for item in done)
        if expected is not None:
            roles.set_passwords(session, options.role_passwords)
            deadline.check("verifying the schema")
            report = verify.check(session, expected)
            if report.problems and not rehearse:
                raise VerificationFailedError(report.problems, kept=kept)
    return report


def _run_alone(
    session: Session,
    script: Script,
    options: ApplyOptions,
    deadline: Deadline,
    *,
    kept: tuple[str, ...],
) -> AppliedScript:
    """A non-transactional migration: its single statement in autocommit, then its record."""
    with session.transaction():
        ledger.ensure(session)
    session.query(f"SET statement_timeout = {deadline.cap_ms(options.statement_timeout_ms)}")
    before = invalid_index.invalid(session)
    try:
        done = _run_script(session, script, deadline, kept=kept)
    except DbInitError as error:
        # A failed CREATE INDEX CONCURRENTLY leaves an INVALID index that blocks the retry.
        note = invalid_index.drop_new(session, before)
        raise (failure_notes.with_note(error, note) if note else error) from None
    finally:
        session.query(f"SET statement_timeout = {deadline.cap_ms(options.statement_timeout_ms)}")
    ledger.record(session, done)
    return _applied(done)


def _applied(item: ledger.Applied) -> AppliedScript:
    script = item.script
    return AppliedScript(script.kind.value, script.version, script.name, item.duration_ms)


def _run_script(
    session: Session, script: Script, deadline: Deadline, *, kept: tuple[str, ...] = ()
) -> ledger.Applied:
    """Run one file's statements (pipelined); the caller records it in the same transaction."""
    where = f"{script.path.parent.name}/{script.name}"
    deadline.check(f"applying {where}")
    log.info("applying %s", where, extra={"script": script.name})
    started = time.monotonic()
    try:
        with progress.reporting(session, where):
            session.execute_pipelined(
                [statement.sql for statement in script.statements],
                copy_rows={
                    index: statement.copy_data
                    for index, statement in enumerate(script.statements)
                    if statement.copy_data is not None
                },
            )
    except StatementFailedError as failed:
        statement = script.statements[failed.index]
        raise _statement_failure(
            failed.error, script, statement, where, deadline, kept=kept
        ) from failed.error
    duration_ms = round((time.monotonic() - started) * 1000)
    log.info("applied %s in %d ms", where, duration_ms, extra={"duration_ms": duration_ms})
    return ledger.Applied(script, duration_ms, allow_markers(script))


def allow_markers(script: Script) -> list[dict[str, Any]]:
    """The file's lint allow markers (rule, reason, line), as recorded in the history."""
    if script.kind is not Kind.MIGRATION:
        return []
    return [asdict(a) for a in lint.allowances(script.text)]


def _statement_failure(
    error: BaseException,
    script: Script,
    statement: scripts.Statement,
    where: str,
    deadline: Deadline,
    *,
    kept: tuple[str, ...] = (),
) -> Exception:
    fields = server_error(error)
    if fields is None:
        mapped = as_error(error)
        left = _not_committed(kept, none="nothing was committed")
        return ConnectError(f"{where}:{statement.line}: {mapped}; {left}")
    location = error_lines.locate(script, statement, fields)
    if fields.sqlstate == "57014" and deadline.remaining() < 1:
        return DeadlineExceededError(
            f"{where}:{location.line}: stopped at the time budget; {_not_committed(kept)}"
        )
    advice = _ADVICE.get(fields.sqlstate or "", "fix the file")
    if fields.sqlstate == "57014" and "user request" in fields.message:
        advice = "cancelled (Ctrl-C)"
    return MigrationFailedError(
        f"{fields.summary(context=location.context)}; {advice}; {_not_committed(kept)}",
        sqlstate=fields.sqlstate,
        where=f"{where}:{location.line}",
        server_fields=fields.fields,
    )
