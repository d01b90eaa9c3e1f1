"""The read side the API uses: view queries, min_position waits and status."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from domain.application import CareEpisodes
from infra.database import Database
from infra.projection.reads import ViewCursor, ViewReader
from infra.projection.registry import Registry
from infra.projection.status import ProjectionStatus, StatusReader
from infra.projection.tables import quoted
from projections.base import Projection


class ReadModels:
    """Reads of the projections' views, on the application's own pool."""

    # Build one per process: construction creates the registry table if missing.
    def __init__(self, app: CareEpisodes, projections: Sequence[Projection]) -> None:
        db = Database(app)
        registry = Registry(db)
        registry.ensure()
        self.projections = list(projections)
        self.names = [p.name for p in projections]
        self._views = ViewReader(db, registry, projections)
        self._status = StatusReader(app, db, registry)

    def status(self) -> list[ProjectionStatus]:
        """Every projection's position, head, lag, state and last error."""
        return self._status.status(self.projections)

    def wait_for(self, name: str, position: int, timeout_s: float) -> bool:
        """Wait until projection `name` has processed `position` (min_position)."""
        if name not in self.names:
            raise KeyError(f"no projection named {name!r}")
        return self._status.wait_for(name, position, timeout_s)

    def cursor(self, name: str) -> AbstractContextManager[ViewCursor]:
        """A read transaction on the tables that serve projection `name`."""
        return self._views.cursor(name)

    def query(
        self, name: str, sql: str, params: Sequence[Any] = ()
    ) -> list[dict[str, Any]]:
        """Every row of one query on projection `name`'s serving tables."""
        return self._views.query(name, sql, params)

    def rows(self, name: str, table: str) -> list[dict[str, Any]]:
        """Every row of one declared table, in key order (for tests and tools)."""
        declared = self._views.projections[name].tables
        key = next(t.key for t in declared if t.name == table)
        return self.query(name, f"SELECT * FROM {{{table}}} ORDER BY {quoted(key)}")
