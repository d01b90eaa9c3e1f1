"""`serve --workers N` gives each worker a listening socket of its own, so the
kernel spreads connections over the workers (a shared socket let the first
worker to wake take a whole burst), a worker still starting takes none, and a
restarted worker serves again."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.settings import Settings
from tests.support.http import write_tokens_file
from tests.support.postgres import DatabaseFactory
from tests.support.proxy import TcpProxy
from tests.support.server import ServiceProcess, collector_settings, sockets_on

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


def established_on(port: int) -> set[int]:
    """The server's side of every client connection to `port`."""
    return sockets_on(port, "01")


def connections_held(pid: int, inodes: set[int]) -> int:
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
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    return client


@pytest.mark.postgres
def test_each_worker_sets_its_garbage_collector_once_started(service):
    # given the service started with two workers, on the default settings
    default = Settings.model_fields["gc_young_threshold"].default
    # then each worker set its collector once, before it served
    assert collector_settings(service.output()) == [default] * service.workers


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
    # uvicorn's supervisor pings the dead worker and waits out its health-check
    # timeout (30 s, infra.cli) for the answer before it starts the replacement
    deadline = time.monotonic() + 75
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


@pytest.mark.postgres
def test_a_worker_still_starting_takes_no_connections(
    postgres_databases: DatabaseFactory, tmp_path: Path
):
    # given a service whose workers start while the database is unreachable
    postgres_url = postgres_databases.take()
    proxy = TcpProxy.to_server_of(postgres_url)
    proxy.cut()
    through = proxy.through(postgres_url)
    tokens = write_tokens_file(tmp_path / "tokens.json")
    service = ServiceProcess(
        {
            "CARE_DATABASE_URL": through,
            "CARE_AUTH_TOKENS_FILE": str(tokens),
            "CARE_STARTUP_WAIT": "60",
        }
    )
    try:
        deadline = time.monotonic() + 30
        while service.output().count("store unreachable at start") < 2:
            assert time.monotonic() < deadline, service.output()[-2000:]
            time.sleep(0.1)
        assert len(workers_of(service)) == 2
        # then while they wait for it, no socket listens, and a client is refused
        # at once (a socket that listened would queue it unanswered: a worker
        # accepts only once started)
        assert service.listening() == 0
        for _ in range(5):
            started = time.monotonic()
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", service.port), timeout=5)
            assert time.monotonic() - started < 1.0
            time.sleep(0.2)
        # and when the database returns, every worker starts and serves
        proxy.restore()
        service.wait_ready(timeout=30)
        assert service.listening() == 2
        assert httpx.get(f"{service.url}/healthz", timeout=10).status_code == 200
    finally:
        service.stop()
        proxy.close()
        postgres_databases.give_back(postgres_url)
