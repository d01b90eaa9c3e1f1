"""32 clients through real uvicorn (2 workers) on PostgreSQL, mixed commands on many
episodes and a few hot ones, the projector SIGKILLed again and again meanwhile:
every acknowledged command is in the history exactly once, and the read models,
caught up, equal a rebuild."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from infra.catalog import build_projections
from infra.eventstore import build_application
from infra.projection import ReadModels, rebuild
from infra.settings import Settings
from tests.support import builders as b
from tests.support import projections as ps
from tests.support.http import auth, json_body, write_tokens_file
from tests.support.server import ROOT, TEST_KEY_ENV, ServiceProcess

CLIENTS = 32
LOAD_S = 20.0
EPISODES = 40
HOT = 3
KILL_EVERY_S = 3.0


class Projector:
    """`care-episodes project` processes, one at a time, killed on demand."""

    def __init__(self, env: dict[str, str]) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
        self.env = {**clean, "PYTHONPATH": str(ROOT), **TEST_KEY_ENV, **env}
        self.kills = 0
        # Every projector's log lines, in one file (a pipe nobody reads would block).
        self.log = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "project", "--poll-interval", "0.1"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        """What the projectors have written so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill_and_restart(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1
        self.process = self._start()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Tally:
    """What the clients saw."""

    acked: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    """idempotency key -> (episode id, version, position) of each 201."""
    statuses: Counter[int] = field(default_factory=Counter)
    replays: int = 0
    latest: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def deployment(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Any, ...]]:
    tokens = write_tokens_file(tmp_path / "tokens.json")
    env = {"CARE_DATABASE_URL": postgres_url, "CARE_AUTH_TOKENS_FILE": str(tokens)}
    service = ServiceProcess({**env, "CARE_PROJECTIONS_IN_PROCESS": "false"})
    projector = Projector(env)
    try:
        service.wait_ready()
        yield service, projector, postgres_url
    finally:
        projector.stop()
        service.stop()


COMMANDS = [
    ("outcomes", lambda rng: b.outcome(score=rng.randint(0, 100))),
    ("conservative-care", lambda rng: b.conservative_care()),
    ("diagnostics", lambda rng: b.mri()),
    ("red-flag-screenings", lambda rng: b.screening()),
    ("assignments", lambda rng: b.assignment(clinician_id=f"clin-{rng.randint(1, 4)}")),
    ("consult-notes", lambda rng: b.consult_note()),
    ("treatment-plans", lambda rng: b.plan()),
    ("interventions", lambda rng: b.esi()),
]


async def client_loop(
    client: httpx.AsyncClient,
    episodes: list[str],
    tally: Tally,
    seed: int,
    deadline: float,
) -> None:
    """Mixed commands until the deadline: a few hot episodes take most of them,
    some name the version they expect, and some are sent twice with one key."""
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        hot = rng.random() < 0.4
        episode_id = rng.choice(episodes[:HOT] if hot else episodes[HOT:])
        path, build = rng.choice(COMMANDS)
        body = json_body(build(rng), days=1 + rng.random() * 200)
        key = str(uuid.uuid4())
        headers = {**auth("clinician"), "Idempotency-Key": key}
        if rng.random() < 0.1 and episode_id in tally.latest:
            headers["If-Match"] = f'"{tally.latest[episode_id]}"'
        url = f"/episodes/{episode_id}/{path}"
        response = await client.post(url, json=body, headers=headers)
        tally.statuses[response.status_code] += 1
        while response.status_code == 503 and time.monotonic() < deadline + 30:
            # a busy store: retry as told, with the same key, as a client should
            assert response.json()["type"].endswith("store-busy"), response.text
            await asyncio.sleep(float(response.headers["Retry-After"]))
            response = await client.post(url, json=body, headers=headers)
            tally.statuses[response.status_code] += 1
        if response.status_code != 201:
            assert response.status_code in (409, 412), response.text
            continue
        answer = response.json()
        tally.acked[key] = (episode_id, answer["version"], answer["position"])
        tally.latest[episode_id] = max(
            tally.latest.get(episode_id, 0), answer["version"]
        )
        if rng.random() < 0.05:
            # a client that lost the answer sends the same command again
            again = await client.post(url, json=body, headers=headers)
            assert again.status_code in (200, 201), again.text
            assert again.headers.get("Idempotent-Replayed") == "true"
            assert again.json() == answer
            tally.replays += 1


