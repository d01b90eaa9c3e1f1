"""500 readers waiting on a position the read models will not reach hold no worker
thread: liveness and writes keep their latency meanwhile."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import builders as b
from tests.support.http import auth, json_body, write_tokens_file
from tests.support.server import ServiceProcess

READERS = 500


@pytest.fixture
def service(postgres_url: str, tmp_path) -> Iterator[ServiceProcess]:
    tokens = write_tokens_file(tmp_path / "tokens.json")
    process = ServiceProcess(
        {
            "CARE_DATABASE_URL": postgres_url,
            "CARE_AUTH_TOKENS_FILE": str(tokens),
            "CARE_PROJECTIONS_IN_PROCESS": "true",
            "CARE_READ_WAIT_TIMEOUT": "20",
        }
    )
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


async def latencies(client: httpx.AsyncClient, episode_id: str, rounds: int) -> dict:
    """Seconds each liveness check and each write took, one after another."""
    health, writes = [], []
    for n in range(rounds):
        started = time.monotonic()
        assert (await client.get("/healthz")).status_code == 200
        health.append(time.monotonic() - started)
        body = json_body(b.outcome(), days=1 + n / 100)
        started = time.monotonic()
        written = await client.post(
            f"/episodes/{episode_id}/outcomes", json=body, headers=auth("clinician")
        )
        assert written.status_code == 201, written.text
        writes.append(time.monotonic() - started)
    return {"healthz": health, "writes": writes}


async def waiting_reads(client: httpx.AsyncClient) -> int:
    """How many reads the service's processes hold waiting (its metrics say)."""
    text = (await client.get("/metrics", headers=auth("auditor"))).text
    for line in text.splitlines():
        if line.startswith("care_reads_waiting_for_position "):
            return int(float(line.split()[1]))
    return 0


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def test_readers_waiting_on_a_far_position_freeze_nothing(service):
    async def scenario() -> tuple[dict, dict, list[int]]:
        limits = httpx.Limits(max_connections=READERS + 20)
        async with httpx.AsyncClient(
            base_url=service.url, timeout=30, limits=limits
        ) as client:
            opened = await client.post(
                "/episodes", json=json_body(b.referral()), headers=auth("service")
            )
            episode_id = opened.json()["episode_id"]
            before = await latencies(client, episode_id, 20)
            far = {"min_position": 10**12}
            readers = [
                asyncio.create_task(
                    client.get("/worklist", params=far, headers=auth("auditor"))
                )
                for _ in range(READERS)
            ]
            # once every reader is waiting (admitting 500 requests is a burst
            # of its own, not what this test measures)
            sent = time.monotonic()
            while await waiting_reads(client) < READERS:
                assert time.monotonic() - sent < 10, await waiting_reads(client)
                await asyncio.sleep(0.05)
            print(
                f"\n{READERS} readers waiting {time.monotonic() - sent:.2f} s after sent"
            )
            during = await latencies(client, episode_id, 20)
            assert await waiting_reads(client) == READERS  # still waiting throughout
            statuses = [(await reader).status_code for reader in readers]
            return before, during, statuses

    before, during, statuses = asyncio.run(scenario())
    # then every reader was told, after its wait or at once past the cap, 503
    assert set(statuses) == {503}
    for kind in ("healthz", "writes"):
        baseline, loaded = p95(before[kind]), p95(during[kind])
        print(
            f"\n{kind} with {READERS} readers waiting: p95 {loaded * 1000:.1f} ms "
            f"against {baseline * 1000:.1f} ms before ({loaded / baseline:.1f}x)"
        )
        assert loaded < max(4 * baseline, 0.2), (kind, baseline, loaded)
