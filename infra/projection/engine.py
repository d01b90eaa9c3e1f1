"""The projection engine: the global order in batches, each committed exactly once.

Each round the engine takes the generations whose locks are free, groups the ones
it holds by position, and for each group reads one batch after that position,
decodes it once, runs every projection's handlers in memory and commits the
states, the view changes and the new positions in one transaction. A behind
group (a rebuild, a late joiner) gets one batch per round beside the live one,
so catching up never holds back fresh reads; groups merge at the head.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from time import monotonic, sleep

import psycopg
from eventsourcing.persistence import PersistenceError

from domain.application import CareEpisodes
from infra.database import Database
from infra.eventstore import chained_recorder
from infra.projection.locks import AdvisoryLocks, Locks, local_locks, lock_key
from infra.projection.processing import (
    TRANSIENT,
    BatchProcessor,
    LostGenerationError,
    Track,
)
from infra.projection.registry import Generation, Registry, next_step
from infra.projection.tables import GenerationTables
from infra.recorders import ChainedPostgresApplicationRecorder
from infra.settings import Settings
from projections.base import Projection, check_projection

log = logging.getLogger(__name__)

_worker_numbers = itertools.count(1)


@dataclass(frozen=True)
class EngineOptions:
    """How the engine paces itself."""

    batch_size: int = 500
    poll_interval_s: float = 0.5
    """Longest wait for news; also how often free locks and old tables are tried."""
    drop_grace_s: float = 1.0
    """How long a retired generation's tables stay for reads already under way."""
    include_serving: bool = True
    """False for a worker that only builds new generations (`projections rebuild`)."""
    max_backoff_s: float = 5.0


def default_worker_id() -> str:
    """host:pid:n, unique among the engines of this machine."""
    return f"{socket.gethostname()}:{os.getpid()}:{next(_worker_numbers)}"


