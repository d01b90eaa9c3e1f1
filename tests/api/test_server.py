"""A real uvicorn server with two worker processes on PostgreSQL, under concurrent writes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support import builders as b
from tests.support.http import auth, json_body, write_tokens_file
from tests.support.postgres import DatabaseFactory
from tests.support.server import ServiceProcess

WRITERS = 32


@pytest.fixture(scope="module")
def server(
    postgres_databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`care-episodes serve --workers 2` on a fresh PostgreSQL database, shared by
    this module's tests (each writes to episodes of its own)."""
    postgres_url = postgres_databases.take()
    tokens = write_tokens_file(tmp_path_factory.mktemp("server") / "tokens.json")
    service = ServiceProcess(
        {"CARE_DATABASE_URL": postgres_url, "CARE_AUTH_TOKENS_FILE": str(tokens)}
    )
    try:
        service.wait_ready()
        yield service.url
    finally:
        service.stop()
        postgres_databases.give_back(postgres_url)


def fire(base: str, episode_id: str, headers: dict[str, str]) -> list[int]:
    """WRITERS outcomes posted at once; the status each got."""
    statuses: list[int] = [0] * WRITERS
    start = threading.Barrier(WRITERS)

    def write(i: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            start.wait()
            response = client.post(
                f"/episodes/{episode_id}/outcomes",
                json=json_body(b.outcome(score=i % 100), days=1),
                headers={**auth("clinician"), **headers},
            )
            statuses[i] = response.status_code

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def open_episode(base: str) -> str:
    response = httpx.post(
        f"{base}/episodes", json=json_body(b.referral(), 0), headers=auth("service")
    )
    assert response.status_code == 201, response.text
    return response.json()["episode_id"]


def history_types(base: str, episode_id: str) -> list[str]:
    response = httpx.get(
        f"{base}/episodes/{episode_id}/history",
        params={"limit": 500},
        headers=auth("auditor"),
    )
    return [item["type"] for item in response.json()["items"]]


@pytest.mark.postgres
@pytest.mark.slow
def test_32_concurrent_writers_lose_nothing_and_overwrite_nothing(server):
    episode_id = open_episode(server)
    statuses = fire(server, episode_id, {})
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {201, 409}, statuses
    succeeded = statuses.count(201)
    print(
        f"{succeeded} of {WRITERS} writes applied, {statuses.count(409)} refused (409)"
    )
    state = httpx.get(f"{server}/episodes/{episode_id}", headers=auth("auditor")).json()
    assert state["version"] == 1 + succeeded
    assert (
        history_types(server, episode_id)
        == ["ReferralReceived"] + ["OutcomeRecorded"] * succeeded
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_32_concurrent_writers_with_the_same_if_match_one_wins(server):
    episode_id = open_episode(server)
    statuses = fire(server, episode_id, {"If-Match": '"1"'})
    assert statuses.count(201) == 1 and statuses.count(412) == WRITERS - 1, statuses
    assert history_types(server, episode_id) == ["ReferralReceived", "OutcomeRecorded"]
