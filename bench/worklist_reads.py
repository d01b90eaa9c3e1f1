"""Worklist reads at 1 000 and at 100 000 open tasks, and how they scale.

    python -m bench.worklist_reads [--small 1000] [--large 100000] [--repeat 300]
                                   [--backend sqlite --backend postgres]

For each size, seeds a fresh store with episodes decided by the domain (typed
commands through CareEpisode's decisions, saved in bulk) until the worklist
holds that many open tasks, and catches the worklist projection up. Then it
times the reads a worklist screen makes through the SQL view, each at the
moment's `now`: the first page, filtered pages (one clinician's, one kind's
overdue tasks, one referring physician's) and the summary; the two sizes take
turns call by call, so other load on the machine weighs on both alike, in five
rounds. Prints p50 (over all calls) and p99 (the median round's) per read and
size, the ratio of the p99s (large / small), and the plan of each query at the
large size: EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL (after ANALYZE, as
autovacuum would run it), EXPLAIN QUERY PLAN on SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.support import fresh_store
from domain import commands as cmd
from domain.application import DECISIONS, CareEpisodes
from domain.episode import CareEpisode
from domain.values import Actor, Envelope, PrincipalRole
from infra.database import Database
from infra.eventstore import build_application
from infra.projection import Engine, EngineOptions, ReadModels
from infra.views.worklist import SqlWorklistView, page_query, summary_query
from projections.base import State
from projections.worklist import WorklistFilters, WorklistProjection, open_tasks

ACTOR = Actor("svc-bench", PrincipalRole.SERVICE)
CLINICIANS = [f"clin-{n:02d}" for n in range(12)]
REFERRERS = [f"dr-pc-{n:02d}" for n in range(40)]
ROUNDS = 5
SPAN_DAYS = 400  # episodes open over the last 400 days: some tasks due, most overdue
Step = tuple[type[cmd.EpisodeCommand], dict[str, Any], float]


def template(n: int) -> list[Step]:
    """The n-th episode's course after its opening (a mix a clinic sees)."""
    clinician = CLINICIANS[n % len(CLINICIANS)]
    assign: Step = (
        cmd.AssignClinician,
        {"clinician_id": clinician, "clinician_name": clinician.title()},
        0.1,
    )
    screen: Step = (cmd.ScreenRedFlags, {"flags": [], "disposition": "none"}, 1)
    outcome: Step = (
        cmd.RecordOutcome,
        {"instrument": "odi", "score": Decimal(44), "follows_version": None},
        2,
    )
    prp: Step = (
        cmd.AdministerBiologic,
        {
            "product": "prp",
            "target": "L4-L5 facets",
            "levels": ["L4-L5"],
            "volume_ml": Decimal(4),
            "lot_number": "LOT-1",
            "image_guided": True,
        },
        9,
    )
    courses: list[list[Step]] = [
        [],  # just referred
        [assign, screen],
        [assign, screen, outcome, prp],
        [assign],
        [screen, outcome],
    ]
    return courses[n % len(courses)] if n % 6 else [assign, screen, outcome, prp]


def opening(n: int, opened_at: datetime) -> cmd.OpenEpisode:
    flags = ["infection"] if n % 50 == 7 else []
    return cmd.OpenEpisode(
        occurred_at=opened_at,
        patient_id=f"pt-{n:06d}",
        referrer={
            # One busy practice refers a fifth of the patients, as they do.
            "id": REFERRERS[0 if n % 5 == 0 else n % len(REFERRERS)],
            "name": "Dr P",
            "role": "primary_care",
        },
        receiving_service="pain_medicine",
        reason="low back pain",
        presentation="axial",
        red_flags=flags,
    )


def episodes(now: datetime) -> Iterator[tuple[CareEpisode, int]]:
    """Episodes decided by the domain, each with how many tasks it leaves open."""
    projection = WorklistProjection()
    n = 0
    while True:
        opened_at = now - timedelta(days=SPAN_DAYS * ((n * 7919) % 1000) / 1000 + 1)
        episode = CareEpisode.open(
            uuid.uuid4(), Envelope(ACTOR, now), opening(n, opened_at)
        )
        for command_type, body, days in template(n):
            at = min(opened_at + timedelta(days=days), now)
            command = command_type(episode_id=episode.id, occurred_at=at, **body)
            DECISIONS[command_type](episode, Envelope(ACTOR, now), command)
        yield episode, len(open_tasks(fold(projection, episode), projection.rules))
        n += 1


def fold(projection: WorklistProjection, episode: CareEpisode) -> State:
    state = None
    for position, event in enumerate(episode.pending_events, start=1):
        state = projection.handle(state, event, position).state  # type: ignore[arg-type]
    assert state is not None
    return state


def seed(app: CareEpisodes, tasks: int) -> int:
    """Save episodes until they leave `tasks` open tasks (or a few more)."""
    pending: list[CareEpisode] = []
    total = 0
    for episode, count in episodes(datetime.now(UTC)):
        pending.append(episode)
        total += count
        if len(pending) == 200 or total >= tasks:
            app.save(*pending)
            pending.clear()
        if total >= tasks:
            return total
    raise AssertionError("unreachable")


