"""The only module that imports pg8000: TLS connections and transactions that leave no state."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

import pg8000.core
import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from shoppulse_data.credentials import Login, LoginSource, login_source_for
from shoppulse_data.errors import (
    AuthenticationError,
    ConnectError,
    DataAccessError,
    QueryError,
    TlsError,
)
from shoppulse_data.settings import ClientConfig
from shoppulse_data.tenant_ids import check_tenant_id

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
_AUTH_FAILED = {"28P01", "28000"}
_TEXT_OID = 25
_IDLE = b"I"
_FAILED = b"E"
# Transaction-scoped (is_local = true): the values end with COMMIT or ROLLBACK, so the server
# connection goes back to the pool clean and RDS Proxy has no session state to pin for. The
# statement timeout rides along so a runaway query is cancelled by the server, not just abandoned.
SET_TENANT = (
    "SELECT set_config('app.tenant_id', $1, true), set_config('statement_timeout', $2, true)"
)


class Transaction:
    """Statements inside one BEGIN ... COMMIT on one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def run(self, sql: str, **params: Any) -> list[Row]:
        """Run one statement with :name parameters (an unnamed statement) and return its rows."""
        return self._connection.execute(sql, params)


class TenantTransaction(Transaction):
    """A transaction in which app.tenant_id names one tenant; row-level security does the rest."""

    def __init__(self, connection: Connection, tenant_id: str) -> None:
        super().__init__(connection)
        self.tenant_id = tenant_id


