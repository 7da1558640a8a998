"""The only module that imports pg8000: TLS connections with retry, statements, error mapping."""

from __future__ import annotations

import io
import logging
import socket
import ssl
import struct
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any

import pg8000.core
import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from db_init.deadline import Deadline
from db_init.errors import (
    AuthenticationError,
    CancelledError,
    ConnectError,
    DbInitError,
    SqlError,
    TlsError,
)
from db_init.settings import ConnectionSettings

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
_AUTH_FAILED = {"28P01", "28000"}
# server states worth retrying while a proxy target or a starting server becomes available
_RETRYABLE_SQLSTATES = {"57P03", "53300", "08006", "08001", "08004"}
_MAX_BACKOFF_S = 8.0
_LAST_ATTEMPT_S = 1.0  # the least time worth starting another connection attempt with
_WINDOW_STATEMENTS = 64
_WINDOW_BYTES = 32 * 1024


# ErrorResponse field codes and the names they carry in JSON output and logs.
_FIELD_NAMES = {
    "S": "severity",
    "C": "sqlstate",
    "M": "message",
    "D": "detail",
    "H": "hint",
    "P": "position",
    "p": "internal_position",
    "q": "internal_query",
    "W": "context",
    "s": "schema",
    "t": "table",
    "c": "column",
    "d": "datatype",
    "n": "constraint",
}
_CONTEXT_SHOWN = 160  # characters of CONTEXT kept in the one-line message


@dataclass(frozen=True)
class ServerError:
    """The fields of a PostgreSQL ErrorResponse that we show."""

    sqlstate: str | None
    message: str
    position: int | None
    detail: str | None
    hint: str | None
    context: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # every field, by name (for JSON/logs)

    def summary(self, *, context: str | None = None) -> str:
        """`message (detail); hint: ...; context: ...` on one line (context: the useful part)."""
        text = self.message
        if self.detail:
            text += f" ({self.detail.rstrip('.')})"
        if self.hint:
            text += f"; hint: {self.hint.rstrip('.')}"
        shown = self.useful_context() if context is None else context
        if shown:
            text += f"; {shown}"
        return text

    def useful_context(self) -> str:
        """The innermost line of CONTEXT, shortened: where inside a routine or COPY it failed."""
        if not self.context:
            return ""
        first = " ".join(self.context.splitlines()[0].split())
        if len(first) > _CONTEXT_SHOWN:
            first = first[: _CONTEXT_SHOWN - 3] + "..."
        return f"context: {first}"


def server_error(error: BaseException) -> ServerError | None:
    """The server-reported fields of a pg8000 DatabaseError, or None for client-side errors."""
    if (
        not isinstance(error, DatabaseError)
        or not error.args
        or not isinstance(error.args[0], dict)
    ):
        return None
    raw: dict[str, str] = error.args[0]
    position = raw.get("P")
    return ServerError(
        sqlstate=raw.get("C"),
        message=raw.get("M", "unknown error"),
        position=int(position) if position and position.isdigit() else None,
        detail=raw.get("D"),
        hint=raw.get("H"),
        context=raw.get("W"),
        fields={name: raw[code] for code, name in _FIELD_NAMES.items() if code in raw},
    )