class Engine:
    """Keeps the views of some projections up to date with the event store."""

    def __init__(
        self,
        app: CareEpisodes,
        settings: Settings,
        projections: Sequence[Projection],
        options: EngineOptions | None = None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.app = app
        self.projections = {p.name: check_projection(p) for p in projections}
        if len(self.projections) != len(projections):
            raise ValueError("two projections share a name")
        self.options = options or EngineOptions()
        self.worker_id = worker_id or default_worker_id()
        self.db = Database(app)
        self.registry = Registry(self.db)
        self.recorder = recorder = chained_recorder(app)
        self.locks: Locks = (
            AdvisoryLocks(settings, recorder.channel_name)
            if isinstance(recorder, ChainedPostgresApplicationRecorder)
            else local_locks(self.db)
        )
        self.processor = BatchProcessor(
            app, self.db, self.registry, self.options.batch_size
        )
        self.tracks: dict[str, Track] = {}
        self._ready = False
        self.unsettled = False
        """Whether the last round left committed events behind the horizon."""
        self._next_claim = 0.0
        self._next_housekeeping = 0.0

    def run(
        self, stop: threading.Event, on_round: Callable[[], None] | None = None
    ) -> None:
        """Work until `stop` is set, then let go of every lock.

        `on_round` is called once a round (a liveness heartbeat, say).
        """
        log.info("projection worker %s started", self.worker_id)
        backoff = 0.0
        settling = 0.0
        try:
            while not stop.is_set():
                if on_round is not None:
                    on_round()
                try:
                    busy = self.run_once()
                    backoff = 0.0
                except Exception as error:
                    # The database may be away or busy; anything else is a bug
                    # worth a traceback. Either way: back off and go on.
                    backoff = min(max(2 * backoff, 0.05), self.options.max_backoff_s)
                    log.warning(
                        "projection worker %s: %s",
                        self.worker_id,
                        error,
                        exc_info=not isinstance(error, TRANSIENT),
                    )
                    stop.wait(backoff)
                    continue
                if busy:
                    continue
                if self.unsettled:
                    # Events are committed but an older transaction still holds
                    # the horizon: it ends without news, so look again soon.
                    settling = min(
                        max(2 * settling, 0.002), self.options.poll_interval_s
                    )
                    self.locks.wait(settling, stop)
                else:
                    settling = 0.0
                    self.locks.wait(self.options.poll_interval_s, stop)
        finally:
            self.close()
            log.info("projection worker %s stopped", self.worker_id)

    def run_once(self) -> bool:
        """One round: take free generations, one batch per group; True if more is due."""
        if not self._ready:
            self.registry.ensure()
            self._ready = True
        rows = self._refresh()
        busy = False
        groups: dict[int, list[Track]] = {}
        for track in self.tracks.values():
            if not track.gen.failed:
                groups.setdefault(track.gen.position, []).append(track)
        for _, group in sorted(groups.items(), reverse=True):
            try:
                busy = self.processor.process(group) or busy
            except LostGenerationError as lost:
                log.warning(
                    "%s was moved by another worker; letting go", lost.track.key
                )
                self._let_go(lost.track)
                busy = True
        self._housekeep(rows)
        # Nothing left to read may still leave committed events behind the store's
        # horizon (an older transaction still open): worth reading again soon.
        behind = [t.gen.position for t in self.tracks.values() if not t.gen.failed]
        self.unsettled = (
            not busy and bool(behind) and self.recorder.newest_position() > min(behind)
        )
        return busy

    def catch_up(self) -> None:
        """Work until every generation held has read the whole global order, every
        event committed before the call included."""
        target = self.recorder.newest_position()
        pause = 0.001
        while self.run_once() or self._behind(target):
            if self.unsettled:
                # Committed events wait behind an older transaction still open.
                sleep(pause)
                pause = min(2 * pause, 0.05)

    def _behind(self, target: int) -> bool:
        """Whether a generation this engine works on has yet to reach `target`."""
        return any(
            t.gen.position < target for t in self.tracks.values() if not t.gen.failed
        )

    def roles(self) -> dict[str, str]:
        """Per projection: 'active' if this engine works on it, else 'standby'."""
        held = {t.gen.name for t in list(self.tracks.values())}
        return {n: "active" if n in held else "standby" for n in self.projections}

    def close(self) -> None:
        """Let go of every generation and lock."""
        for track in list(self.tracks.values()):
            self._let_go(track)
        self.locks.close()

    # -- which generations this engine works on -----------------------------------

    def _refresh(self) -> list[Generation]:
        if self.locks.lost():
            log.warning("projection worker %s lost its locks", self.worker_id)
            self.tracks.clear()
        names = list(self.projections)
        rows = self.registry.load(names)
        stale = [p for p in self.projections.values() if next_step(rows, p)]
        for projection in stale:
            self.registry.reconcile(projection)
        if stale:
            rows = self.registry.load(names)
        current = {lock_key(g.name, g.generation): g for g in rows}
        for key, track in list(self.tracks.items()):
            row = current.get(key)
            if row is not None and row.position != track.gen.position:
                log.warning("%s was moved by another worker; letting go", key)
                row = None
            if row is None or not self._wanted(row):
                self._let_go(track)
            else:
                track.gen = row
        if monotonic() >= self._next_claim:
            self._next_claim = monotonic() + self.options.poll_interval_s
            for key, gen in current.items():
                if key not in self.tracks and self._wanted(gen):
                    self._take(gen)
        return rows

    def _wanted(self, gen: Generation) -> bool:
        projection = self.projections.get(gen.name)
        if projection is None or gen.version != projection.version:
            return False
        return gen.role == "building" or (
            gen.role == "serving" and self.options.include_serving
        )

    def _take(self, gen: Generation) -> None:
        key = lock_key(gen.name, gen.generation)
        if not self.locks.try_acquire(key):
            return
        try:
            self.registry.claim(gen, self.worker_id)
            fresh = next(
                (
                    g
                    for g in self.registry.load([gen.name])
                    if g.generation == gen.generation
                ),
                None,
            )
        except BaseException:
            self.locks.release(key)
            raise
        if fresh is None or not self._wanted(fresh):
            self.locks.release(key)
            return
        projection = self.projections[gen.name]
        tables = GenerationTables(projection, gen.generation, self.db.dialect)
        self.tracks[key] = Track(projection, fresh, tables)
        log.info(
            "projection %s generation %d (%s, version %d) taken by %s at position %d",
            gen.name, gen.generation, fresh.role, gen.version, self.worker_id,
            fresh.position,
        )  # fmt: skip

    def _let_go(self, track: Track) -> None:
        self.tracks.pop(track.key, None)
        with contextlib.suppress(PersistenceError, psycopg.Error):
            self.registry.release(track.gen, self.worker_id)
        self.locks.release(track.key)

    # -- old generations -------------------------------------------------------------

    def _housekeep(self, rows: list[Generation]) -> None:
        if monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = monotonic() + self.options.poll_interval_s
        now = datetime.now(UTC)
        for gen in rows:
            if gen.role != "retired" or gen.retired_at is None:
                continue
            if (now - gen.retired_at).total_seconds() < self.options.drop_grace_s:
                continue
            key = lock_key(gen.name, gen.generation)
            # Holding its lock proves its last worker has let go of it.
            if not self.locks.try_acquire(key):
                continue
            try:
                self.registry.drop(gen)
                self.locks.forget(key)
                log.info(
                    "projection %s generation %d dropped", gen.name, gen.generation
                )
            finally:
                self.locks.release(key)
