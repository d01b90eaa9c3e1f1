"""How far each projection got: position, head, lag, failures, and who works on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.application import CareEpisodes
from domain.errors import PatientDataErased
from domain.events import EpisodeEvent
from infra.database import Database
from infra.eventstore import chained_recorder
from infra.projection.locks import (
    advisory_id,
    held_advisory_ids,
    local_locks,
    lock_key,
)
from infra.projection.registry import TABLE, Generation, Registry
from projections.base import Projection


@dataclass(frozen=True)
class ProjectionStatus:
    """One projection as `projections status` and GET /projections show it."""

    # state: `failed` (a handler error stopped it at error_position), `rebuilding`
    # (a new generation is being built beside the serving one), `active` (a
    # worker holds it) or `standby` (no worker holds it now; a standby or
    # restarted worker takes it within a poll interval).

    name: str
    version: int
    generation: int
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    state: str
    last_error: str | None
    error_position: int | None
    worker: str | None
    updated_at: datetime | None
    rebuild_generation: int | None = None
    rebuild_version: int | None = None
    rebuild_position: int | None = None


class StatusReader:
    """Status and read-your-writes waits from the registry and the events table."""

    def __init__(self, app: CareEpisodes, db: Database, registry: Registry) -> None:
        self.app = app
        self.db = db
        self.registry = registry
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[int, int | None]] = {}
        self._read_at = -1.0

    def status(self, projections: Sequence[Projection]) -> list[ProjectionStatus]:
        """The status of each projection, in the order given."""
        rows = self.registry.load([p.name for p in projections])
        head = self.app.recorder.max_notification_id() or 0
        held = self._held(rows)
        statuses = []
        for projection in projections:
            mine = [g for g in rows if g.name == projection.name]
            serving = next((g for g in mine if g.role == "serving"), None)
            building = next((g for g in mine if g.role == "building"), None)
            # Never run yet: nothing built, every event still to do.
            serving = serving or Generation.unbuilt(projection.name, projection.version)
            statuses.append(self._one(serving, building, head, held))
        return statuses

    def wait_for(self, name: str, position: int, timeout_s: float) -> bool:
        """Whether projection `name` has processed `position` within the timeout."""
        started = time.monotonic()
        deadline = started + timeout_s
        pause = 0.005
        while True:
            reached, failed_at = self._positions(started).get(name, (0, None))
            if reached >= position:
                return True
            if failed_at is not None and failed_at <= position:
                return False  # stopped before it: waiting cannot help
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)

    def _positions(self, not_before: float) -> dict[str, tuple[int, int | None]]:
        """Serving positions and failures, read after `not_before`, at most 5 ms old."""
        # Many requests may wait at once; they share one registry read.
        with self._lock:
            now = time.monotonic()
            if self._read_at < not_before or now - self._read_at > 0.005:
                with self.db.reading() as cur:
                    rows = cur.execute(
                        f"SELECT name, position, failed_position FROM {TABLE} "
                        "WHERE role = 'serving'"
                    ).fetchall()
                self._cached = {
                    r["name"]: (int(r["position"]), r["failed_position"]) for r in rows
                }
                self._read_at = now
            return self._cached

    def _one(
        self,
        serving: Generation,
        building: Generation | None,
        head: int,
        held: set[str],
    ) -> ProjectionStatus:
        lag_events, lag_seconds = self._lag(serving.position, head)
        failed = next((g for g in (serving, building) if g and g.failed), None)
        key = lock_key(serving.name, serving.generation)
        if failed is not None:
            state = "failed"
        elif building is not None:
            state = "rebuilding"
        else:
            state = "active" if key in held else "standby"
        errored = failed or serving
        return ProjectionStatus(
            name=serving.name,
            version=serving.version,
            generation=serving.generation,
            position=serving.position,
            head=head,
            lag_events=lag_events,
            lag_seconds=lag_seconds,
            state=state,
            last_error=errored.last_error,
            error_position=errored.error_position,
            worker=serving.worker if key in held else None,
            updated_at=serving.updated_at,
            rebuild_generation=building.generation if building else None,
            rebuild_version=building.version if building else None,
            rebuild_position=building.position if building else None,
        )

    def _lag(self, position: int, head: int) -> tuple[int, float]:
        if position >= head:
            return 0, 0.0
        recorder = chained_recorder(self.app)
        with self.db.reading() as cur:
            row = cur.execute(
                f"SELECT COUNT(*) AS n FROM {recorder.events_table_name} "
                f"WHERE {self.db.dialect.position_column} > ?",
                (position,),
            ).fetchone()
        count = int(row["n"]) if row else 0
        oldest = recorder.select_notifications(
            start=position, limit=1, inclusive_of_start=False
        )
        if not oldest:
            return count, 0.0
        try:
            event = self.app.mapper.to_domain_event(oldest[0])
        except PatientDataErased:
            return count, 0.0  # its time was sealed with the erased payload
        assert isinstance(event, EpisodeEvent)
        waited = (datetime.now(UTC) - event.timestamp).total_seconds()
        return count, max(waited, 0.0)

    def _held(self, rows: Sequence[Generation]) -> set[str]:
        """Lock keys of the generations some worker holds now."""
        keys = {lock_key(g.name, g.generation) for g in rows}
        if self.db.dialect.name == "postgres":
            ids = held_advisory_ids(self.db)
            return {key for key in keys if advisory_id(key) in ids}
        locks = local_locks(self.db)
        return {key for key in keys if locks.held_by_anyone(key)}
