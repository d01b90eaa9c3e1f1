"""A TCP proxy a test owns, to cut the service off its database without touching
the shared PostgreSQL server.

`cut()` is the database going away: every open connection is reset, and new ones
are accepted but never answered, so a connection attempt hangs as it does when a
host is unreachable (it is the client's own timeouts that must end it).
`restore()` forwards new connections again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from urllib.parse import urlsplit, urlunsplit


def _server_of(url: str) -> tuple[str, int]:
    """The host and port a database URL names (PostgreSQL's 5432 if none)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target until cut."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @classmethod
    def to_server_of(cls, url: str) -> TcpProxy:
        """A proxy to the server of database URL `url`."""
        return cls(*_server_of(url))

    def through(self, url: str) -> str:
        """Database URL `url` reached through this proxy instead (its user and
        password kept; a URL naming no port means PostgreSQL's 5432)."""
        server = _server_of(url)
        if server != self.target:
            raise ValueError(f"{url!r} names {server}, not this proxy's {self.target}")
        parts = urlsplit(url)
        user, at, _ = parts.netloc.rpartition("@")
        netloc = f"{user}{at}127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def cut(self) -> None:
        """Reset every open connection; hold new ones unanswered."""
        self._open.clear()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _reset(client)
            _close(client, server)

    def restore(self) -> None:
        """Forward new connections again (the held ones are dropped)."""
        with self._lock:
            held, self._held = self._held, []
        for client in held:
            _reset(client)
            _close(client)
        self._open.set()

    def close(self) -> None:
        self._stop.set()
        self.restore()
        _close(self.listener)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                with self._lock:
                    self._held.append(client)  # accepted, never answered
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(
                target=self._pump, args=(client, server), daemon=True
            ).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        sockets = [client, server]
        try:
            while not self._stop.is_set() and self._open.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.1)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (server if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                if (client, server) in self._pairs:
                    self._pairs.remove((client, server))
            _close(client, server)


def _reset(sock: socket.socket) -> None:
    # Linger 0: closing sends a reset, as a dead server's host does.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()