class StatementFailedError(Exception):
    """The first statement of a pipelined run that failed, by index, with the driver's error."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class Session:
    """A connection with explicit transactions; statements raise SqlError with SQLSTATE."""

    def __init__(self, connection: pg8000.native.Connection, settings: ConnectionSettings) -> None:
        self._connection = connection
        self.settings = settings
        self.busy: str | None = None  # "statement" or "copy" while the server works for us
        self._cancelled = False

    @contextmanager
    def _working(self, kind: str) -> Iterator[None]:
        if self._cancelled:
            # A cancel request that reached the server between two statements cancels nothing:
            # the next one is never sent, and the caller's transaction rolls back.
            raise CancelledError("cancelled (Ctrl-C); no further statement was sent")
        self.busy = kind
        try:
            yield
        finally:
            self.busy = None

    def _until_cancelled(self, chunks: Iterable[str]) -> Iterator[str]:
        # A cancelled COPY stops being fed at a message boundary: the protocol stays in step.
        for chunk in chunks:
            if self._cancelled:
                return
            yield chunk

    def query(self, sql: str, **params: Any) -> list[Row]:
        """Run one statement with named parameters (:name) and return its rows."""
        try:
            with self._working("statement"):
                rows = self._connection.run(sql, **params)
        except (DatabaseError, InterfaceError) as error:
            raise as_error(error) from error
        return [tuple(row) for row in rows or ()]

    def copy_in(self, sql: str, chunks: Iterable[str]) -> int:
        """COPY ... FROM STDIN, streaming text chunks; returns the rows copied."""
        try:
            with self._working("copy"):
                self._connection.run(sql, stream=self._until_cancelled(chunks))
        except (DatabaseError, InterfaceError) as error:
            raise as_error(error) from error
        return int(self._connection.row_count or 0)

    def execute_raw(self, sql: str) -> None:
        """Run script text as written (simple query protocol, several statements allowed)."""
        with self._working("statement"):
            self._connection.run(sql)

    def execute_pipelined(
        self, statements: Sequence[str], copy_rows: Mapping[int, str] | None = None
    ) -> None:
        """Run statements in order, each its own simple Query, without a round trip per statement.

        Up to a window of statements is sent before their replies are read (a window stays far
        below socket buffer sizes, so neither side can block the other). Each statement keeps its
        own statement_timeout and its own error; after a failure the replies already in flight
        are drained (inside a transaction they fail with 25P02) and nothing more is sent.
        `copy_rows` holds the rows of COPY ... FROM STDIN statements by index: each runs on its
        own once the replies before it are in (the server reads nothing else during a COPY).
        Raises StatementFailedError with the index of the first failing statement.
        """
        with self._working("statement"):
            self._pipeline(statements, copy_rows or {})

    def _pipeline(self, statements: Sequence[str], copies: Mapping[int, str]) -> None:
        connection = self._connection
        start = 0
        while start < len(statements):
            if start in copies:
                try:  # pg8000's COPY runs through the extended protocol, which ends with a Sync
                    connection.run(statements[start], stream=io.StringIO(copies[start]))
                except (DatabaseError, InterfaceError, OSError) as error:
                    raise StatementFailedError(start, error) from error
                start += 1
                continue
            end, size = start, 0
            while (
                end < len(statements)
                and end not in copies
                and end - start < _WINDOW_STATEMENTS
                and (end == start or size + len(statements[end]) <= _WINDOW_BYTES)
            ):
                size += len(statements[end])
                end += 1
            try:
                for sql in statements[start:end]:
                    connection.send_QUERY(sql)
                pg8000.core._flush(connection._sock)  # pg8000 has no public pipelining API
            except (InterfaceError, OSError) as error:
                raise StatementFailedError(start, error) from error
            failure: StatementFailedError | None = None
            for index in range(start, end):
                try:
                    connection.handle_messages(pg8000.core.Context(statements[index]))
                except DatabaseError as error:
                    failure = failure or StatementFailedError(index, error)
                except (InterfaceError, OSError) as error:
                    # the connection is gone: the first error seen is the one to report
                    raise failure or StatementFailedError(index, error) from error
            if failure is not None:
                raise failure
            start = end

    def set_timeouts(self, *, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
        """Session-wide lock and statement timeouts (SET, so they outlive transactions)."""
        try:  # one round trip for both
            self._connection.run(
                f"SET lock_timeout = {int(lock_timeout_ms)}; "
                f"SET statement_timeout = {int(statement_timeout_ms)}"
            )
        except (DatabaseError, InterfaceError) as error:
            raise as_error(error) from error

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[None]:
        """BEGIN ... COMMIT; ROLLBACK instead when not `commit` or on any exception (re-raised)."""
        self.query("BEGIN")
        try:
            yield
        except BaseException:
            self.rollback_quietly()
            raise
        self.query("COMMIT" if commit else "ROLLBACK")

    def rollback_quietly(self) -> None:
        """ROLLBACK, ignoring a connection that is already gone (the server rolls back then)."""
        try:
            self._connection.run("ROLLBACK")
        except (DatabaseError, InterfaceError, OSError) as error:
            log.warning("rollback failed (%s); the server discards the transaction", type(error))

    @property
    def backend_pid(self) -> int | None:
        """The server process id serving this session (from the BackendKeyData message)."""
        key = getattr(self._connection, "_backend_key_data", None)
        return int(struct.unpack("!i", key[:4])[0]) if key else None

    def cancel_running(self, *, timeout_s: float) -> None:
        """Send a CancelRequest for this session's running statement over a new socket."""
        key = getattr(self._connection, "_backend_key_data", None)
        if not key:
            return
        self._cancelled = True
        # The protocol's cancel packet: length, request code, then the backend's pid and key.
        packet = struct.pack("!ii", 8 + len(key), _CANCEL_REQUEST_CODE) + bytes(key)
        address = (self.settings.host, self.settings.port)
        with socket.create_connection(address, timeout=timeout_s) as sock:
            sock.sendall(packet)
            with suppress(OSError):
                sock.recv(1)  # the server closes the socket once it has read the request

    def close(self) -> None:
        """Close the connection; never raises."""
        _OPEN_SESSIONS.discard(self)
        with suppress(DatabaseError, InterfaceError, OSError):
            self._connection.close()


