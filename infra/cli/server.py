"""How `care-episodes serve` runs uvicorn: TCP_NODELAY on every accepted socket.

With `--workers N` uvicorn binds the listening socket itself, as
`socket.socket(AF_INET)`, whose protocol number is 0; asyncio sets TCP_NODELAY on
accepted sockets only when that number is IPPROTO_TCP, so every worker's
connections keep Nagle's algorithm on. A response written in two parts (head,
then body) then waits for the client's delayed ACK of the first: about 40 ms
per keep-alive request. The protocol below sets the option on each connection
as it is made, whichever way the socket was bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol


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


def run_server(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve the ASGI app factory `app` ("module:function") with uvicorn."""
    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=NoDelayHTTPProtocol,
        access_log=False,
        **options,
    )
