"""Stores of demo events made with `care-episodes demo`, prepared once and reused.

    python -m bench.demo_store --events 1000000 [--backend postgres] [--name N]

A prepared store is a PostgreSQL database (or an SQLite file under var/bench/)
holding only the demo's events and episode index; benchmarks copy it for each
measurement (a PostgreSQL template, a file copy), so it stays as made. A JSON
file beside it says how many events it holds and how long making them took;
without that file the store is incomplete and is made again.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg

from bench.support import (
    BACKENDS,
    PREPARED_DIR,
    ROOT,
    database_url,
    prepared_exists,
    prepared_path,
    prepared_settings,
    remove_prepared,
    service_env,
)

# Events per demo episode at the default 540-day span (measured: 8.7); a store
# is asked for enough episodes to hold at least the events wanted.
EVENTS_PER_EPISODE = 8.5
SEED = 15


@dataclass(frozen=True)
class Prepared:
    """A prepared store: its name, what it holds and what making it cost."""

    backend: str
    name: str
    database_url: str
    episodes: int
    events: int
    seconds: float


def default_name(events: int) -> str:
    return f"care_bench_demo_{events}"


def _marker(backend: str, name: str) -> Path:
    return PREPARED_DIR / f"{backend}-{name}.json"


def prepare(backend: str, events: int, name: str | None = None) -> Prepared:
    """The prepared store holding about `events` demo events, made if missing."""
    name = name or default_name(events)
    marker = _marker(backend, name)
    if marker.exists() and prepared_exists(backend, name):
        return Prepared(**json.loads(marker.read_text()))
    remove_prepared(backend, name)
    settings = prepared_settings(backend, name)
    episodes = max(1, round(events / EVENTS_PER_EPISODE))
    print(f"making {backend} store {name}: {episodes:,} demo episodes ...", flush=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "infra.cli", "demo", "--episodes", str(episodes),
         "--seed", str(SEED), "--as-if-on", _yesterday()],
        cwd=Path.cwd(),
        env={**clean, "PYTHONPATH": str(ROOT), **service_env(settings),
             "CARE_AUTH_TOKENS_FILE": str(_tokens())},
        check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    made = Prepared(
        backend, name, settings.database_url, episodes, _count(backend, name), seconds
    )
    marker.write_text(json.dumps(asdict(made)))
    print(
        f"made {made.events:,} events in {seconds:.0f} s "
        f"({made.events / seconds:,.0f} events/s)",
        flush=True,
    )
    return made


def _yesterday() -> str:
    # The demo opens episodes up to 8 hours after 08:00 of its day: made as if
    # on yesterday, no clinical time lies in the future whatever the hour now.
    return (date.today() - timedelta(days=1)).isoformat()


def _count(backend: str, name: str) -> int:
    """How many events the store holds (positions are not dense on PostgreSQL)."""
    if backend == "sqlite":
        with sqlite3.connect(prepared_path(name)) as conn:
            row = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        conn.close()
        return int(row[0] or 0)
    with psycopg.connect(database_url(name)) as conn:
        row = conn.execute("SELECT COUNT(*) FROM careepisodes_events").fetchone()
        return int(row[0] or 0) if row else 0


def _tokens() -> Path:
    # A PostgreSQL store refuses to start without a tokens file; demo needs none
    # of its tokens, only a readable file.
    path = PREPARED_DIR / "tokens.json"
    if not path.exists():
        PREPARED_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps([{"token": os.urandom(16).hex(), "principal": "bench",
                         "role": "service"}])
        )  # fmt: skip
        path.chmod(0o600)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    parser.add_argument("--name", help="the prepared store's name")
    args = parser.parse_args()
    for backend in args.backend or BACKENDS:
        made = prepare(backend, args.events, args.name)
        print(
            f"{backend}: {made.name} holds {made.events:,} events "
            f"({made.episodes:,} episodes), made in {made.seconds:.0f} s"
        )


if __name__ == "__main__":
    main()
