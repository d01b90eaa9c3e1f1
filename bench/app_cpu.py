"""CPU per command of the whole app in process, without sockets or a server.

    python -m bench.app_cpu [--backend postgres --backend sqlite] [--commands 600]

For each backend, on a fresh store: the service's ASGI app (`create_app`, its
lifespan run, projections in another process's care) driven by httpx's
in-process transport, one command at a time: outcomes posted to 16 episodes in
turn. Then, in the same run, `CareEpisodes.handle` alone on the same kind of
command (the application without HTTP), and the FastAPI no-op app
(`bench.noop_app`) with the same requests. Prints this process's CPU time per
command (`time.process_time`, every thread, the client's share included) and
the ratios. The CPU, not the wall time, is what bounds the command path on a
machine with few cores; measured in one process it is free of the load
generator's and the server's scheduling.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import noop_app
from bench.command_path import TOKEN, opening, outcome, tokens_file
from bench.support import BACKENDS, fresh_store, machine, ratio
from bench.write_path import ACTOR, open_episodes_in
from domain import commands as cmd
from infra.eventstore import build_application
from infra.settings import Settings

EPISODES = 16
WARMUP = 50
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


async def _cpu_per_call(call: Callable[[int], Awaitable[None]], count: int) -> float:
    """Milliseconds of this process's CPU per call, after a warm-up."""
    for i in range(WARMUP):
        await call(i)
    started = time.process_time()
    for i in range(count):
        await call(i)
    return (time.process_time() - started) * 1000 / count


async def _over_http(app: Any, count: int, lifespan: bool) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
        if lifespan:
            opened = datetime.now(UTC) - timedelta(days=2)
            episodes = []
            for n in range(EPISODES):
                answer = await c.post(
                    "/episodes", content=opening(n, opened), headers=HEADERS
                )
                episodes.append(answer.json()["episode_id"])
        else:
            episodes = [f"00000000-0000-4000-8000-{n:012d}" for n in range(EPISODES)]
        at = datetime.now(UTC) - timedelta(hours=1)

        async def post(i: int) -> None:
            url = f"/episodes/{episodes[i % EPISODES]}/outcomes"
            answer = await c.post(url, content=outcome(i, at), headers=HEADERS)
            assert answer.status_code == 201, answer.text

        return await _cpu_per_call(post, count)


async def _service(settings: Settings, count: int) -> float:
    from api.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        return await _over_http(app, count, lifespan=True)


def _application(settings: Settings, count: int) -> float:
    at = datetime.now(UTC) - timedelta(hours=1)
    with build_application(settings) as app:
        episodes = open_episodes_in(app, EPISODES)

        async def handle(i: int) -> None:
            app.handle(
                cmd.RecordOutcome(
                    episode_id=episodes[i % EPISODES], occurred_at=at,
                    instrument="nrs_pain", score=i % 11, follows_version=None,
                ),
                actor=ACTOR,
            )  # fmt: skip

        return asyncio.run(_cpu_per_call(handle, count))


def run(backend: str, count: int) -> None:
    print(f"\n{backend}: {count} commands, one at a time; {machine()}", flush=True)
    with tempfile.TemporaryDirectory() as directory, fresh_store(backend) as base:
        settings = base.model_copy(
            update={
                "auth_tokens_file": tokens_file(Path(directory)),
                "projections_in_process": False,
            }
        )
        service = asyncio.run(_service(settings, count))
    with fresh_store(backend) as settings:
        application = _application(settings, count)
    floor = asyncio.run(_over_http(noop_app.create_app(), count, lifespan=False))
    print(f"  service (whole app, in process)  {service:6.2f} ms CPU per command")
    print(f"  CareEpisodes.handle alone        {application:6.2f} ms")
    print(f"  FastAPI no-op app, same requests {floor:6.2f} ms")
    print(f"  service / handle alone: {ratio(service, application)}")
    print(f"  service / no-op app:    {ratio(service, floor)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    parser.add_argument("--commands", type=int, default=600)
    args = parser.parse_args()
    for backend in args.backend or BACKENDS:
        run(backend, args.commands)


if __name__ == "__main__":
    main()