def with_timeouts(session: Session, *, lock_timeout_ms: int, statement_timeout_ms: int) -> Session:
    """`session` with its lock and statement timeouts set; closed if setting them fails."""
    try:
        session.set_timeouts(
            lock_timeout_ms=lock_timeout_ms, statement_timeout_ms=statement_timeout_ms
        )
    except BaseException:
        session.close()
        raise
    return session


def as_error(error: BaseException, *, where: str | None = None) -> DbInitError:
    """Map a pg8000 error to our error tree (never includes a password)."""
    fields = server_error(error)
    if fields is None:
        return ConnectError(f"connection lost: {_cause(error)}")
    if fields.sqlstate in _AUTH_FAILED:
        return AuthenticationError(
            f"{fields.message}; check the user and password in the secret "
            "(it may just have rotated)"
        )
    return SqlError(
        fields.summary(), sqlstate=fields.sqlstate, where=where, server_fields=fields.fields
    )


def quote_identifier(name: str) -> str:
    """Double-quote an identifier for SQL (names are validated before they get here)."""
    return '"' + name.replace('"', '""') + '"'


def ssl_context_for(settings: ConnectionSettings) -> ssl.SSLContext | bool:
    """Verify-full TLS context, or False for plaintext (loopback only, checked by settings)."""
    if not settings.tls:
        return False
    # Why verify-full: check the chain against our CA bundle and the host name against the cert.
    context = ssl.create_default_context(
        cafile=str(settings.ca_bundle) if settings.ca_bundle else None
    )
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect_once(settings: ConnectionSettings, *, operation_timeout_s: float | None) -> Session:
    """One connection attempt; raises ConnectError / AuthenticationError / SqlError."""
    try:
        connection = pg8000.native.Connection(
            user=settings.user,
            password=settings.password,
            host=settings.host,
            port=settings.port,
            database=settings.database,
            ssl_context=ssl_context_for(settings),
            timeout=settings.connect_timeout_s,
            application_name=settings.application_name,
        )
    except DatabaseError as error:
        mapped = as_error(error)
        if isinstance(mapped, AuthenticationError):
            raise AuthenticationError(f"{settings.host}:{settings.port}: {mapped}") from None
        raise mapped from None
    except ssl.SSLError as error:
        # A certificate or host-name mismatch does not heal by waiting: fail at once.
        raise TlsError(
            f"TLS to {settings.host}:{settings.port} failed: {_cause(error)}; check the CA "
            "bundle (sslrootcert / CaBundlePath) and that the host name is in the certificate"
        ) from None
    except (InterfaceError, OSError) as error:
        if "refuses SSL" in str(error):
            raise TlsError(
                f"{settings.host}:{settings.port} does not offer TLS; connect to a TLS endpoint "
                "(plaintext is only for a loopback server with sslmode=disable)"
            ) from None
        what, check = connect_failure(error, timeout_s=settings.connect_timeout_s)
        raise ConnectError(
            f"cannot connect to {settings.host}:{settings.port}: {what}; {check}"
        ) from None
    # The connect timeout bounds the handshake; statements get their own (longer) bound.
    connection._usock.settimeout(operation_timeout_s)  # pg8000 exposes no setter
    session = Session(connection, settings)
    _OPEN_SESSIONS.add(session)
    return session


