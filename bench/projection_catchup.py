"""Catch-up throughput of the projection engine against two baselines, in one run.

    python -m bench.projection_catchup [--events 10000] [--batch-size 500]
                                       [--backend sqlite --backend postgres]

Seeds a fresh store, then measures over the same events: (a) reading and decoding
them alone, (b) our engine catching up a per-episode counting projection, and (c)
the library's one-transaction-per-event projection of the same view: its
ProjectionRunner on PostgreSQL; on SQLite, whose recorders have no subscriptions,
its Projection driven by a polling loop. Prints events/s and the ratios.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection as LibraryProjection
from eventsourcing.projection import ProjectionRunner
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL

from domain.application import CareEpisodes
from domain.episode import CareEpisode
from domain.events import EVENT_TYPES, EpisodeEvent
from domain.values import Actor, Envelope, PrincipalRole
from infra.database import Database
from infra.eventstore import build_application, eventsourcing_env
from infra.projection import Engine, EngineOptions, ReadModels
from infra.settings import Settings
from projections.base import Column, Handled, Projection, Put, State, Table

ADMIN_URL = os.environ.get(
    "CARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ACTOR = Actor("svc-bench", PrincipalRole.SERVICE)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PER_EPISODE = 10


class EpisodeCounts(Projection):
    """Per episode: how many events, and the last one's type."""

    name = "bench_counts"
    version = 1
    handles = frozenset(t.__name__ for t in EVENT_TYPES)
    tables = (
        Table(
            "counts",
            (
                Column("episode_id", "text", nullable=False),
                Column("events", "integer", nullable=False),
                Column("last_type", "text"),
            ),
            key=("episode_id",),
        ),
    )

    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        events = (state or {"events": 0})["events"] + 1
        row = {
            "episode_id": str(event.originator_id),
            "events": events,
            "last_type": type(event).__name__,
        }
        return Handled({"events": events}, [Put("counts", row)])


# -- (c) the library's way: one transaction per event ------------------------------

TABLE = "bench_library_counts"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(episode_id TEXT PRIMARY KEY, events INTEGER NOT NULL, last_type TEXT)"
)
UPSERT = (
    f"INSERT INTO {TABLE} (episode_id, events, last_type) VALUES ({{0}}, 1, {{0}}) "
    f"ON CONFLICT (episode_id) DO UPDATE SET events = {TABLE}.events + 1, "
    "last_type = excluded.last_type"
)


class PostgresCountsView(PostgresTrackingRecorder):
    """Per-episode event counts and the tracking row, on PostgreSQL."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(SQL(CREATE))  # type: ignore[arg-type]

    def count(self, episode_id: str, type_name: str, tracking: Tracking) -> None:
        """Count one event and track it, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(UPSERT.format("%s"), (episode_id, type_name))  # type: ignore[arg-type]
            self._insert_tracking(curs, tracking)


class SQLiteCountsView(SQLiteTrackingRecorder):
    """Per-episode event counts and the tracking row, on SQLite."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), CREATE]

    def count(self, episode_id: str, type_name: str, tracking: Tracking) -> None:
        """Count one event and track it, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(UPSERT.format("?"), (episode_id, type_name))
            self._insert_tracking(c, tracking)


class LibraryCounts(LibraryProjection[Any]):
    """Counts each episode's events, one event per transaction."""

    name = "bench_library_counts"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        assert isinstance(domain_event, EpisodeEvent)
        self.view.count(
            str(domain_event.originator_id), type(domain_event).__name__, tracking
        )


