"""The command path over HTTP: the service against its floor and the database's.

    python -m bench.command_path [--backend postgres --backend sqlite]
        [--connections 16] [--seconds 15] [--warmup 3] [--workers 2] [--plain-too]

For each backend, in one run: `care-episodes serve` (PostgreSQL with `--workers`
workers, no projector beside it; SQLite embedded with one worker, its projections
in the same process, as the embedded default runs) on a fresh store; episodes
opened first, then 16 keep-alive clients each posting outcomes to episodes of
their own (`POST /episodes/{id}/outcomes`, closed loop). Then the FastAPI no-op
app (bench.noop_app: the same requests, bodies and workers, served the same way)
and, on PostgreSQL, pgbench's single-row INSERT at the same concurrency (the
database's own limit on this machine). Prints req/s, p50 and p99 of each and the
service's ratios to both floors, and the SQL statements the server received per
command (from its log, with `log_statement = all` set on the bench database for
a sequential sample of commands).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import loadgen
from bench.support import (
    admin,
    child_process,
    fresh_store,
    machine,
    pgbench,
    ratio,
    service_env,
)
from infra.settings import Settings

TOKEN = "bench-service-token-0123456789"
PG_LOG = Path("/var/log/postgresql/postgresql-15-main.log")
EPISODES_PER_CONNECTION = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(command: list[str], env: dict[str, str]) -> Iterator[int]:
    """A server process on a free port until the block ends; its port."""
    port = free_port()
    with child_process([*command, "--port", str(port)], env) as (process, log):
        deadline = time.monotonic() + 60
        while True:
            try:
                loadgen.send_all("127.0.0.1", port, [loadgen.request("GET", "/readyz")])
                break
            except (OSError, RuntimeError):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(log.read().decode()[-3000:]) from None
                time.sleep(0.2)
        yield port


def tokens_file(directory: Path) -> Path:
    path = directory / "tokens.json"
    entry = {"token": TOKEN, "principal": "svc-bench", "role": "service"}
    path.write_text(json.dumps([entry]))
    path.chmod(0o600)
    return path


def opening(n: int, opened_at: datetime) -> bytes:
    body = {
        "occurred_at": opened_at.isoformat(),
        "patient_id": f"pt-bench-{n:05d}",
        "referrer": {"id": f"dr-pc-{n % 40}", "name": "Dr P", "role": "primary_care"},
        "receiving_service": "pain_medicine",
        "reason": "low back pain",
    }
    return json.dumps(body).encode()


def outcome(n: int, at: datetime) -> bytes:
    body = {
        "occurred_at": at.isoformat(),
        "instrument": "nrs_pain",
        "score": n % 11,
        "follows_version": None,
    }
    return json.dumps(body).encode()


AUTH = (f"Authorization: Bearer {TOKEN}",)


def open_episodes(port: int, count: int) -> list[str]:
    opened_at = datetime.now(UTC) - timedelta(days=2)
    answers = loadgen.send_all(
        "127.0.0.1", port,
        [loadgen.request("POST", "/episodes", opening(n, opened_at), AUTH)
         for n in range(count)],
    )  # fmt: skip
    return [json.loads(a)["episode_id"] for a in answers]


def command_requests(episodes: list[str], connections: int) -> list[list[bytes]]:
    """Per connection: outcomes to its own episodes, in turn."""
    at = datetime.now(UTC) - timedelta(hours=1)
    return [
        [
            loadgen.request(
                "POST", f"/episodes/{episode}/outcomes", outcome(i, at), AUTH
            )
            for i, episode in enumerate(
                episodes[
                    c * EPISODES_PER_CONNECTION : (c + 1) * EPISODES_PER_CONNECTION
                ]
            )
        ]
        for c in range(connections)
    ]


def statements_per_command(
    settings: Settings, serve: list[str], env: dict[str, str], episodes: list[str]
) -> float:
    """SQL statements the server logged per command, over a sequential sample
    sent to a server started with `log_statement = all` on its database."""
    name = settings.database_url.rsplit("/", 1)[1]
    if not os.access(PG_LOG, os.R_OK):
        return float("nan")
    at = datetime.now(UTC) - timedelta(minutes=30)
    requests = [
        loadgen.request("POST", f"/episodes/{e}/outcomes", outcome(i, at), AUTH)
        for i, e in enumerate(episodes[:50])
    ]
    admin(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'")
    try:
        with server(serve, env) as port:
            loadgen.send_all("127.0.0.1", port, requests[:5])  # connections made
            # A pooled connection idle for over a second is pinged when taken
            # again: sent at the rate of the load, the sample sees what it sees.
            with PG_LOG.open("rb") as log:
                log.seek(0, 2)
                loadgen.send_all("127.0.0.1", port, requests[5:])
                time.sleep(0.5)
                text = log.read().decode(errors="replace")
    finally:
        admin(f'ALTER DATABASE "{name}" RESET log_statement')
    pattern = re.compile(rf"@{re.escape(name)} LOG:  (statement|execute [^:]*):")
    return len(pattern.findall(text)) / len(requests[5:])


def plain_against_sealed(backend: str, args: argparse.Namespace, sealed: float) -> None:
    """The same service load on a fresh store with payloads in plain
    (CARE_ENCRYPT_EVENTS=false): what per-patient sealing costs over HTTP."""
    workers = args.workers if backend == "postgres" else 1
    count = args.connections * EPISODES_PER_CONNECTION
    with tempfile.TemporaryDirectory() as directory, fresh_store(backend) as settings:
        env = {
            **service_env(settings),
            "CARE_AUTH_TOKENS_FILE": str(tokens_file(Path(directory))),
            "CARE_ENCRYPT_EVENTS": "false",
        }
        if backend == "sqlite":
            env["CARE_DATABASE_URL"] = f"sqlite:///{Path(directory) / 'care.db'}"
        with server(["infra.cli", "serve", "--workers", str(workers)], env) as port:
            episodes = open_episodes(port, count)
            requests = command_requests(episodes, args.connections)
            plain = loadgen.run(
                "127.0.0.1", port, requests, warmup=args.warmup, seconds=args.seconds
            )
    print(f"  plain    {plain.line()}")
    print(f"  sealed / plain: {ratio(sealed, plain.rate)} (issue #17: within 10 %)")


def run_backend(backend: str, args: argparse.Namespace) -> None:
    workers = args.workers if backend == "postgres" else 1
    count = args.connections * EPISODES_PER_CONNECTION
    print(
        f"\n{backend}: {args.connections} connections, {workers} worker(s); {machine()}"
    )
    with tempfile.TemporaryDirectory() as directory, fresh_store(backend) as settings:
        env = {
            **service_env(settings),
            "CARE_AUTH_TOKENS_FILE": str(tokens_file(Path(directory))),
        }
        if backend == "sqlite":
            # The embedded store in its own file of this run.
            env["CARE_DATABASE_URL"] = f"sqlite:///{Path(directory) / 'care.db'}"
        serve = ["infra.cli", "serve", "--workers", str(workers)]
        with server(serve, env) as port:
            episodes = open_episodes(port, count)
            requests = command_requests(episodes, args.connections)
            service = loadgen.run(
                "127.0.0.1", port, requests, warmup=args.warmup, seconds=args.seconds
            )
        per_command = (
            statements_per_command(settings, serve, env, episodes)
            if backend == "postgres"
            else None
        )
        noop_command = ["bench.noop_app", "--workers", str(workers)]
        with server(noop_command, {}) as port:
            floor = loadgen.run(
                "127.0.0.1", port, requests, warmup=args.warmup, seconds=args.seconds
            )
        print(f"  service  {service.line()}")
        print(f"  no-op    {floor.line()}")
        print(f"  service / no-op floor: {ratio(service.rate, floor.rate)}")
        if backend == "postgres":
            tps, latency = pgbench(settings, args.connections, args.seconds)
            print(
                f"  pgbench  {tps:8,.0f} single-row INSERTs/s "
                f"(latency average {latency:.1f} ms)"
            )
            print(f"  service / pgbench INSERT: {ratio(service.rate, tps)}")
            print(f"  SQL statements per command: {per_command:.1f}")
        target = "met" if service.p99 < 50 else "NOT met"
        print(f"  service p99 {service.p99:.1f} ms (target < 50 ms: {target})")
    if args.plain_too:
        plain_against_sealed(backend, args, service.rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=["postgres", "sqlite"])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument(
        "--plain-too",
        action="store_true",
        help="also run the service with payloads in plain: the cost of sealing",
    )
    args = parser.parse_args()
    for backend in args.backend or ["postgres", "sqlite"]:
        run_backend(backend, args)


if __name__ == "__main__":
    main()
