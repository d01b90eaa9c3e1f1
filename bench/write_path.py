"""The store's write path without HTTP: commands through `CareEpisodes.handle`.

    python -m bench.write_path [--processes 2] [--threads 8] [--seconds 10]

On a fresh PostgreSQL store: `--processes` processes, each with its own
application and `--threads` threads, each thread recording outcomes on episodes
of its own (closed loop: decide on the stored state, seal, chain, insert, commit),
for `--seconds`. Then, in the same run and at the same concurrency, pgbench with
one single-row INSERT per transaction (the database's own limit here) and with
`BEGIN; LOCK TABLE ... IN EXCLUSIVE MODE; INSERT; COMMIT` (what every writer paid
while the events table was locked). Prints commands/s, p50/p99 and the ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from bench.support import fresh_store, machine, p50_p99, pgbench, ratio
from domain import commands as cmd
from domain.application import CareEpisodes
from domain.values import Actor, PrincipalRole
from infra.eventstore import build_application
from infra.settings import Settings

ACTOR = Actor("svc-bench", PrincipalRole.SERVICE)
EPISODES_PER_THREAD = 4


def open_episodes(settings: Settings, count: int) -> list[UUID]:
    with build_application(settings) as app:
        return open_episodes_in(app, count)


def open_episodes_in(app: CareEpisodes, count: int) -> list[UUID]:
    """`count` episodes opened two days ago, each by its own patient."""
    opened_at = datetime.now(UTC) - timedelta(days=2)
    return [
        app.handle(
            cmd.OpenEpisode(
                occurred_at=opened_at,
                patient_id=f"pt-bench-{n:05d}",
                referrer={"id": f"dr-pc-{n % 40}", "name": "Dr P",
                          "role": "primary_care"},
                receiving_service="pain_medicine",
                reason="low back pain",
            ),
            actor=ACTOR,
        ).episode_id
        for n in range(count)
    ]  # fmt: skip


def writer_process(
    settings: Settings,
    episodes: list[UUID],
    threads: int,
    start_at: float,
    seconds: float,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    """One process: its threads post outcomes until the window ends; latencies out."""
    at = datetime.now(UTC) - timedelta(hours=1)
    with build_application(settings) as app:
        latencies: list[float] = []
        lock = threading.Lock()

        def work(mine: list[UUID]) -> None:
            done: list[float] = []
            n = 0
            while time.time() < start_at:
                time.sleep(0.001)
            while time.time() < start_at + seconds:
                command = cmd.RecordOutcome(
                    episode_id=mine[n % len(mine)], occurred_at=at,
                    instrument="nrs_pain", score=n % 11, follows_version=None,
                )  # fmt: skip
                began = time.perf_counter()
                app.handle(command, actor=ACTOR)
                done.append((time.perf_counter() - began) * 1000)
                n += 1
            with lock:
                latencies.extend(done)

        share = [
            episodes[i * EPISODES_PER_THREAD : (i + 1) * EPISODES_PER_THREAD]
            for i in range(threads)
        ]
        pool = [threading.Thread(target=work, args=(s,)) for s in share]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    out.put(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    writers = args.processes * args.threads
    print(f"\nwrite path, PostgreSQL: {args.processes} process(es) x {args.threads} "
          f"thread(s); {machine()}")  # fmt: skip
    with fresh_store("postgres") as settings:
        episodes = open_episodes(settings, writers * EPISODES_PER_THREAD)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        start_at = time.time() + 5  # every process built its application by then
        per = args.threads * EPISODES_PER_THREAD
        processes = [
            context.Process(
                target=writer_process,
                args=(
                    settings,
                    episodes[p * per : (p + 1) * per],
                    args.threads,
                    start_at,
                    args.seconds,
                    out,
                ),
            )
            for p in range(args.processes)
        ]
        for process in processes:
            process.start()
        latencies = [ms for _ in processes for ms in out.get()]
        for process in processes:
            process.join()
        rate = len(latencies) / args.seconds
        plain, _ = pgbench(settings, writers, args.seconds)
        locked, _ = pgbench(settings, writers, args.seconds, locked=True)
    p50, p99 = p50_p99(latencies)
    print(f"  commands   {rate:8,.0f}/s, p50 {p50:6.1f} ms, p99 {p99:6.1f} ms")
    print(f"  pgbench single-row INSERT        {plain:8,.0f} tps")
    print(f"  pgbench INSERT under LOCK TABLE  {locked:8,.0f} tps")
    print(f"  commands / pgbench INSERT: {ratio(rate, plain)}")
    print(f"  commands / pgbench under the lock: {ratio(rate, locked)}")


if __name__ == "__main__":
    main()
