"""The small error tree: every failure a user can meet, each with a one-line message."""

from __future__ import annotations

from enum import Enum


class Outcome(Enum):
    """How a failure ends a run; the CLI maps these to exit codes."""

    FAILED = "failed"  # the work was attempted and did not succeed; nothing was kept
    REFUSED = "refused"  # the inputs are unsafe to apply; nothing was attempted
    USAGE = "usage"  # the request itself is malformed (flags, properties, settings)


class DbInitError(Exception):
    """Base of every error this package raises on purpose; str() is one line, without secrets."""

    outcome = Outcome.FAILED
    sqlstate: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def kind(self) -> str:
        """The class name, which starts every CloudFormation Reason."""
        return type(self).__name__

    def server_fields(self) -> dict[str, str]:
        """PostgreSQL's error fields by name (detail, hint, context, ...), in full; {} if none."""
        return {}

    def one_line(self) -> str:
        """`Kind [SQLSTATE]: message` on one line."""
        state = f" [{self.sqlstate}]" if self.sqlstate else ""
        return f"{self.kind}{state}: {self}"


class SettingsError(DbInitError):
    """A property, flag, URL or environment setting is missing or invalid."""

    outcome = Outcome.USAGE


class ScriptError(DbInitError):
    """A SQL file is misnamed, duplicated or unsafe to run as written."""

    outcome = Outcome.REFUSED


class NonTransactionalStatementError(ScriptError):
    """A statement that cannot run inside a transaction sits in an unmarked file."""


class LintError(ScriptError):
    """A pending migration has a destructive-change finding that no allow marker covers."""


class HistoryError(DbInitError):
    """The applied history does not match the migration files any more."""

    outcome = Outcome.REFUSED


class ChecksumMismatchError(HistoryError):
    """An applied migration file was edited after it was applied."""


class MissingMigrationError(HistoryError):
    """An applied migration file is no longer present."""


class BaselineRefusedError(HistoryError):
    """The live schema does not match the migrations a baseline would record as applied."""

    def __init__(self, message: str, *, differences: list[str]) -> None:
        self.differences = differences
        super().__init__(message)


class FutureMigrationsError(HistoryError):
    """The database records migrations newer than this build has (OnFutureMigrations=fail)."""


class DriftConflictError(HistoryError):
    """The live schema drifted on objects that a pending migration alters (OnDrift=fail)."""


class FileAccessError(DbInitError):
    """A file or directory the user named cannot be read or written."""


class CredentialsError(DbInitError):
    """The database secret could not be read or is malformed."""


class ConnectError(DbInitError):
    """The server could not be reached, or the TLS handshake failed."""


class TlsError(ConnectError):
    """The TLS handshake failed (certificate, host name, or no TLS offered): not retried."""


class AuthenticationError(ConnectError):
    """The server rejected the user name or password."""

    sqlstate = "28P01"


class CancelledError(DbInitError):
    """The run was cancelled (Ctrl-C): the statement in flight was cancelled, no more are sent."""


class LockBusyError(DbInitError):
    """Another applier holds the migration lock for longer than we may wait."""


class DeadlineExceededError(DbInitError):
    """The run's time budget ran out; the open transaction was rolled back."""


class SqlError(DbInitError):
    """PostgreSQL rejected a statement; names the file, line and SQLSTATE."""

    def __init__(
        self,
        message: str,
        *,
        sqlstate: str | None,
        where: str | None,
        server_fields: dict[str, str] | None = None,
    ) -> None:
        self.sqlstate = sqlstate
        self.where = where
        self._server_fields = dict(server_fields or {})
        super().__init__(f"{where}: {message}" if where else message)

    def server_fields(self) -> dict[str, str]:
        """Every ErrorResponse field by name, in full (the one-line message shortens CONTEXT)."""
        return dict(self._server_fields)


class MigrationFailedError(SqlError):
    """A migration or seed statement failed; the transaction was rolled back."""


class VerificationFailedError(DbInitError):
    """The schema after applying does not match the declared expectations."""

    def __init__(self, problems: list[str], *, kept: tuple[str, ...] = ()) -> None:
        self.problems = problems
        shown = "; ".join(problems[:3])
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        # the same words as failure_notes.KEPT (errors.py imports nothing of the engine)
        committed = (
            f"committed by this run and kept: {' '.join(kept)}"
            if kept
            else ("nothing was committed")
        )
        super().__init__(
            f"schema does not match sql/expected_schema.toml: {shown}{more}; "
            f"{committed} -- fix the migration or the expectations"
        )


class PreflightError(ConnectError):
    """DNS, TCP or TLS to the database endpoint failed before any credentials were sent."""

    def __init__(self, step: str, message: str) -> None:
        self.step = step
        super().__init__(f"{step}: {message}")


class StaleAssetError(DbInitError):
    """The bundled sql/ is not the tree the template's SqlChecksum describes."""

    outcome = Outcome.REFUSED
