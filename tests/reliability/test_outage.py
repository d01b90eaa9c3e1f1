"""A database outage through a proxy the test cuts: every request is a 503 within
2 s, /readyz within 1 s, and service resumes within 2 s of the database's return,
without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support import builders as b
from tests.support.http import auth, json_body, write_tokens_file
from tests.support.proxy import TcpProxy
from tests.support.server import ServiceProcess

OUTAGE_S = 8.0


@pytest.fixture
def cut_off(postgres_url: str, tmp_path) -> Iterator[tuple[ServiceProcess, TcpProxy]]:
    """The service (2 workers) reaching its database only through the proxy."""
    proxy = TcpProxy.to_server_of(postgres_url)
    through = proxy.through(postgres_url)
    tokens = write_tokens_file(tmp_path / "tokens.json")
    service = ServiceProcess(
        {"CARE_DATABASE_URL": through, "CARE_AUTH_TOKENS_FILE": str(tokens)}
    )
    try:
        service.wait_ready()
        yield service, proxy
    finally:
        service.stop()
        proxy.close()


def timed(call) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = call().status_code
    except httpx.TimeoutException:
        status = 0
    return status, time.monotonic() - started


def test_an_outage_answers_503_fast_and_service_resumes_by_itself(cut_off):
    service, proxy = cut_off
    # No keep-alive: a connection idle past uvicorn's keep-alive would be reset
    # under the client, which is not what this test is about.
    client = httpx.Client(
        base_url=service.url,
        timeout=10,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    opened = client.post(
        "/episodes", json=json_body(b.referral()), headers=auth("service")
    )
    episode_id = opened.json()["episode_id"]

    def write():
        body = json_body(b.outcome(), days=1)
        return client.post(
            f"/episodes/{episode_id}/outcomes", json=body, headers=auth("clinician")
        )

    def read():
        return client.get(f"/episodes/{episode_id}", headers=auth("auditor"))

    def ready():
        return client.get("/readyz")

    # when the database goes away
    proxy.cut()
    cut_at = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda f: timed(f), [write, read] * 8))
    readiness = [timed(ready) for _ in range(3)]
    # then every request is refused quickly, and readiness says so
    assert {status for status, _ in answers} == {503}, answers
    slowest = max(seconds for _, seconds in answers)
    assert slowest < 2.0, answers
    assert {status for status, _ in readiness} == {503}
    assert max(seconds for _, seconds in readiness) < 1.0, readiness
    # and it stays so for as long as the outage lasts (connections the pool opens
    # meanwhile hang unanswered: its own timeouts must end them)
    while time.monotonic() - cut_at < OUTAGE_S:
        for call in (write, read):
            status, seconds = timed(call)
            assert status == 503 and seconds < 2.0, (status, seconds)
            slowest = max(slowest, seconds)
        time.sleep(0.2)
    # and when it comes back, service resumes within 2 s without a restart
    proxy.restore()
    back_at = time.monotonic()
    # back means every worker answers again: several writes and reads in a row
    recent: list[int] = []
    while recent[-6:] != [201, 200] * 3:
        assert time.monotonic() - back_at < 2.0, f"not resumed within 2 s: {recent}"
        recent += [write().status_code, read().status_code]
        if recent[-2:] != [201, 200]:
            time.sleep(0.05)
    resumed = time.monotonic() - back_at
    assert ready().status_code == 200
    print(
        f"\noutage of {OUTAGE_S:.0f} s: every request answered 503, "
        f"the slowest in {slowest:.2f} s; "
        f"/readyz 503 in at most {max(s for _, s in readiness):.2f} s; "
        f"service resumed {resumed:.2f} s after the database returned"
    )
