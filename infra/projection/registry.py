"""The registry of projection generations: which tables serve and how far each got.

One row per generation. A generation is `building` while it catches up beside the
`serving` one, then takes its place; the old one is `retired`, and `dropped` once
its tables are gone. Its `position` moves only by compare-and-set, in the same
transaction as the views it covers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.database import Cursor, Database, Row
from infra.projection.tables import GenerationTables
from projections.base import Projection

TABLE = "projection_generations"


@dataclass(frozen=True)
class Generation:
    """One generation of a projection, as the registry holds it."""

    name: str
    generation: int
    version: int
    role: str
    position: int
    failed_position: int | None
    last_error: str | None
    error_position: int | None
    worker: str | None
    updated_at: datetime | None
    retired_at: datetime | None
    tables: tuple[str, ...]
    """Physical names of every table of the generation, states included."""

    @classmethod
    def unbuilt(cls, name: str, version: int) -> Generation:
        """Generation 0: what a projection that no worker has started yet has."""
        return cls(
            name, 0, version, "serving", 0, None, None, None, None, None, None, ()
        )

    @property
    def failed(self) -> bool:
        """Stopped by a handler error until a retry or a restart."""
        return self.failed_position is not None


@dataclass(frozen=True)
class Failure:
    """A handler error: where it stopped the generation, and why."""

    position: int
    error: str


def next_step(rows: Sequence[Generation], projection: Projection) -> str | None:
    """'serve' when nothing serves yet, 'build' when this version needs building."""
    # Code older than a registered version leaves the registry alone: during a
    # rolling upgrade the old workers must not undo what the new ones started.
    rows = [g for g in rows if g.name == projection.name and g.role != "dropped"]
    serving = next((g for g in rows if g.role == "serving"), None)
    if serving is None:
        return "serve"
    if max(g.version for g in rows) > projection.version:
        return None
    if serving.version < projection.version and not any(
        g.role == "building" and g.version == projection.version for g in rows
    ):
        return "build"
    return None


class Registry:
    """Reads and changes the registry table."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.dialect

    def ensure(self) -> None:
        """Create the registry table if missing."""
        with self.db.writing() as cur:
            self._prepare(cur)

    def load(self, names: Sequence[str] | None = None) -> list[Generation]:
        """Every generation that still has tables, oldest first."""
        statement = f"SELECT * FROM {TABLE} WHERE role <> 'dropped'"
        params: list[Any] = []
        if names is not None:
            if not names:
                return []
            statement += f" AND name IN ({', '.join('?' * len(names))})"
            params.extend(names)
        with self.db.reading() as cur:
            rows = cur.execute(statement + " ORDER BY name, generation", params)
            return [self.generation(row) for row in rows.fetchall()]

    def reconcile(self, projection: Projection) -> None:
        """Make sure a generation of this version serves or is being built."""
        with self.db.writing() as cur:
            self._prepare(cur)
            rows = self._rows(cur, projection.name)
            step = next_step(rows, projection)
            if step == "serve":
                self._create(cur, projection, "serving")
            elif step == "build":
                for stale in rows:
                    if stale.role == "building":
                        self._retire(cur, stale)
                self._create(cur, projection, "building")

    def request_rebuild(self, projection: Projection) -> Generation:
        """A building generation of this version: the one in progress, or a new one."""
        # Also how an operator rolls a projection back to an older version: the
        # explicit request builds this code's version even if a newer one serves.
        with self.db.writing() as cur:
            self._prepare(cur)
            rows = self._rows(cur, projection.name)
            for g in rows:
                if g.role == "building" and g.version == projection.version:
                    return g
            for g in rows:
                if g.role == "building":
                    self._retire(cur, g)
            return self._create(cur, projection, "building")

    def advance(
        self, cur: Cursor, gen: Generation, position: int, failure: Failure | None
    ) -> bool:
        """Move a generation from the position it had to `position`, if nobody did."""
        self.move(cur, gen, position, failure)
        cur.sync()
        return cur.rowcount == 1

    def move(
        self, cur: Cursor, gen: Generation, position: int, failure: Failure | None
    ) -> None:
        """`advance` without waiting: `cur.rowcount` says, once the statement has
        run (`cur.sync()`), whether it moved (1) or somebody else had (0)."""
        cur.execute(
            f"UPDATE {TABLE} SET position = ?, updated_at = ?, "
            "failed_position = COALESCE(?, failed_position), "
            "last_error = COALESCE(?, last_error), "
            "error_position = COALESCE(?, error_position) "
            "WHERE name = ? AND generation = ? AND role = ? AND position = ?",
            (
                position,
                self._now(),
                failure and failure.position,
                failure and failure.error,
                failure and failure.position,
                gen.name,
                gen.generation,
                gen.role,
                gen.position,
            ),
        )

    def switch(self, cur: Cursor, building: Generation) -> bool:
        """Serve `building` if it has reached the position of the serving generation."""
        row = cur.execute(
            f"SELECT generation, position FROM {TABLE} "
            f"WHERE name = ? AND role = 'serving'{self.dialect.for_update}",
            (building.name,),
        ).fetchone()
        if row is not None and row["position"] > building.position:
            return False
        if row is not None:
            cur.execute(
                f"UPDATE {TABLE} SET role = 'retired', retired_at = ? "
                "WHERE name = ? AND generation = ?",
                (self._now(), building.name, row["generation"]),
            )
        cur.execute(
            f"UPDATE {TABLE} SET role = 'serving' "
            "WHERE name = ? AND generation = ? AND role = 'building'",
            (building.name, building.generation),
        )
        return True

    def claim(self, gen: Generation, worker: str) -> None:
        """Record the worker that now holds a generation; a restart clears a failure."""
        with self.db.writing() as cur:
            cur.execute(
                f"UPDATE {TABLE} SET worker = ?, failed_position = NULL "
                "WHERE name = ? AND generation = ?",
                (worker, gen.name, gen.generation),
            )

    def release(self, gen: Generation, worker: str) -> None:
        """Forget the worker of a generation it no longer holds."""
        with self.db.writing() as cur:
            cur.execute(
                f"UPDATE {TABLE} SET worker = NULL "
                "WHERE name = ? AND generation = ? AND worker = ?",
                (gen.name, gen.generation, worker),
            )

    def clear_failure(self, name: str) -> int:
        """Let a failed projection resume from the event that failed."""
        with self.db.writing() as cur:
            cur.execute(
                f"UPDATE {TABLE} SET failed_position = NULL "
                "WHERE name = ? AND role IN ('serving', 'building') "
                "AND failed_position IS NOT NULL",
                (name,),
            )
            return cur.rowcount

    def drop(self, gen: Generation) -> None:
        """Drop a retired generation's tables."""
        with self.db.writing() as cur:
            self._prepare(cur)
            for table in gen.tables:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(
                f"UPDATE {TABLE} SET role = 'dropped', worker = NULL "
                "WHERE name = ? AND generation = ? AND role = 'retired'",
                (gen.name, gen.generation),
            )

    def _prepare(self, cur: Cursor) -> None:
        # Serialise registry changes and make sure the table is there.
        if self.dialect.registry_lock:
            cur.execute(self.dialect.registry_lock)
        ts = self.dialect.types["timestamp"]
        big = self.dialect.bigint
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            "name TEXT NOT NULL, generation INTEGER NOT NULL, version INTEGER NOT NULL, "
            f"role TEXT NOT NULL, position {big} NOT NULL DEFAULT 0, "
            f"failed_position {big}, last_error TEXT, error_position {big}, "
            f"worker TEXT, created_at {ts} NOT NULL, updated_at {ts}, retired_at {ts}, "
            "tables TEXT NOT NULL, "
            "PRIMARY KEY (name, generation))"
        )

    def _rows(self, cur: Cursor, name: str) -> list[Generation]:
        cur.execute(
            f"SELECT * FROM {TABLE} WHERE name = ? AND role <> 'dropped' "
            "ORDER BY generation",
            (name,),
        )
        return [self.generation(row) for row in cur.fetchall()]

    def _create(self, cur: Cursor, projection: Projection, role: str) -> Generation:
        row = cur.execute(
            f"SELECT COALESCE(MAX(generation), 0) AS g FROM {TABLE} WHERE name = ?",
            (projection.name,),
        ).fetchone()
        generation = int(row["g"] if row else 0) + 1
        tables = GenerationTables(projection, generation, self.dialect)
        for statement in tables.create_statements():
            cur.execute(statement)
        cur.execute(
            f"INSERT INTO {TABLE} (name, generation, version, role, position, "
            "created_at, tables) VALUES (?, ?, ?, ?, 0, ?, ?)",
            (
                projection.name,
                generation,
                projection.version,
                role,
                self._now(),
                json.dumps([tables.states, *tables.names.values()]),
            ),
        )
        return next(
            g for g in self._rows(cur, projection.name) if g.generation == generation
        )

    def _retire(self, cur: Cursor, gen: Generation) -> None:
        cur.execute(
            f"UPDATE {TABLE} SET role = 'retired', retired_at = ? "
            "WHERE name = ? AND generation = ?",
            (self._now(), gen.name, gen.generation),
        )

    def _now(self) -> Any:
        return self.dialect.timestamp_to_db(datetime.now(UTC))

    def generation(self, row: Row) -> Generation:
        """A Generation from a registry row."""
        ts = lambda v: self.dialect.from_db("timestamp", v)  # noqa: E731
        return Generation(
            name=row["name"],
            generation=int(row["generation"]),
            version=int(row["version"]),
            role=row["role"],
            position=int(row["position"]),
            failed_position=row["failed_position"],
            last_error=row["last_error"],
            error_position=row["error_position"],
            worker=row["worker"],
            updated_at=ts(row["updated_at"]),
            retired_at=ts(row["retired_at"]),
            tables=tuple(json.loads(row["tables"])),
        )
