"""The application's own connection pool, with one cursor shape on both backends."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from domain.application import CareEpisodes
from infra.dialect import POSTGRES, SQLITE, Dialect
from infra.eventstore import chained_recorder
from infra.recorders import ImmediateTransaction

Row = Mapping[str, Any]


class Cursor:
    """A DB-API cursor whose rows are read by column name, on either backend."""

    def __init__(self, raw: Any, dialect: Dialect, pipeline: Any = None) -> None:
        self.raw = raw
        self.dialect = dialect
        self.pipeline = pipeline
        self._raw: psycopg.RawCursor[Any] | None = None

    def another(self) -> Cursor:
        """A second cursor in the same transaction, keeping its own results."""
        return Cursor(self.raw.connection.cursor(), self.dialect, self.pipeline)

    def sync(self) -> None:
        """Have every statement sent so far run and their results read (a
        pipelined transaction sends statements without waiting for them)."""
        if self.pipeline is not None:
            self.pipeline.sync()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement written with `?` placeholders."""
        self.raw.execute(self.dialect.sql(statement), tuple(params))
        return self

    def execute_raw(self, statement: str, params: Sequence[Any]) -> None:
        """Run one statement already in the backend's spelling (`Dialect.numbered`).

        On PostgreSQL it goes through a raw cursor, which sends it as it is:
        psycopg parses a `%s` statement again on every run when it is long, which
        a multi-row insert of thousands of parameters is.
        """
        if self.dialect.placeholder == "?":
            self.raw.execute(statement, tuple(params))
            return
        if self._raw is None:
            self._raw = psycopg.RawCursor(self.raw.connection)
        self._raw.execute(statement, params)

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        self.raw.executemany(self.dialect.sql(statement), [tuple(r) for r in rows])

    def fetchall(self) -> list[Row]:
        """Every remaining row."""
        return list(self.raw.fetchall())

    def fetchone(self) -> Row | None:
        """The next row, or None."""
        return self.raw.fetchone()

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return int(self.raw.rowcount)


class Database:
    """Read and write transactions on the pool the application already holds."""

    def __init__(self, app: CareEpisodes) -> None:
        datastore = chained_recorder(app).datastore
        self.datastore: SQLiteDatastore | PostgresDatastore = datastore
        if isinstance(datastore, SQLiteDatastore):
            self.dialect = SQLITE
            self.sqlite_name: str | None = datastore.pool.db_name
        elif isinstance(datastore, PostgresDatastore):
            self.dialect = POSTGRES
            self.sqlite_name = None
        else:
            raise TypeError(f"no view support for {type(datastore).__name__}")

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A transaction that only reads, and is rolled back."""
        with self.datastore.transaction(commit=False) as raw:
            yield Cursor(self._unwrap(raw), self.dialect)

    @contextmanager
    def querying(self) -> Iterator[Cursor]:
        """Reads outside a transaction: each statement on its own, one round trip
        (BEGIN and ROLLBACK around a single SELECT cost two more on PostgreSQL).
        For rows that no one changes between the statements."""
        if isinstance(self.datastore, SQLiteDatastore):
            with self.reading() as cur:
                yield cur
        else:
            with (
                self.datastore.get_connection() as connection,
                connection.cursor() as pg,
            ):
                yield Cursor(pg, self.dialect)

    @contextmanager
    def writing(self, *, pipelined: bool = False) -> Iterator[Cursor]:
        """A write transaction, committed when the block ends without an error.

        `pipelined` (PostgreSQL): statements are sent without waiting for each
        answer, and run when a result is needed, at `Cursor.sync()` or at the
        commit; rowcount and rows are known only after that. A failing statement
        raises there, and the transaction rolls back. On SQLite, which runs in
        the process, it changes nothing.
        """
        if isinstance(self.datastore, SQLiteDatastore):
            # The writer connection takes the process's writer lock; BEGIN
            # IMMEDIATE makes writers in other processes wait rather than fail.
            with (
                self.datastore.get_connection(commit=True) as conn,
                ImmediateTransaction(conn, commit=True) as raw,
                raw,
            ):
                yield Cursor(raw.sqlite_cursor, self.dialect)
        elif pipelined:
            with (
                self.datastore.get_connection() as connection,
                connection.pipeline() as pipeline,
                connection.transaction(),
                connection.cursor() as pg,
            ):
                yield Cursor(pg, self.dialect, pipeline)
        else:
            with self.datastore.transaction(commit=True) as pg:
                yield Cursor(pg, self.dialect)

    @staticmethod
    def _unwrap(raw: Any) -> Any:
        return getattr(raw, "sqlite_cursor", raw)