async def run_load(base_url: str, tally: Tally) -> list[str]:
    # idle connections expire here before the server's 5 s keep-alive closes them,
    # so no request is sent on a connection the server is closing at that moment
    limits = httpx.Limits(max_connections=CLIENTS + 4, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as c:
        episodes = []
        for n in range(EPISODES):
            referrer = {
                "id": f"dr-pc-{n % 5 + 1}",
                "name": "Dr P",
                "role": "primary_care",
            }
            body = json_body(b.referral(patient_id=f"pt-{n:04}", referrer=referrer), 0)
            opened = await c.post("/episodes", json=body, headers=auth("service"))
            assert opened.status_code == 201, opened.text
            episodes.append(opened.json()["episode_id"])
        deadline = time.monotonic() + LOAD_S
        await asyncio.gather(
            *(client_loop(c, episodes, tally, n, deadline) for n in range(CLIENTS))
        )
    return episodes


def caught_up(base_url: str, timeout_s: float, projector: Projector) -> float:
    """Seconds until every projection has processed the head (fails past timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        status = httpx.get(
            f"{base_url}/projections", headers=auth("auditor"), timeout=5
        ).json()["projections"]
        if all(p["position"] == p["head"] and p["state"] == "active" for p in status):
            return time.monotonic() - started
        time.sleep(0.2)
    said = "\n".join(projector.output().splitlines()[-20:])
    pytest.fail(
        f"the projections did not catch up within {timeout_s} s: {status}\n"
        f"the projectors said:\n{said}"
    )


def test_every_acknowledged_command_is_recorded_once_and_read_models_equal_a_rebuild(
    deployment,
):
    service, projector, database_url = deployment
    tally = Tally()
    stop_killing = threading.Event()

    def killer() -> None:
        while not stop_killing.wait(KILL_EVERY_S):
            projector.kill_and_restart()

    killing = threading.Thread(target=killer)
    killing.start()
    started = time.monotonic()
    try:
        episodes = asyncio.run(run_load(service.url, tally))
    except (AssertionError, httpx.TransportError) as error:
        # what the service said about its store or its workers, beside the failure
        said = [
            line
            for line in service.output().splitlines()
            if "store" in line or '"level": "error"' in line or "Child" in line
        ]
        log = "\n".join(said[-20:])
        raise AssertionError(f"{error}\nservice log:\n{log}") from error
    finally:
        stop_killing.set()
        killing.join()
    load_s = time.monotonic() - started
    recovery_s = caught_up(service.url, timeout_s=120, projector=projector)
    projector.stop()

    # every acknowledged command's event is in the history exactly once, where
    # its answer said, and nothing else was recorded
    settings = Settings(database_url=database_url)
    with build_application(settings) as app:
        keys: Counter[str] = Counter()
        events = 0
        for episode_id in episodes:
            for entry in app.history(UUID(episode_id)):
                events += 1
                if entry.idempotency_key is None:
                    continue
                keys[entry.idempotency_key] += 1
                assert tally.acked[entry.idempotency_key] == (
                    episode_id,
                    entry.version,
                    entry.position,
                )
        assert set(keys) == set(tally.acked)
        assert set(keys.values()) == {1}
        assert events == EPISODES + len(tally.acked)

        # and the read models the killed projectors left equal a rebuild
        projections = build_projections(settings)
        reads = ReadModels(app, projections)
        for projection in projections:
            served = ps.actual_views(reads, projection)
            assert any(served.values()), projection.name
            rebuild(app, settings, projection)
            assert ps.actual_views(reads, projection) == served, projection.name

    conflicts = tally.statuses[409] + tally.statuses[412]
    print(
        f"\n{sum(tally.statuses.values())} commands from {CLIENTS} clients in "
        f"{load_s:.1f} s ({sum(tally.statuses.values()) / load_s:.0f}/s): "
        f"{len(tally.acked)} acknowledged, {conflicts} conflicts "
        f"({tally.statuses[412]} stale If-Match, {tally.statuses[409]} refused), "
        f"{tally.replays} idempotent replays, {tally.statuses[503]} busy and retried; "
        f"{projector.kills} projector SIGKILLs; "
        f"{events} events verified exactly once; read models caught up "
        f"{recovery_s:.1f} s after the load and equal a rebuild"
    )
    assert projector.kills >= 4
