"""How `care-episodes serve` runs uvicorn: TCP_NODELAY on every accepted socket,
and with `--workers N` a listening socket per worker.

uvicorn's `--workers N` binds one socket and shares it: the first worker to wake
accepts a whole burst of connections (asyncio accepts up to the backlog per
wake), so 16 keep-alive clients that connect at once are all served by one
worker while the others idle (measured: 94 % of a core against 6 %). Here each
worker has a socket of its own, bound to the same address with SO_REUSEPORT, and
the kernel spreads new connections over those listening.

A worker's socket listens only once the worker has started (asyncio listens when
uvicorn starts serving, after the app's startup). The kernel hands a listening
socket its share of new connections whether or not its process accepts them yet,
so a worker still starting (opening the store, or waiting for an unreachable one)
would hold its share unanswered while the others could serve them.

With `--workers N` uvicorn before 0.55 binds the listening socket itself, as
`socket.socket(AF_INET)`, whose protocol number is 0 (Kludex/uvicorn#3149);
asyncio sets TCP_NODELAY on accepted sockets only when that number is
IPPROTO_TCP, so every worker's connections keep Nagle's algorithm on. A response written in two parts (head,
then body) then waits for the client's delayed ACK of the first: about 40 ms
per keep-alive request. The protocol below sets the option on each connection
as it is made, whichever way the socket was bound and whichever uvicorn the
dependency range admits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.main import STARTUP_FAILURE
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.supervisors import Multiprocess

log = logging.getLogger("uvicorn.error")


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on a TCP transport's socket (others: no-op)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # A connection reset before this point fails on its own, elsewhere.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP/1.1 protocol (httptools or h11), with TCP_NODELAY set."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        set_nodelay(transport)
        super().connection_made(transport)


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, beside the others
    bound so (closed again if it cannot bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class WorkerSocket:
    """Stands in for the shared socket uvicorn hands every worker it starts (or
    restarts): sent to the worker, it arrives there as that worker's own socket,
    bound but not listening until the worker starts serving."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return reuseport_socket, self.address


def run_server(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve the ASGI app factory `app` ("module:function") with uvicorn; with
    several workers, each on a listening socket of its own."""
    settings: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "http": NoDelayHTTPProtocol,
        "access_log": False,
        **options,
    }
    if workers == 1:
        uvicorn.run(app, **settings)
        return
    config = uvicorn.Config(app, **settings)
    # Held by the parent while it supervises: the port stays this service's
    # (another process cannot take it without SO_REUSEPORT of the same user), and
    # a port of 0 is resolved once for every worker. It never accepts.
    try:
        holder = reuseport_socket(host, port)
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", host, port, error)
        sys.exit(STARTUP_FAILURE)
    try:
        bound = holder.getsockname()[1]
        placeholder: Any = WorkerSocket(host, bound)
        log.info("Uvicorn running on http://%s:%d (a socket per worker)", host, bound)
        Multiprocess(config, sockets=[placeholder]).run()
    finally:
        holder.close()
