"""`serve --workers N` gives each worker a listening socket of its own, so the
kernel spreads connections over the workers (a shared socket let the first
worker to wake take a whole burst), and a restarted worker serves again."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.http import write_tokens_file
from tests.support.postgres import DatabaseFactory
from tests.support.server import ServiceProcess

CONNECTIONS = 32


@pytest.fixture
def service(
    postgres_databases: DatabaseFactory, tmp_path: Path
) -> Iterator[ServiceProcess]:
    postgres_url = postgres_databases.take()
    tokens = write_tokens_file(tmp_path / "tokens.json")
    running = ServiceProcess(
        {"CARE_DATABASE_URL": postgres_url, "CARE_AUTH_TOKENS_FILE": str(tokens)}
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
        postgres_databases.give_back(postgres_url)


def workers_of(service: ServiceProcess) -> list[int]:
    """The pids of the service's uvicorn workers (its spawned children that serve)."""
    pid = service.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def sockets_on(port: int, state: str) -> dict[int, int]:
    """Socket inode -> 1 for each TCP socket in `state` ("01" established, "0A"
    listening) whose local port is `port`."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, now, inode = fields[1], fields[3], int(fields[9])
        if now == state and int(local.split(":")[1], 16) == port:
            found[inode] = 1
    return found


def established_on(port: int) -> dict[int, int]:
    """The server's side of every client connection to `port`."""
    return sockets_on(port, "01")


def connections_held(pid: int, inodes: dict[int, int]) -> int:
    """How many of those connections the process holds open."""
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and int(target[8:-1]) in inodes:
            held += 1
    return held


def open_keepalive(port: int) -> socket.socket:
    """A client connection that asked for /healthz and read the answer (so the
    server has accepted it), left open."""
    # (a replacement worker listens from its start: its first answers wait for
    # its app to load)
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    return client


@pytest.mark.postgres
def test_a_burst_of_connections_is_spread_over_the_workers(service):
    workers = workers_of(service)
    assert len(workers) == 2
    # when 32 clients connect at once and keep their connections
    clients = []
    try:
        for _ in range(CONNECTIONS):
            clients.append(socket.create_connection(("127.0.0.1", service.port)))
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        for client in clients:
            client.settimeout(10)
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        # then every worker holds a share of them (a shared socket gave one
        # worker nearly all: 94 % of a core against 6 %)
        # (each worker listens on a socket of its own)
        listening = sockets_on(service.port, "0A")
        assert [connections_held(pid, listening) for pid in workers] == [1, 1]
        inodes = established_on(service.port)
        held = [connections_held(pid, inodes) for pid in workers]
        assert sum(held) == CONNECTIONS
        assert min(held) >= 5, held
    finally:
        for client in clients:
            client.close()


@pytest.mark.postgres
def test_a_killed_worker_is_replaced_on_a_socket_of_its_own(service):
    first, second = workers_of(service)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = workers_of(service)
        listening = sockets_on(service.port, "0A")
        if (
            len(now) == 2
            and first not in now
            and all(connections_held(pid, listening) == 1 for pid in now)
        ):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no replacement for worker {first}: {service.output()[-2000:]}")
    replacement = next(pid for pid in now if pid != second)
    # every new connection is answered, and the replacement takes its share
    clients = [open_keepalive(service.port) for _ in range(CONNECTIONS)]
    try:
        inodes = established_on(service.port)
        assert connections_held(replacement, inodes) >= 5
        assert connections_held(second, inodes) >= 5
    finally:
        for client in clients:
            client.close()
    assert httpx.get(f"{service.url}/healthz", timeout=10).status_code == 200