class Connection:
    """One client connection to the proxy (or a pooler); it never holds session state."""

    def __init__(
        self, raw: pg8000.native.Connection, *, user: str, statement_timeout_ms: int = 15_000
    ) -> None:
        self._raw = raw
        self.user = user
        self.statement_timeout_ms = statement_timeout_ms

    @property
    def idle(self) -> bool:
        """True outside a transaction (what the server reported last)."""
        # pg8000 leaves the status unset until the first statement after the handshake.
        return self._raw._transaction_status in (None, _IDLE)

    def execute(self, sql: str, params: Mapping[str, Any]) -> list[Row]:
        """One statement; inside a transaction only (see Transaction.run)."""
        if self.idle:
            # pg8000 sends a parameterised statement as three synced messages; outside a
            # transaction a transaction pooler may hand each to a different server connection.
            raise DataAccessError("statements run inside transaction() or tenant_transaction()")
        try:
            rows = self._raw.run(sql, **params)
        except (DatabaseError, InterfaceError) as error:
            raise _as_error(error) from None
        return [tuple(row) for row in rows or ()]

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """BEGIN ... COMMIT without a tenant (row-level security then shows no tenant rows)."""
        self._check_idle()
        self._simple("BEGIN")
        with self._finishing():
            yield Transaction(self)

    @contextmanager
    def tenant_scope(self, tenant_id: str) -> Iterator[TenantTransaction]:
        """BEGIN and set the tenant in one round trip, COMMIT at the end: tenant_transaction."""
        checked = check_tenant_id(tenant_id)  # before anything is sent
        self._check_idle()
        self._begin_with_tenant(checked)
        with self._finishing():
            yield TenantTransaction(self, checked)

    def close(self) -> None:
        """Close the connection; never raises."""
        with suppress(DatabaseError, InterfaceError, OSError):
            self._raw.close()

    def _check_idle(self) -> None:
        if not self.idle:
            raise DataAccessError("a transaction is already open on this connection")

    @contextmanager
    def _finishing(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self._rollback_quietly()
            raise
        if self._raw._transaction_status == _FAILED:
            self._rollback_quietly()
            raise QueryError("a statement in the transaction failed; it was rolled back")
        self._simple("COMMIT")

    def _begin_with_tenant(self, tenant_id: str) -> None:
        # BEGIN and the set_config are written together and their replies read after one
        # flush: a tenant transaction costs the same round trips as a plain one. pg8000 has
        # no public pipelining API, so this uses its message helpers (pinned in requirements).
        raw = self._raw
        try:
            raw.send_QUERY("BEGIN")
            raw.send_PARSE(pg8000.core.NULL_BYTE, SET_TENANT, (_TEXT_OID, _TEXT_OID))
            raw.send_BIND(pg8000.core.NULL_BYTE, (tenant_id, str(self.statement_timeout_ms)))
            raw.send_EXECUTE()
            pg8000.core._write(raw._sock, pg8000.core.SYNC_MSG)
            pg8000.core._flush(raw._sock)
        except (InterfaceError, OSError) as error:
            raise ConnectError(f"connection lost: {_cause(error)}") from None
        failure: BaseException | None = None
        for statement in ("BEGIN", SET_TENANT):
            try:
                raw.handle_messages(pg8000.core.Context(statement, columns=[]))
            except DatabaseError as error:
                failure = failure or error
            except (InterfaceError, OSError) as error:
                raise ConnectError(f"connection lost: {_cause(error)}") from None
        if failure is not None:
            self._rollback_quietly()
            raise _as_error(failure) from None

    def _simple(self, sql: str) -> None:
        try:
            self._raw.run(sql)
        except (DatabaseError, InterfaceError) as error:
            raise _as_error(error) from None

    def _rollback_quietly(self) -> None:
        try:
            self._raw.run("ROLLBACK")
        except (DatabaseError, InterfaceError, OSError) as error:
            # The server discards the transaction when the connection goes; make sure it does.
            log.warning("rollback failed (%s); closing the connection", type(error).__name__)
            self.close()


def connect(config: ClientConfig, *, login: LoginSource | None = None) -> Connection:
    """Open a TLS (verify-full) connection as the role; re-read the login once if refused."""
    source = login if login is not None else login_source_for(config)
    try:
        return open_connection(config, source.current())
    except AuthenticationError:
        # A rotation may have changed the password (or the user) since the login was cached.
        log.info("login refused; re-reading the credentials once")
        return open_connection(config, source.refresh())


def open_connection(config: ClientConfig, login: Login) -> Connection:
    """One connection attempt with the given login."""
    try:
        raw = pg8000.native.Connection(
            user=login.user,
            password=login.password,
            host=config.host,
            port=config.port,
            database=config.database,
            ssl_context=ssl_context_for(config),
            timeout=config.connect_timeout_s,
            application_name=config.application_name,
        )
    except DatabaseError as error:
        raise _as_error(error) from None
    except ssl.SSLError as error:
        raise TlsError(
            f"TLS to {config.host}:{config.port} failed: {_cause(error)}; check the CA bundle"
            " and that the host is the proxy endpoint named in its certificate"
        ) from None
    except (InterfaceError, OSError) as error:
        raise ConnectError(
            f"cannot connect to {config.host}:{config.port}: {_cause(error)}"
        ) from None
    # The connect timeout bounds the handshake; statements get the (longer) socket timeout.
    with suppress(AttributeError, OSError):
        raw._usock.settimeout(config.socket_timeout_s)
    return Connection(raw, user=login.user, statement_timeout_ms=config.statement_timeout_ms)


def ssl_context_for(config: ClientConfig) -> ssl.SSLContext | bool:
    """Verify-full TLS with the shipped CA bundle, or False for a loopback pooler (tests)."""
    if not config.tls:
        return False
    # Why verify-full: the chain must lead to an Amazon root CA and the host name must match,
    # or a machine in the path could pose as the proxy and collect IAM tokens or passwords.
    context = ssl.create_default_context(cafile=str(config.ca_bundle) if config.ca_bundle else None)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _as_error(error: BaseException) -> DataAccessError:
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else None
    if not isinstance(error, DatabaseError) or fields is None:
        return ConnectError(f"connection lost: {_cause(error)}")
    sqlstate = fields.get("C")
    message = fields.get("M", "unknown error")
    if sqlstate in _AUTH_FAILED:
        return AuthenticationError(
            f"login refused: {message}; the role's password may just have rotated",
            sqlstate=sqlstate,
        )
    return QueryError(f"{message} [{sqlstate}]", sqlstate=sqlstate)


def _cause(error: BaseException) -> str:
    text = str(error.__cause__ or error) or type(error).__name__
    return " ".join(text.split())[:200]
