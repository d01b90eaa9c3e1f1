"""Projection lag under a steady write load: acknowledgement to visibility.

    python -m bench.lag [--backend postgres --backend sqlite] [--rate 200]
        [--seconds 20] [--connections 32] [--workers 2]

For each backend, on a fresh store: the service as deployed (PostgreSQL:
`care-episodes serve --workers 2` with `care-episodes project` in a process of
its own; SQLite: the embedded default, one worker running the projections in
process), episodes opened first, then outcomes posted at a steady `--rate`
commands/s (open loop: a command is sent at its scheduled instant on a free
keep-alive connection, whatever the answers before it took). A separate
observer process reads every read model's serving position (the registry row
the read side's read-your-writes wait reads) every 2 ms and notes when each
position was first seen; the load starts once it has made its first poll. A
command's lag in a read model is the time from its acknowledgement (the answer,
carrying the event's position, read by the client) to the first observation of
that read model at or past the position.
Prints the rate reached, the command's own p50/p99 (the same run's baseline)
and per read model the lag's p50/p99 and its ratio to the command's p99.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench import loadgen
from bench.command_path import AUTH, open_episodes, outcome, server, tokens_file
from bench.support import child_process, fresh_store, machine, p50_p99, service_env
from infra.projection.registry import TABLE

POLL_S = 0.002
EPISODES_PER_CONNECTION = 4


@contextmanager
def background(command: list[str], env: dict[str, str]) -> Iterator[None]:
    """A process without a port (the projector) until the block ends."""
    with child_process(command, env):
        yield


# -- the observer (a process of its own, so it takes no time from the client) --


def _positions_reader(url: str) -> Any:
    query = f"SELECT name, position FROM {TABLE} WHERE role = 'serving'"
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        return lambda: conn.execute(query).fetchall()
    pg = psycopg.connect(url, autocommit=True)
    return lambda: pg.execute(query).fetchall()


def observe(url: str, stop_file: Path) -> None:
    """Poll serving positions until `stop_file` exists; print, per read model,
    the (monotonic time, position) of each change first seen, as one JSON line.

    The file `<stop_file>.ready` is made after the first poll that read every
    read model: commands sent before it would count the observer's own start
    (about 0.4 s here) as their lag."""
    read = _positions_reader(url)
    seen: dict[str, list[tuple[float, int]]] = {}
    polls = 0
    ready = stop_file.with_name(stop_file.name + ".ready")
    while not stop_file.exists():
        try:
            rows = read()
        except (sqlite3.Error, psycopg.Error):
            rows = []  # not made yet, or locked for a moment
        now = time.monotonic()  # after the answer: the latest it was visible
        polls += 1
        for name, position in rows:
            changes = seen.setdefault(name, [])
            if not changes or changes[-1][1] != int(position):
                changes.append((now, int(position)))
        if rows and not ready.exists():
            ready.touch()
        time.sleep(POLL_S)
    print(json.dumps({"polls": polls, "seen": seen}), flush=True)


@contextmanager
def observer(url: str) -> Iterator[dict[str, Any]]:
    """The observer process over the block; its observations once it ended."""
    with tempfile.TemporaryDirectory() as directory:
        stop_file = Path(directory) / "stop"
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.lag", "--observe", url,
             "--stop-file", str(stop_file)],
            cwd=Path.cwd(), stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        found: dict[str, Any] = {}
        ready = stop_file.with_name(stop_file.name + ".ready")
        deadline = time.monotonic() + 60
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the observer did not start polling")
            time.sleep(0.01)
        try:
            yield found
        finally:
            stop_file.touch()
            out, _ = process.communicate(timeout=60)
            found.update(json.loads(out.strip().splitlines()[-1]))


# -- the steady load --


async def _steady(
    port: int, requests: list[list[bytes]], rate: float, seconds: float
) -> tuple[list[tuple[float, float, int]], int]:
    """Send `rate` commands/s for `seconds`; (sent, acknowledged, position) of
    each answered command and how many were sent late (no connection free)."""
    free: asyncio.Queue[tuple[Any, Any, int]] = asyncio.Queue()
    for index in range(len(requests)):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        free.put_nowait((reader, writer, index))
    done: list[tuple[float, float, int]] = []
    late = 0
    turns = [0] * len(requests)

    async def one(conn: tuple[Any, Any, int], n: int) -> None:
        reader, writer, index = conn
        mine = requests[index]
        sent = time.monotonic()
        status, body = await loadgen.exchange(reader, writer, mine[n % len(mine)])
        acked = time.monotonic()
        free.put_nowait(conn)
        if status < 300:
            done.append((sent, acked, int(json.loads(body)["position"])))

    start = time.monotonic() + 0.2
    total = int(rate * seconds)
    tasks = []
    for i in range(total):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if free.empty():
            late += 1
        conn = await free.get()
        tasks.append(asyncio.create_task(one(conn, turns[conn[2]])))
        turns[conn[2]] += 1
    await asyncio.gather(*tasks)
    while not free.empty():
        _, writer, _ = free.get_nowait()
        writer.close()
    return done, late


def command_requests(episodes: list[str], connections: int) -> list[list[bytes]]:
    at = datetime.now(UTC) - timedelta(hours=1)
    per = len(episodes) // connections
    return [
        [
            loadgen.request("POST", f"/episodes/{e}/outcomes", outcome(i, at), AUTH)
            for i, e in enumerate(episodes[c * per : (c + 1) * per])
        ]
        for c in range(connections)
    ]


def lags(
    commands: list[tuple[float, float, int]], changes: list[tuple[float, int]]
) -> tuple[list[float], int]:
    """Per command, ms from acknowledgement to the first observation at or past
    its position (0 if seen before the answer arrived); and how many never were."""
    times = [t for t, _ in changes]
    positions = [p for _, p in changes]
    found, missing = [], 0
    for _, acked, position in commands:
        i = bisect.bisect_left(positions, position)
        if i == len(positions):
            missing += 1
            continue
        found.append(max(0.0, times[i] - acked) * 1000)
    return found, missing


def wait_for_head(url: str, head: int, timeout_s: float = 120) -> None:
    read = _positions_reader(url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = read()
        if rows and min(int(p) for _, p in rows) >= head:
            return
        time.sleep(0.05)


def run_backend(backend: str, args: argparse.Namespace) -> None:
    workers = args.workers if backend == "postgres" else 1
    setup = (
        f"serve --workers {workers} + `care-episodes project`"
        if backend == "postgres"
        else "embedded: serve, projections in process"
    )
    print(f"\n{backend} ({setup}), {args.rate:.0f} commands/s for {args.seconds:.0f} s,"
          f" {args.connections} connections; {machine()}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as directory, fresh_store(backend) as settings:
        env = {
            **service_env(settings),
            "CARE_AUTH_TOKENS_FILE": str(tokens_file(Path(directory))),
        }
        if backend == "sqlite":
            env["CARE_DATABASE_URL"] = f"sqlite:///{Path(directory) / 'care.db'}"
        url = env["CARE_DATABASE_URL"]
        if url.startswith("postgresql"):
            url = settings.database_url
        serve = ["infra.cli", "serve", "--workers", str(workers)]
        projector = ["infra.cli", "project"] if backend == "postgres" else None
        with (
            server(serve, env) as port,
            background(projector, env) if projector else _nothing(),
        ):
            episodes = open_episodes(port, args.connections * EPISODES_PER_CONNECTION)
            requests = command_requests(episodes, args.connections)
            # Warm: every connection made and every read model past the openings.
            asyncio.run(_steady(port, requests, min(args.rate, 50), 2))
            time.sleep(1)
            with observer(url) as seen:
                commands, late = asyncio.run(
                    _steady(port, requests, args.rate, args.seconds)
                )
                wait_for_head(url, max(p for _, _, p in commands))
                time.sleep(0.05)
    span = max(a for _, a, _ in commands) - min(s for s, _, _ in commands)
    latency = [(a - s) * 1000 for s, a, _ in commands]
    c50, c99 = p50_p99(latency)
    print(
        f"  reached {len(commands) / span:6.0f} commands/s ({late} sent late: no "
        f"connection free); command p50 {c50:.1f} ms, p99 {c99:.1f} ms; "
        f"{seen['polls']} observer polls",
        flush=True,
    )
    for name, changes in sorted(seen["seen"].items()):
        found, missing = lags(commands, changes)
        if not found:
            print(f"  {name:<17} never seen ({missing} commands)")
            continue
        l50, l99 = p50_p99(found)
        target = "met" if l99 < 100 else "NOT met"
        print(
            f"  {name:<17} lag p50 {l50:6.1f} ms, p99 {l99:6.1f} ms "
            f"(p99 / command p99 {l99 / c99:4.2f}x; < 100 ms: {target})"
            + (f"; {missing} never seen" if missing else ""),
            flush=True,
        )


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=["postgres", "sqlite"])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--observe")
    parser.add_argument("--stop-file", type=Path)
    args = parser.parse_args()
    if args.observe:
        observe(args.observe, args.stop_file)
        return
    for backend in args.backend or ["postgres", "sqlite"]:
        run_backend(backend, args)


if __name__ == "__main__":
    main()