def percentiles(rounds: list[list[float]]) -> tuple[float, float]:
    """p50 over every call, and the median round's p99, in ms: a burst of other
    load on the machine spoils a round, not the figure."""
    every = [s for samples in rounds for s in samples]
    p50 = statistics.median(every)
    p99 = statistics.median(
        statistics.quantiles(samples, n=100, method="inclusive")[98]
        for samples in rounds
    )
    return p50 * 1000, p99 * 1000


def interleaved(
    reads: dict[int, Callable[[], Any]], repeat: int
) -> dict[int, list[list[float]]]:
    """Seconds per call of each size's read in ROUNDS rounds of `repeat` calls,
    the sizes taking turns call by call, so that whatever else the machine does
    weighs on every size alike."""
    for read in reads.values():
        for _ in range(20):
            read()  # warm the caches and the plan
    rounds: dict[int, list[list[float]]] = {size: [] for size in reads}
    for _ in range(ROUNDS):
        for size in reads:
            rounds[size].append([])
        for _ in range(repeat):
            for size, read in reads.items():
                started = time.perf_counter()
                read()
                rounds[size][-1].append(time.perf_counter() - started)
    return rounds


READS: dict[str, WorklistFilters] = {
    "first page": WorklistFilters(),
    "clinician page": WorklistFilters(assignee="clin-03"),
    "overdue follow-ups": WorklistFilters(kind="outcome_due", overdue=True),
    "physician page": WorklistFilters(physician_id="dr-pc-00"),
}


@contextmanager
def worklist_of(
    backend: str, tasks: int
) -> Iterator[tuple[SqlWorklistView, ReadModels]]:
    """A fresh store holding `tasks` open tasks, projected, and its worklist view."""
    with fresh_store(backend) as settings, build_application(settings) as app:
        started = time.perf_counter()
        seeded = seed(app, tasks)
        seeding = time.perf_counter() - started
        projection = WorklistProjection()
        engine = Engine(app, settings, [projection], EngineOptions(batch_size=500))
        started = time.perf_counter()
        engine.catch_up()
        catch_up = time.perf_counter() - started
        engine.close()
        reads = ReadModels(app, [projection])
        if backend == "postgres":
            analyze(app, reads)
        view = SqlWorklistView(reads, projection.rules)
        summary = view.summary(datetime.now(UTC))
        assert summary.open == seeded, (summary.open, seeded)
        events = app.recorder.count_events()
        print(
            f"{backend}: {summary.open:,} open tasks ({summary.overdue:,} overdue) "
            f"from {events:,} events; seeded in {seeding:.1f} s, projected in "
            f"{catch_up:.1f} s ({events / catch_up:,.0f} events/s)"
        )
        yield view, reads


def calls(view: SqlWorklistView) -> dict[str, Callable[[], Any]]:
    """Each read a worklist screen makes, at the moment's `now`."""
    found: dict[str, Callable[[], Any]] = {
        name: lambda f=filters: view.page(f, datetime.now(UTC), None, 50)
        for name, filters in READS.items()
    }
    found["summary"] = lambda: view.summary(datetime.now(UTC))
    return found


def analyze(app: CareEpisodes, reads: ReadModels) -> None:
    """Table statistics, as autovacuum gathers them after a bulk load."""
    with reads.cursor(WorklistProjection.name) as cur:
        tables = [cur.table(t.name) for t in WorklistProjection.tables]
    with Database(app).writing() as cur:
        for table in tables:
            cur.execute(f"ANALYZE {table}")


def print_plans(reads: ReadModels, backend: str) -> None:
    now = datetime.now(UTC)
    queries = {name: page_query(f, now, None, 51, backend) for name, f in READS.items()}
    queries["summary"] = summary_query(now)
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS) "
        if backend == "postgres"
        else "EXPLAIN QUERY PLAN "
    )
    for name, (sql, params) in queries.items():
        with reads.cursor(WorklistProjection.name) as cur:
            plan = cur.execute(prefix + sql, params).fetchall()
        print(f"\n  plan of {name} (largest size):")
        for row in plan:
            line = row.get("QUERY PLAN") or row.get("detail") or str(row)
            print(f"    {line}")


def run(backend: str, small: int, large: int, repeat: int) -> None:
    print()
    with (
        worklist_of(backend, small) as (few, _),
        worklist_of(backend, large) as (
            many,
            reads,
        ),
    ):
        sizes = {small: calls(few), large: calls(many)}
        print(
            f"\n{backend}: ms per read, {ROUNDS} rounds of {repeat} calls each, "
            "sizes taking turns (p99: the median round's)"
        )
        print(f"  {'read':<20} {'p50':>8} {'p99':>8} {'p50':>8} {'p99':>8}  p99 ratio")
        print(f"  {'':<20} {small:>17,} {large:>17,}")
        for name in sizes[small]:
            samples = interleaved({n: sizes[n][name] for n in sizes}, repeat)
            (p50s, p99s), (p50l, p99l) = (percentiles(samples[n]) for n in sizes)
            ratio = p99l / p99s
            verdict = "ok" if ratio <= 2 else "OVER 2x"
            print(
                f"  {name:<20} {p50s:8.2f} {p99s:8.2f} {p50l:8.2f} {p99l:8.2f}"
                f"  {ratio:5.2f}x {verdict}"
            )
        print_plans(reads, backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=300, help="calls per round")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for backend in args.backend or ["sqlite", "postgres"]:
        run(backend, args.small, args.large, args.repeat)


if __name__ == "__main__":
    main()
