"""`serve` sets TCP_NODELAY on every connection, also on a socket bound the way
uvicorn binds it for `--workers N` (where asyncio alone leaves Nagle on)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.server import ServerState

from infra.cli.server import NoDelayHTTPProtocol


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise AssertionError("no request is sent")


def nodelay_of_accepted_connection(protocol_class: type[asyncio.Protocol]) -> int:
    """TCP_NODELAY of the server side of one connection, accepted by
    `protocol_class` on a socket from uvicorn's own `bind_socket` (the path every
    worker of `--workers N` serves from)."""
    config = uvicorn.Config(_app, host="127.0.0.1", port=0, http=protocol_class)
    config.load()
    listening = config.bind_socket()

    async def accept_one() -> int:
        loop = asyncio.get_running_loop()
        made: list[Any] = []

        def factory() -> asyncio.Protocol:
            protocol = protocol_class(  # type: ignore[call-arg]
                config=config, server_state=ServerState(), app_state={}
            )
            made.append(protocol)
            return protocol

        server = await loop.create_server(factory, sock=listening)
        try:
            port = listening.getsockname()[1]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            while not made or getattr(made[0], "transport", None) is None:
                await asyncio.sleep(0.01)
            sock = made[0].transport.get_extra_info("socket")
            value = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            writer.close()
            made[0].transport.close()
            return int(value)
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(accept_one())


def uvicorn_release() -> tuple[int, int]:
    major, minor = uvicorn.__version__.split(".")[:2]
    return int(major), int(minor)


def test_uvicorns_own_protocol_leaves_nagle_on_for_a_socket_it_bound_before_0_55():
    # The bug worked around: uvicorn 0.55 binds its socket as IPPROTO_TCP
    # (Kludex/uvicorn#3149), so asyncio turns Nagle off itself; the releases
    # before it, which the dependency range still admits, leave it on.
    fixed = uvicorn_release() >= (0, 55)
    assert nodelay_of_accepted_connection(AutoHTTPProtocol) == int(fixed)


def test_the_serve_protocol_turns_nagle_off_on_every_accepted_connection():
    assert nodelay_of_accepted_connection(NoDelayHTTPProtocol) == 1
