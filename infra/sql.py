"""One way to run SQL on the application's own database, SQLite or PostgreSQL.

Statements are written with %s placeholders; on SQLite they become ?. Rows are
read by column name on both backends. Writes on SQLite take the write lock when
they begin (see ImmediateTransaction), so concurrent writers wait, not fail.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from domain.application import CareEpisodes
from infra.recorders import ImmediateTransaction


class Cursor:
    """A cursor that speaks %s placeholders on either backend."""

    def __init__(self, raw: Any, *, sqlite: bool) -> None:
        self.raw = raw
        self.sqlite = sqlite

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        if self.sqlite:
            self.raw.execute(statement.replace("%s", "?"), tuple(params))
        else:
            self.raw.execute(statement, tuple(params))
        return self

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self.raw.fetchall())

    @property
    def lastrowid(self) -> int:
        return int(self.raw.lastrowid)


class Database:
    """The events database, for tables that live beside the events."""

    def __init__(self, episodes: CareEpisodes) -> None:
        self.datastore = episodes.factory.datastore  # type: ignore[attr-defined]
        self.is_sqlite = isinstance(self.datastore, SQLiteDatastore)
        if not self.is_sqlite and not isinstance(self.datastore, PostgresDatastore):
            raise TypeError(f"unsupported datastore {type(self.datastore).__name__}")

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        """A write transaction: committed when the block ends, rolled back on error."""
        if self.is_sqlite:
            with (
                self.datastore.get_connection(commit=True) as conn,
                ImmediateTransaction(conn, commit=True) as raw,
            ):
                yield Cursor(raw, sqlite=True)
        else:
            with self.datastore.transaction(commit=True) as raw:
                yield Cursor(raw, sqlite=False)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        """A read-only transaction."""
        with self.datastore.transaction(commit=False) as raw:
            yield Cursor(raw, sqlite=self.is_sqlite)

    def timestamp(self, moment: datetime) -> Any:
        """A timestamp as stored: timestamptz on PostgreSQL, fixed-width UTC text on SQLite
        (so that text order is time order)."""
        if self.is_sqlite:
            return moment.astimezone(UTC).isoformat(timespec="microseconds")
        return moment

    def from_timestamp(self, value: Any) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value
