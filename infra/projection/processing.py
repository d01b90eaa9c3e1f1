"""One batch for a group of generations at the same position: read, decode once,
handle in memory, and commit states, view changes and positions in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    PersistenceError,
)

from domain.application import CareEpisodes
from domain.errors import PatientDataErased
from domain.events import EpisodeEvent
from infra.database import Database
from infra.encryption import prefetch_keys
from infra.projection.batch import BatchEvent, Outcome, run_batch
from infra.projection.locks import lock_key
from infra.projection.registry import Failure, Generation, Registry
from infra.projection.states import StateCodec
from infra.projection.tables import GenerationTables
from projections.base import Projection, handled_topics

log = logging.getLogger("infra.projection.engine")

# Errors that say nothing about the projection: the database is away or busy.
TRANSIENT = (OperationalError, InterfaceError, psycopg.OperationalError)


@dataclass
class Track:
    """A generation an engine holds the lock of and works on."""

    projection: Projection
    gen: Generation
    tables: GenerationTables

    @property
    def key(self) -> str:
        """Its lock key."""
        return lock_key(self.gen.name, self.gen.generation)

    @property
    def topics(self) -> frozenset[str]:
        """The stored topics of the events its projection reads."""
        return handled_topics(self.projection)


class LostGenerationError(Exception):
    """Another worker moved a generation this engine believed it held."""

    def __init__(self, track: Track) -> None:
        super().__init__(track.key)
        self.track = track


class BatchProcessor:
    """Moves groups of generations forward by one batch each."""

    def __init__(
        self, app: CareEpisodes, db: Database, registry: Registry, batch_size: int
    ) -> None:
        self.app = app
        self.db = db
        self.registry = registry
        self.batch_size = batch_size
        self.codec = StateCodec(app.mapper.transcoder)

    def process(self, group: list[Track]) -> bool:
        """One batch for generations at the same position; True if more is waiting."""
        # One lock order for registry rows in every worker: no deadlocks between
        # a serving worker and a builder switching generations.
        group = sorted(group, key=lambda t: (t.gen.name, t.gen.generation))
        start = group[0].gen.position
        notifications = self.app.recorder.select_notifications(
            start=start, limit=self.batch_size, inclusive_of_start=False
        )
        full = len(notifications) == self.batch_size
        if not notifications and all(t.gen.role != "building" for t in group):
            return False
        wanted = set().union(*(t.topics for t in group))
        prefetch_keys(self.app, [n for n in notifications if n.topic in wanted])
        events = [self._event(n, wanted) for n in notifications]
        try:
            outcomes = self._outcomes(group, events, start)
            self._commit(group, outcomes, caught_up=not full)
        except TRANSIENT:
            raise
        except PersistenceError as error:
            # The database refused some projection's writes: find whose.
            if len(group) > 1:
                for track in group:
                    self.process([track])
            else:
                self._fail_batch(group[0], events, error)
            return True
        return full

    def _event(self, notification: Notification, wanted: set[str]) -> BatchEvent:
        event = None
        if notification.topic in wanted:
            try:
                decoded = self.app.mapper.to_domain_event(notification)
            except PatientDataErased:
                # Its patient's key was erased: projections pass it by (the
                # episode's EpisodeErased, stored in plain, removes its rows).
                decoded = None
            assert decoded is None or isinstance(decoded, EpisodeEvent)
            event = decoded
        episode = str(notification.originator_id)
        return BatchEvent(notification.id, episode, notification.topic, event)

    def _outcomes(
        self, group: list[Track], events: list[BatchEvent], start: int
    ) -> dict[str, Outcome]:
        codec = self.codec
        return {
            t.key: run_batch(
                t.projection, t.tables, events, start, self._loader(t), codec
            )
            for t in group
        }

    def _loader(self, track: Track) -> Callable[[Sequence[str]], dict[str, bytes]]:
        def load(keys: Sequence[str]) -> dict[str, bytes]:
            # Only this engine, holding the generation's lock, writes its states.
            with self.db.querying() as cur:
                return track.tables.load_states(cur, keys)

        return load

    def _commit(
        self, group: list[Track], outcomes: dict[str, Outcome], *, caught_up: bool
    ) -> None:
        switched = set()
        # Pipelined: the whole batch costs a round trip or two, not one a statement.
        with self.db.writing(pipelined=True) as cur:
            advanced = []
            for track in group:
                outcome = outcomes[track.key]
                moved = cur.another()
                self.registry.move(moved, track.gen, outcome.position, outcome.failure)
                advanced.append((track, moved))
                track.tables.save_states(cur, outcome.states)
                track.tables.apply(cur, outcome.ops)
                if track.gen.role == "building" and caught_up and not outcome.failure:
                    at = replace(track.gen, position=outcome.position)
                    if self.registry.switch(cur, at):
                        switched.add(track.key)
            cur.sync()
            # Before the commit: a generation another worker moved meanwhile
            # rolls the whole batch back.
            for track, moved in advanced:
                if moved.rowcount != 1:
                    raise LostGenerationError(track)
        for track in group:
            outcome = outcomes[track.key]
            track.gen = replace(
                track.gen,
                position=outcome.position,
                role="serving" if track.key in switched else track.gen.role,
            )
            if outcome.failure:
                self._failed(
                    track, outcome.failure, outcome.failed_episode, outcome.error
                )
            if track.key in switched:
                log.info(
                    "projection %s generation %d (version %d) now serves, at position %d",
                    track.gen.name, track.gen.generation, track.gen.version,
                    track.gen.position,
                )  # fmt: skip

    def _fail_batch(
        self, track: Track, events: list[BatchEvent], error: BaseException
    ) -> None:
        first = next((e for e in events if e.topic in track.topics), None)
        if first is None:
            raise error
        failure = Failure(
            first.position, f"{type(error).__name__} writing the batch: {error}"
        )
        with self.db.writing() as cur:
            if not self.registry.advance(cur, track.gen, track.gen.position, failure):
                raise LostGenerationError(track)
        self._failed(track, failure, first.episode_id, error)

    @staticmethod
    def _failed(
        track: Track,
        failure: Failure,
        episode: str | None,
        error: BaseException | None,
    ) -> None:
        track.gen = replace(
            track.gen,
            failed_position=failure.position,
            last_error=failure.error,
            error_position=failure.position,
        )
        log.error(
            "projection %s failed at position %d (episode %s): %s; it stops there "
            "until a retry or a restart",
            track.gen.name, failure.position, episode, failure.error,
            exc_info=error,
        )  # fmt: skip
