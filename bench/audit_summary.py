"""The referral-loop audit summary at 1 000, 10 000 and 100 000 episodes.

    python -m bench.audit_summary [--sizes 1000 10000 100000] [--calls 30]
                                  [--backend sqlite --backend postgres]

For each backend and size: a fresh store, episodes built through the domain (a
realistic mix of the pathways of DOMAIN.md: the flipped pathway, the surgeon ->
injections -> surgeon loop, conservative care, ESI series that repeat across a
patient's episodes, red flags, open referral loops; 300 referrers and 30
surgeons at every size), the audit caught up, then the summary timed over
repeated calls (p50, p99). Prints the figures and each size's time against the
size ten times smaller. On PostgreSQL the tables are vacuumed and analysed after
the catch-up, as autovacuum would.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.audit_pathways import seed
from infra.eventstore import build_application
from infra.projection import Engine, EngineOptions, ReadModels
from infra.settings import Settings
from infra.views.referral_audit import SqlReferralAuditView
from projections.referral_audit import ReferralAuditProjection, audit_rules

ADMIN_URL = os.environ.get(
    "CARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def fresh_store(backend: str) -> Iterator[Settings]:
    """Settings for a new, empty store, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield Settings(database_url=f"sqlite:///{Path(directory) / 'bench.db'}")
        return
    name = f"care_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(database_url=f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Figures:
    backend: str
    episodes: int
    events: int
    seed_s: float
    catch_up_s: float
    p50_ms: float
    p99_ms: float
    flagged: int


def measure(backend: str, episodes: int, calls: int) -> Figures:
    with fresh_store(backend) as settings, build_application(settings) as app:
        started = time.perf_counter()
        seed(app, episodes)
        seeded = time.perf_counter() - started
        audit = ReferralAuditProjection(audit_rules("payer"))
        engine = Engine(app, settings, [audit], EngineOptions(batch_size=500))
        started = time.perf_counter()
        engine.catch_up()
        caught_up = time.perf_counter() - started
        engine.close()
        if backend == "postgres":
            # What autovacuum does after a bulk catch-up: statistics for the
            # planner, dead row versions of the counters (updated in place) gone.
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        view = SqlReferralAuditView(ReadModels(app, [audit]), audit.rules)
        for _ in range(3):  # warm the caches and the plan
            summary = view.summary(datetime.now(UTC))
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            summary = view.summary(datetime.now(UTC))
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        return Figures(
            backend, summary.episodes, app.recorder.count_events(),
            seeded, caught_up, statistics.median(times), p99, summary.flagged,
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for backend in args.backend or ["postgres", "sqlite"]:
        previous: Figures | None = None
        for size in args.sizes:
            figures = measure(backend, size, args.calls)
            ratio = f"{figures.p50_ms / previous.p50_ms:.2f}x" if previous else "-"
            print(
                f"{backend:8} {figures.episodes:>7} episodes {figures.events:>8} events | "
                f"seed {figures.seed_s:7.1f} s, catch-up {figures.catch_up_s:7.1f} s | "
                f"summary p50 {figures.p50_ms:7.2f} ms, p99 {figures.p99_ms:7.2f} ms | "
                f"p50 vs {previous.episodes if previous else '-'}: {ratio} | "
                f"flagged {figures.flagged}",
                flush=True,
            )
            previous = figures


if __name__ == "__main__":
    main()