def seed(app: CareEpisodes, events: int) -> None:
    """Record `events` events: episodes of PER_EPISODE events, saved in bulk."""
    now = datetime.now(UTC)
    commands: list[tuple[str, dict]] = [
        ("screen_red_flags", {"flags": [], "disposition": "none"}),
        ("assign_clinician", {"clinician_id": "clin-1", "clinician_name": "Ana"}),
        ("send_consult_note", {"to_physician_id": "dr-1", "summary": "seen"}),
    ]
    pending: list[CareEpisode] = []
    for n in range(0, events, PER_EPISODE):
        episode = CareEpisode.open(
            uuid.uuid4(),
            Envelope(ACTOR, T0, now),
            patient_id=f"pt-{n}",
            referrer={"id": "dr-1", "name": "Dr One", "role": "primary_care"},
            receiving_service="spine_surgery",
            reason="low back pain",
            presentation="radicular",
            symptom_onset=date(2025, 12, 1),
            insurance_mandated=False,
            red_flags=[],
        )
        for i in range(min(PER_EPISODE, events - n) - 1):
            method, body = commands[i % len(commands)]
            occurred = Envelope(ACTOR, T0 + timedelta(hours=i + 1), now)
            getattr(episode, method)(occurred, **body)
        pending.append(episode)
        if len(pending) == 50:
            app.save(*pending)
            pending.clear()
    if pending:
        app.save(*pending)


def read_and_decode(app: CareEpisodes, batch_size: int) -> None:
    """Baseline (a): page through the global order and decode every event."""
    position = 0
    while batch := app.recorder.select_notifications(
        start=position, limit=batch_size, inclusive_of_start=False
    ):
        for notification in batch:
            app.mapper.to_domain_event(notification)
        position = batch[-1].id


def engine_catch_up(app: CareEpisodes, settings: Settings, batch_size: int) -> None:
    """(b) Our engine, from position 0 to the head."""
    engine = Engine(
        app, settings, [EpisodeCounts()], EngineOptions(batch_size=batch_size)
    )
    engine.catch_up()
    engine.close()


def library_catch_up(app: CareEpisodes, settings: Settings, head: int) -> None:
    """(c) The library's projection, one transaction per event."""
    if settings.backend == "postgres":
        with ProjectionRunner(
            application_class=CareEpisodes,
            projection_class=LibraryCounts,
            view_class=PostgresCountsView,
            env=eventsourcing_env(settings),
        ) as runner:
            runner.wait(head, timeout=3600)
        return
    view = SQLiteCountsView(app.factory.datastore)  # type: ignore[attr-defined]
    view.create_table()
    projection = LibraryCounts(view)
    position = view.max_tracking_id(app.name) or 0
    while batch := app.recorder.select_notifications(
        start=position, limit=500, inclusive_of_start=False
    ):
        for notification in batch:
            event = app.mapper.to_domain_event(notification)
            projection.process_event(event, Tracking(app.name, notification.id))
        position = batch[-1].id


def views_agree(app: CareEpisodes, head: int) -> bool:
    """Both views counted every event once (a check of the work, not of speed)."""
    ours = ReadModels(app, [EpisodeCounts()]).query(
        "bench_counts", "SELECT SUM(events) AS n FROM {counts}"
    )
    with Database(app).reading() as cur:
        theirs = cur.execute(f"SELECT SUM(events) AS n FROM {TABLE}").fetchone()
        return ours[0]["n"] == head == (theirs["n"] if theirs else None)


def timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


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


def run(backend: str, events: int, batch_size: int) -> None:
    with fresh_store(backend) as settings, build_application(settings) as app:
        seeded = timed(lambda: seed(app, events))
        head = app.recorder.max_notification_id() or 0
        read_and_decode(app, batch_size)  # warm caches for a fair first measurement
        figures = {
            "read+decode": timed(lambda: read_and_decode(app, batch_size)),
            "engine": timed(lambda: engine_catch_up(app, settings, batch_size)),
            "library": timed(lambda: library_catch_up(app, settings, head)),
        }
        agree = views_agree(app, head)
    rate = {name: head / seconds for name, seconds in figures.items()}
    print(
        f"\n{backend}: {head} events seeded in {seeded:.1f} s, batches of {batch_size}"
    )
    for name, seconds in figures.items():
        print(f"  {name:<12} {seconds:8.2f} s  {rate[name]:10,.0f} events/s")
    print(f"  engine / library      {rate['engine'] / rate['library']:6.1f}x")
    print(f"  engine / read+decode  {rate['engine'] / rate['read+decode']:6.2f}x")
    print(f"  both views counted every event once: {'yes' if agree else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--backend", action="append", choices=["sqlite", "postgres"], default=None
    )
    args = parser.parse_args()
    for backend in args.backend or ["sqlite", "postgres"]:
        run(backend, args.events, args.batch_size)


if __name__ == "__main__":
    main()