def connect_failure(error: BaseException, *, timeout_s: float) -> tuple[str, str]:
    """What failed (DNS, refused, timeout, network) and what to check, from the socket error."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, socket.gaierror):
            return "DNS: the host name does not resolve", "check the host name"
        if isinstance(current, ConnectionRefusedError):
            return (
                "refused: nothing listens on that port",
                "check the port and that the server is running",
            )
        if isinstance(current, TimeoutError):
            return (
                f"timeout: no answer within {timeout_s:g}s",
                "check the host, the port and any firewall or security group in between",
            )
        current = current.__cause__ or current.__context__
    return f"network: {_cause(error)}", "check the host, the port and the network route"


# Sessions that may be running a statement: Ctrl-C asks the server to cancel it (cancel_all).
_OPEN_SESSIONS: weakref.WeakSet[Session] = weakref.WeakSet()
_CANCEL_REQUEST_CODE = 80877102  # PostgreSQL protocol: CancelRequest


def busy_sessions() -> list[Session]:
    """Open sessions waiting for the server right now."""
    return [session for session in list(_OPEN_SESSIONS) if session.busy]


def cancel_all(*, timeout_s: float = 2.0) -> int:
    """Ask the server to cancel what each busy session is running; returns requests sent."""
    sent = 0
    for session in busy_sessions():
        with suppress(OSError):
            session.cancel_running(timeout_s=timeout_s)
            sent += 1
    return sent


def connect(
    settings: ConnectionSettings,
    *,
    deadline: Deadline,
    retry_budget_s: float,
    operation_timeout_s: float | None = None,
) -> Session:
    """Connect, retrying unreachable or starting servers with backoff within the budget."""
    give_up = min(deadline.at, time.monotonic() + retry_budget_s)
    delay, attempt = 0.25, 1
    while True:
        deadline.check(f"connecting to {settings.host}:{settings.port}")
        # A silent server must not hold one attempt open past the deadline.
        bounded = replace(
            settings, connect_timeout_s=min(settings.connect_timeout_s, deadline.remaining())
        )
        try:
            return connect_once(bounded, operation_timeout_s=operation_timeout_s)
        except (ConnectError, SqlError) as error:
            retryable = not isinstance(error, AuthenticationError) and (
                type(error) is ConnectError or error.sqlstate in _RETRYABLE_SQLSTATES
            )
            left = give_up - time.monotonic()
            # A pause that would end past the budget is cut short, so one more attempt lands
            # just before giving up instead of up to a whole backoff earlier.
            pause = delay if delay < left else left - _LAST_ATTEMPT_S
            last = not retryable or pause <= 0
            then = f"retrying in {pause:.1f}s ({left:.0f}s of retry budget left)"
            if last:
                then = "giving up: retry budget spent" if retryable else "not retried"
            # One line per attempt, so a slow proxy target shows up as such (never a password).
            log.info(
                "connection attempt %d to %s:%d failed: %s; %s",
                attempt,
                settings.host,
                settings.port,
                error.one_line(),
                then,
                extra={"attempt": attempt},
            )
            if last:
                raise
            time.sleep(pause)
            delay, attempt = min(delay * 2, _MAX_BACKOFF_S), attempt + 1


def _cause(error: BaseException) -> str:
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < 3:
        text = str(current).strip() or type(current).__name__
        if text not in parts:
            parts.append(text)
        current = current.__cause__ or current.__context__
    return ": ".join(parts)
