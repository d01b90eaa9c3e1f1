"""Reading views: a projection's serving tables by their declared names.

    with read_models.cursor("referral_audit") as cur:
        cur.execute("SELECT * FROM {findings} WHERE rule = ? ORDER BY episode_id", ["R1"])
        rows = cur.fetchall()   # dicts; timestamps, booleans and json decoded

`{table}` names a declared table (write `{{` for a literal brace), `?` is the
placeholder on both backends (on PostgreSQL use jsonb functions, not the `?`
operator), and parameters take the form stored values have (enums by value, UUIDs
as text, aware datetimes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from infra.database import Cursor, Database
from infra.projection.registry import TABLE, Generation, Registry
from infra.projection.tables import physical_name
from projections.base import ColumnType, Projection


class ViewCursor:
    """A read cursor over one projection's serving tables."""

    def __init__(
        self,
        cur: Cursor,
        tables: Mapping[str, str],
        types: Mapping[str, ColumnType],
        generation: Generation,
    ) -> None:
        self._cur = cur
        self._tables = tables
        self._types = types
        self.generation = generation
        self.position = generation.position
        """The global position the view has processed up to."""
        self.backend = cur.dialect.name
        """'sqlite' or 'postgres', for the rare query that must differ (json)."""

    def table(self, name: str) -> str:
        """The physical name of a declared table."""
        return self._tables[name]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> ViewCursor:
        """Run a query written with `{table}` names and `?` placeholders."""
        dialect = self._cur.dialect
        self._cur.execute(
            sql.format_map(self._tables), [dialect.param(p) for p in params]
        )
        return self

    def fetchall(self) -> list[dict[str, Any]]:
        """Every remaining row as a dict, values decoded by their column's type."""
        return [self._decode(row) for row in self._cur.fetchall()]

    def fetchone(self) -> dict[str, Any] | None:
        """The next row as a dict, or None."""
        row = self._cur.fetchone()
        return None if row is None else self._decode(row)

    def _decode(self, row: Mapping[str, Any]) -> dict[str, Any]:
        dialect = self._cur.dialect
        return {
            key: dialect.from_db(self._types[key], value)
            if key in self._types
            else value
            for key, value in dict(row).items()
        }


class ViewReader:
    """Resolves a projection's serving generation and reads its tables."""

    def __init__(
        self, db: Database, registry: Registry, projections: Sequence[Projection]
    ) -> None:
        self.db = db
        self.registry = registry
        self.projections = {p.name: p for p in projections}
        self._types = {p.name: _column_types(p) for p in projections}

    @contextmanager
    def cursor(self, name: str) -> Iterator[ViewCursor]:
        """A read transaction on the tables that serve projection `name` now."""
        if name not in self.projections:
            raise KeyError(f"no projection named {name!r}")
        for attempt in (1, 2):
            with self.db.reading() as cur:
                gen = self._serving(cur, name)
                if gen is not None:
                    prefix = physical_name(name, gen.generation, "x")[:-1]
                    tables = {
                        t.removeprefix(prefix): t
                        for t in gen.tables
                        if t.startswith(prefix)
                    }
                    yield ViewCursor(cur, tables, self._types[name], gen)
                    return
            if attempt == 1:
                # Nothing built yet: create the empty first generation and read it.
                self.registry.reconcile(self.projections[name])
        raise LookupError(f"projection {name!r} has no serving generation")

    def query(
        self, name: str, sql: str, params: Sequence[Any] = ()
    ) -> list[dict[str, Any]]:
        """All rows of one query; retried once if a switch dropped the tables."""
        for attempt in (1, 2):
            try:
                with self.cursor(name) as cur:
                    return cur.execute(sql, params).fetchall()
            except Exception as error:
                if attempt == 2 or not self.db.dialect.missing_table(error):
                    raise
                time.sleep(0.01)
        raise AssertionError("unreachable")

    def _serving(self, cur: Cursor, name: str) -> Generation | None:
        row = cur.execute(
            f"SELECT * FROM {TABLE} WHERE name = ? AND role = 'serving'", (name,)
        ).fetchone()
        return None if row is None else self.registry.generation(row)


def _column_types(projection: Projection) -> dict[str, ColumnType]:
    """Result columns decoded by name: each declared column name with one type."""
    seen: dict[str, set[ColumnType]] = {}
    for table in projection.tables:
        for column in table.columns:
            seen.setdefault(column.name, set()).add(column.type)
    return {name: next(iter(t)) for name, t in seen.items() if len(t) == 1}
