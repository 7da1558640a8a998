"""A loopback TCP relay in front of PostgreSQL that a test can refuse, silence, cut or TLS-terminate."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from contextlib import suppress
from enum import Enum
from types import TracebackType

SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_CHUNK = 65536


class Mode(Enum):
    """What the relay does with a new client connection."""

    FORWARD = "forward"  # relay bytes both ways
    REFUSE = "refuse"  # accept, then close at once (a proxy whose target is not registered)
    SILENT = "silent"  # accept and never answer (a packet-dropping firewall)


class Relay:
    """Listens on 127.0.0.1:<port> and relays to 127.0.0.1:<backend_port>."""

    def __init__(
        self,
        backend_port: int,
        *,
        mode: Mode = Mode.FORWARD,
        refuse_for_s: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.backend_port = backend_port
        self.mode = mode
        self.tls = tls  # terminate TLS here (as RDS Proxy does) and talk plaintext to the backend
        self._refuse_until = time.monotonic() + refuse_for_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self.accepted = 0
        self.refused = 0
        self.client_bytes = bytearray()  # everything clients sent before any TLS (first 4 KiB)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def __enter__(self) -> Relay:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def cut(self) -> None:
        """Drop every live connection in both directions, as a failing network would."""
        with self._lock:
            victims, self._open = self._open, []
        for sock in victims:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        """Stop listening and drop every connection."""
        self._closed.set()
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.mode is Mode.REFUSE or time.monotonic() < self._refuse_until:
                self.refused += 1
                client.close()
                continue
            self._track(client)
            if self.mode is Mode.SILENT:
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            first = _recv_exactly(client, 8)
            self._capture(first)
            downstream: socket.socket = client
            if self.tls is not None:
                if first != SSL_REQUEST:
                    client.close()  # a TLS-only server: plaintext clients are turned away
                    return
                client.sendall(b"S")
                downstream = self.tls.wrap_socket(client, server_side=True)
                self._track(downstream)
                first = b""
            backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=5)
            backend.settimeout(None)
            self._track(backend)
            backend.sendall(first)
        except (OSError, ssl.SSLError):
            with suppress(OSError):
                client.close()
            return
        threading.Thread(target=self._pump, args=(backend, downstream, False), daemon=True).start()
        self._pump(downstream, backend, self.tls is None)

    def _pump(self, source: socket.socket, sink: socket.socket, capture: bool) -> None:
        try:
            while data := source.recv(_CHUNK):
                if capture:
                    self._capture(data)
                sink.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.append(sock)

    def _capture(self, data: bytes) -> None:
        with self._lock:
            room = 4096 - len(self.client_bytes)
            if room > 0:
                self.client_bytes.extend(data[:room])


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("client closed the connection")
        data += chunk
    return data


def closed_port() -> int:
    """A loopback port on which nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
