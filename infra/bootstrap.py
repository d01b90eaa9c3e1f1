"""The composition root: everything a process works with, built once from Settings.

The API's lifespan and every CLI command get their objects here and nowhere else.
Tables are created under a lock shared by every process of the store, so workers
starting together do not race to create the same tables.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import TracebackType
from typing import Any

import psycopg
from eventsourcing import persistence
from psycopg_pool import PoolTimeout

from domain.application import CareEpisodes, utc_now
from domain.records import IndexEntry
from infra.access_log import AccessLog
from infra.catalog import Views, build_projections
from infra.database import Database
from infra.episode_index import EpisodeIndex, replayed
from infra.erasure import create_erasure_table
from infra.eventstore import build_application, chained_recorder, episode_records
from infra.files import private_file
from infra.health import StoreHealth
from infra.interop import Interop, create_interop_tables
from infra.projection import Engine, EngineOptions, ReadModels
from infra.settings import Settings
from projections.base import Projection

logger = logging.getLogger("care.bootstrap")

# pg_advisory_lock key for schema creation ("care" in ASCII).
SCHEMA_LOCK_KEY = 0x63617265


@dataclass
class Container:
    """The parts of the service one process shares between its threads."""

    settings: Settings
    episodes: CareEpisodes
    access_log: AccessLog
    read_models: ReadModels
    projections: list[Projection]
    views: Views
    index: EpisodeIndex
    health: StoreHealth
    _closed: bool = field(default=False, repr=False)

    def engine(
        self, options: EngineOptions | None = None, *, worker_id: str | None = None
    ) -> Engine:
        """A projection engine over this process's store and projections."""
        options = options or EngineOptions(
            batch_size=self.settings.projection_batch_size,
            poll_interval_s=self.settings.projection_poll_interval,
        )
        return Engine(
            self.episodes, self.settings, self.projections, options, worker_id=worker_id
        )

    @cached_property
    def interop(self) -> Interop:
        """Bulk export jobs, webhook subscriptions and the feed outbox."""
        return Interop.of(self)

    def projection(self, name: str) -> Projection:
        """The projection called `name`; KeyError naming the known ones."""
        for projection in self.projections:
            if projection.name == name:
                return projection
        known = ", ".join(p.name for p in self.projections)
        raise KeyError(f"no projection {name!r} (known: {known})")

    def pool(self) -> Any:
        """The application's connection pool (its use is a metric)."""
        return chained_recorder(self.episodes).datastore.pool

    def close(self) -> None:
        """Close the store's connections."""
        if not self._closed:
            self._closed = True
            self.health.close()
            self.episodes.close()

    def __enter__(self) -> Container:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """Hold a lock shared by every process of this store while tables are created."""
    if settings.backend == "postgres":
        with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
    elif settings.backend == "sqlite":
        path = settings.sqlite_path
        lock = private_file(path.with_name(f"{path.name}.schema.lock"))
        with open(lock, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        yield  # memory:// lives in one process


def backfill_index(episodes: CareEpisodes) -> int:
    """Index the episodes of a store written before the index existed; how many."""
    index = EpisodeIndex(Database(episodes))
    recorder = chained_recorder(episodes)
    if index.count() or not recorder.count_events():
        return 0
    entries: list[IndexEntry] = []
    done = 0
    for records in episode_records(recorder):
        decoded = [episodes.mapper.to_domain_event(record) for record in records]
        entries.append(replayed(decoded).index_entry())
        if len(entries) >= 500:
            recorder.write_index(entries)
            done, entries = done + len(entries), []
    if entries:
        recorder.write_index(entries)
    return done + len(entries)


# What an unreachable store raises while a process opens it.
UNREACHABLE = (
    psycopg.OperationalError,
    PoolTimeout,
    persistence.OperationalError,
    persistence.InterfaceError,
)


def bootstrap_when_reachable(
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Container:
    """`bootstrap`, retried while the store is unreachable, for up to
    `settings.startup_wait` seconds. uvicorn replaces a worker it finds dead; one
    replaced during a database outage waits here instead of failing its start,
    which would make uvicorn stop the whole service."""
    deadline = clock() + settings.startup_wait
    delay = 0.25
    while True:
        try:
            return bootstrap(settings)
        except UNREACHABLE as error:
            if clock() + delay > deadline:
                raise
            logger.warning("store unreachable at start, retrying: %s", error)
            sleep(delay)
            delay = min(delay * 2, 1.0)  # resume within a second of its return


def bootstrap(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now
) -> Container:
    """Open the store and everything beside it, creating missing tables."""
    projections = build_projections(settings)
    with schema_lock(settings):
        episodes = build_application(settings, clock=clock)
        try:
            backfill_index(episodes)
            access_log = AccessLog(episodes, create=settings.create_tables)
            read_models = ReadModels(episodes, projections)
            if settings.create_tables:
                create_interop_tables(episodes)
                create_erasure_table(Database(episodes))
        except BaseException:
            episodes.close()
            raise
    views = Views.build(read_models, projections)
    index = EpisodeIndex(Database(episodes))
    health = StoreHealth(
        lambda: episodes.recorder.max_notification_id(),
        pool=lambda: chained_recorder(episodes).datastore.pool,
    )
    return Container(
        settings, episodes, access_log, read_models, projections, views, index, health
    )
