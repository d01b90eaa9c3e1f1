"""The feed as Server-Sent Events, through a real uvicorn server on each backend."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from api.paging import encode_cursor
from tests.api.feed_stream_support import Server, Stream
from tests.support import builders as b
from tests.support.http import TOKENS, auth

pytestmark = pytest.mark.slow

SETTINGS = {"feed_heartbeat_interval": "0.5", "feed_send_timeout": "2"}


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def running_server(
    request: pytest.FixtureRequest, workdir: Path, **settings: str
) -> Iterator[Server]:
    """A server on a fresh store of the requested backend, stopped afterwards."""
    databases = None
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'care.db'}"
    else:
        databases = request.getfixturevalue("postgres_databases")
        url = databases.take()
    server = Server(url, workdir, **settings)
    try:
        yield server
    finally:
        server.stop()
        if databases is not None:
            databases.give_back(url)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per backend for this module's tests; each test uses its own
    physician, so their feeds do not meet."""
    workdir = tmp_path_factory.mktemp("feed-stream")
    with running_server(request, workdir, **SETTINGS) as running:
        yield running


@pytest.fixture(params=BACKENDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, which the test may stop; at most 3 streams."""
    with running_server(request, tmp_path, feed_max_streams="3") as running:
        yield running


def test_a_client_gets_items_as_they_are_written_and_resumes_after_last_event_id(
    server: Server,
):
    # given a physician's open stream that has its first item
    episode = server.open("dr-live")
    stream = Stream(server, "dr-live", role="service")
    [opening] = stream.items(1)
    assert (opening.event, opening.id) == ("ReferralReceived", encode_cursor("feed", 1))
    # when an event is written, it arrives
    server.post(episode, "red-flag-screenings", b.screening())
    [screen] = stream.items(1)
    assert screen.event == "RedFlagsScreened"
    assert screen.item["summary"] == "Red-flag screen: no red flags"
    assert screen.item["cursor"] == screen.id
    # and after a disconnect and three more events
    stream.close()
    server.post(episode, "diagnostics", b.mri(pain_generator="radicular"), days=2)
    server.post(episode, "outcomes", b.outcome(), days=3)
    server.post(episode, "assignments", b.assignment(), days=3)
    # then a reconnect with Last-Event-ID gets exactly the three it missed
    again = Stream(
        server, "dr-live", role="service", headers={"Last-Event-ID": screen.id}
    )
    missed = again.until_heartbeat()
    again.close()
    assert [(e.event, e.item["version"]) for e in missed] == [
        ("DiagnosticCompleted", 3),
        ("OutcomeRecorded", 4),
        ("ClinicianAssigned", 5),
    ]
    assert [e.item["summary"] for e in missed] == [
        "MRI lumbar L4-L5: radicular pain identified",
        "ODI 46: baseline",
        "Assigned to Ana Clinician",
    ]


def test_a_stream_starts_after_the_cursor_given_as_after(server: Server):
    episode = server.open("dr-after")
    server.post(episode, "red-flag-screenings", b.screening())
    stream = Stream(
        server, "dr-after", role="auditor", params={"after": encode_cursor("feed", 1)}
    )
    items = stream.until_heartbeat()
    stream.close()
    assert [e.item["version"] for e in items] == [2]


def test_an_idle_stream_sends_heartbeat_comments(server: Server):
    stream = Stream(server, "dr-idle", role="clinician", read_timeout_s=3)
    first, second = stream.next(), stream.next()
    stream.close()
    assert first is not None and second is not None
    assert (first.comments, second.comments) == (["heartbeat"], ["heartbeat"])
    assert stream.response.headers["content-type"].startswith("text/event-stream")


def test_a_physician_streams_their_own_feed(server: Server):
    episode = server.open("dr-pc-1", patient="pt-own")
    stream = Stream(server, "dr-pc-1")
    items = stream.until_heartbeat()
    stream.close()
    assert str(episode) in {e.item["episode_id"] for e in items}


def test_fifty_idle_streams_do_not_stop_the_api_from_answering(server: Server):
    # given fifty streams, each idling on heartbeats
    streams = [Stream(server, f"dr-idle-{n}", role="service") for n in range(50)]
    try:
        for stream in streams:
            assert stream.next() is not None
        # when the API is asked to write and read
        started = time.monotonic()
        episode = server.open("dr-busy")
        page = server.http.get(
            "/physicians/dr-busy/feed", headers=auth("service"), params={"limit": 5}
        )
        history = server.http.get(f"/episodes/{episode}", headers=auth("auditor"))
        took = time.monotonic() - started
        # then it answers promptly, and every stream is still alive
        assert (page.status_code, history.status_code) == (200, 200)
        assert took < 5, f"the API took {took:.1f} s with 50 idle streams"
        for stream in streams:
            assert stream.next() is not None
    finally:
        for stream in streams:
            stream.close()


def test_a_server_shutdown_ends_the_stream_cleanly(own_server: Server):
    # given a stream that has its first item
    own_server.open("dr-pc-1")
    stream = Stream(own_server, "dr-pc-1")
    stream.items(1)
    # when the server is stopped as a process manager stops it
    stopping = threading.Thread(target=own_server.stop)
    stopping.start()
    # then the stream says goodbye and ends (no error: the body is complete)
    farewell = [e for e in iter(stream.next, None) if e.comments]
    stream.close()
    stopping.join()
    assert farewell[-1].comments == [
        "the server is shutting down; reconnect with Last-Event-ID"
    ]
    # and the server shut down gracefully, in time (uvicorn re-raises SIGTERM
    # once it is done; a kill after the timeout would be SIGKILL)
    log = own_server.output()
    assert own_server.process.returncode in (0, -signal.SIGTERM), log
    assert "Application shutdown complete." in log
    assert '"level": "error"' not in log


def test_streams_beyond_the_processes_maximum_are_refused_with_retry_after(
    own_server: Server,
):
    streams = [Stream(own_server, "dr-pc-1") for _ in range(3)]
    try:
        refused = own_server.http.get(
            "/physicians/dr-pc-1/feed/stream", headers=auth("physician")
        )
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.json()["type"] == "/problems/too-many-streams"
    finally:
        for stream in streams:
            stream.close()
    # a closed stream gives its slot back
    time.sleep(0.5)
    again = Stream(own_server, "dr-pc-1")
    assert again.response.status_code == 200
    again.close()


def test_a_client_that_stops_reading_is_dropped_with_a_final_comment(server: Server):
    # given a physician with more feed than the socket buffers hold (the kernel
    # grows a sender's buffer to 4 MiB): 250 plans of about 24 kB each
    episode = server.open("dr-slow")
    items = [{"kind": "education", "detail": "x" * 1000}] * 20
    plan = b.plan(items=items, goals="g" * 4000)
    for _ in range(250):
        server.post(episode, "treatment-plans", plan)
    # when a client asks for the stream, then reads nothing for longer than the
    # send timeout (2 s)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", server.port))
    client.sendall(
        b"GET /physicians/dr-slow/feed/stream HTTP/1.1\r\nHost: test\r\n"
        b"Connection: close\r\n"
        b"Authorization: Bearer " + TOKENS["service"].encode() + b"\r\n\r\n"
    )
    time.sleep(3)
    # then once it reads again it gets what was sent, the goodbye, and the end
    received = b""
    client.settimeout(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (chunk := client.recv(1 << 16)):
        received += chunk
    client.close()
    assert b": dropped: this client reads too slowly" in received
    assert received.count(b"event: TreatmentPlanned") < 250
    assert received.endswith(b"\r\n0\r\n\r\n")  # the last chunk: a complete body
    # and the server goes on serving
    assert server.http.get("/healthz").status_code == 200
