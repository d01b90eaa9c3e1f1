"""Everything a process works with, opened once: the application, the access log and
the read models, created under a lock so processes starting together do not race
to create the same tables."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg

from domain.application import CareEpisodes, utc_now
from infra.access_log import AccessLog
from infra.eventstore import build_application
from infra.projection import ReadModels
from infra.settings import Settings
from projections.base import Projection
from projections.registry import all_projections

# pg_advisory_lock key for schema creation ("care" in ASCII).
SCHEMA_LOCK_KEY = 0x63617265


@dataclass
class Services:
    """The parts of the service one process shares between its threads."""

    settings: Settings
    episodes: CareEpisodes
    access_log: AccessLog
    read_models: ReadModels
    projections: list[Projection]

    def close(self) -> None:
        self.episodes.close()


def projections_for(settings: Settings) -> list[Projection]:
    """The projections this deployment runs, configured by its settings."""
    return all_projections(settings.audit_block_profile)


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """Hold a lock shared by every process of this store while tables are created."""
    if settings.backend == "postgres":
        with psycopg.connect(**settings.postgres_conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
    elif settings.backend == "sqlite":
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.schema.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        yield  # memory:// lives in one process


def open_services(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now
) -> Services:
    """Open the store and everything beside it, creating missing tables."""
    projections = projections_for(settings)
    with schema_lock(settings):
        episodes = build_application(settings, clock=clock)
        try:
            access_log = AccessLog(episodes)
            read_models = ReadModels(episodes, projections)
        except BaseException:
            episodes.close()
            raise
    return Services(settings, episodes, access_log, read_models, projections)
