"""Application recorders that chain each stored event and read an episode's records.

They extend the library's SQLite and PostgreSQL recorders: the same tables and
insert protocol, plus a `chain_hash` column written in the insert's transaction.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteTransaction,
)
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from domain.records import ChainedNotification, IndexEntry
from infra import episode_index
from infra.chain import GENESIS, chain_link
from infra.dialect import POSTGRES, SQLITE
from infra.news import COMMITS


def _link_batch(
    stored_events: Sequence[StoredEvent], heads: dict[tuple[str, int], bytes]
) -> list[bytes]:
    """Links for a batch, given the stored links the batch continues from."""
    last: dict[str, bytes] = {}
    links = []
    for s in stored_events:
        key = str(s.originator_id)
        if key in last:
            previous = last[key]
        elif s.originator_version == 1:
            previous = GENESIS
        else:
            try:
                previous = heads[(key, s.originator_version - 1)]
            except KeyError:
                msg = (
                    f"cannot chain version {s.originator_version} of {key}: "
                    "the version before it is not stored"
                )
                raise IntegrityError(msg) from None
        link = chain_link(
            previous, s.originator_id, s.originator_version, s.topic, s.state
        )
        last[key] = link
        links.append(link)
    return links


def _chained(row: Any, position_column: str) -> ChainedNotification:
    """A stored row (SQLite hex text or PostgreSQL uuid ids) as a ChainedNotification."""
    return ChainedNotification(
        id=int(row[position_column]),
        originator_id=UUID(str(row["originator_id"])),
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
        chain_hash=bytes(row["chain_hash"] or b""),
    )


def _sqlite_time(moment: datetime) -> Any:
    return SQLITE.timestamp_to_db(moment)


def _same(value: Any) -> Any:
    return value


def _aware(moment: datetime) -> Any:
    return POSTGRES.timestamp_to_db(moment)


def _predecessors(stored_events: Sequence[StoredEvent]) -> list[tuple[str, int]]:
    """(episode, version) of the stored event each episode in the batch follows."""
    first: dict[str, int] = {}
    for s in stored_events:
        first.setdefault(str(s.originator_id), s.originator_version)
    return [(key, version - 1) for key, version in first.items() if version > 1]


class ImmediateTransaction(SQLiteTransaction):
    """A write transaction that takes SQLite's write lock when it begins.

    A deferred transaction that reads and then writes fails at once with
    "database is locked" when another connection committed in between; taking
    the lock first makes it wait (up to the lock timeout) instead.
    """

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


Ride = tuple[str, Sequence[Any]]
"""One statement (with `?` or `%s` placeholders) and its parameters."""


class Rider(Protocol):
    """Rows another part of the store writes in the events' transaction (a new
    patient's data key beside its first events)."""

    def rides(self, placeholder: str) -> list[Ride]:
        """The statements to run in the next events' transaction."""

    def committed(self, rides: Sequence[Ride]) -> None:
        """The transaction that ran `rides` committed."""


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """SQLite events table with a chain_hash column."""

    rider: Rider | None = None

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rides = self.rider.rides("?") if self.rider else []
        with (
            self.datastore.get_connection(commit=True) as conn,
            ImmediateTransaction(conn, commit=True) as c,
        ):
            for statement, params in rides:
                c.execute(statement, params)
            positions = self._insert_events(c, stored_events, **kwargs)
        COMMITS.recorded()  # committed: an engine in this process may go on
        if rides and self.rider:
            self.rider.committed(rides)
        return positions

    def newest_position(self) -> int:
        """The newest stored position (0: none); SQLite commits one writer at a
        time, so positions commit in order and every one is settled."""
        return self.max_notification_id() or 0

    def count_events(self, up_to: int | None = None) -> int:
        """How many events are stored (at positions up to `up_to`)."""
        statement = f"SELECT COUNT(*) AS n FROM {self.events_table_name}"
        params: list[Any] = []
        if up_to is not None:
            statement += " WHERE rowid <= ?"
            params.append(up_to)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return int(c.fetchone()["n"])

    def construct_create_table_statements(self) -> list[str]:
        return [
            # The position column is named rowid so the library's queries keep
            # working; AUTOINCREMENT means a position is never handed out twice,
            # even after the newest row is deleted.
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name} ("
            "rowid INTEGER PRIMARY KEY AUTOINCREMENT, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "topic TEXT, state BLOB, chain_hash BLOB, "
            "UNIQUE (originator_id, originator_version))",
            *(
                # Stored events are never changed (verify would tell; this says no).
                f"CREATE TRIGGER IF NOT EXISTS {self.events_table_name}_append_only_"
                f"{verb.lower()} BEFORE {verb} ON {self.events_table_name} BEGIN "
                "SELECT RAISE(ABORT, 'stored events are append-only'); END"
                for verb in ("UPDATE", "DELETE")
            ),
            *episode_index.create_statements("sqlite"),
        ]

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        index: Sequence[IndexEntry] = (),
        **_: Any,
    ) -> Sequence[int] | None:
        heads = {}
        for key, version in _predecessors(stored_events):
            c.execute(
                f"SELECT chain_hash FROM {self.events_table_name} "
                "WHERE originator_id=? AND originator_version=?",
                (UUID(key).hex, version),
            )
            row = c.fetchone()
            if row is not None and row["chain_hash"] is not None:
                heads[(key, version)] = bytes(row["chain_hash"])
        links = _link_batch(stored_events, heads)
        positions = []
        for s, link in zip(stored_events, links, strict=True):
            c.execute(
                f"INSERT INTO {self.events_table_name} "
                "(originator_id, originator_version, topic, state, chain_hash) "
                "VALUES (?,?,?,?,?)",
                (
                    UUID(str(s.originator_id)).hex,
                    s.originator_version,
                    s.topic,
                    s.state,
                    link,
                ),
            )
            positions.append(c.lastrowid)
        if index:
            rows, referrers = episode_index.rows(index, id_of=str, time_of=_sqlite_time)
            c.executemany(episode_index.UPSERT.format(p="?"), rows)
            c.executemany(episode_index.REFERRER.format(p="?"), referrers)
        return positions

    def select_episode_records(
        self,
        episode_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        limit: int | None = None,
    ) -> list[ChainedNotification]:
        """An episode's stored events in version order (after version `gt`, up to
        `lte`, at most `limit` of them), with position and link."""
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state, chain_hash "
            f"FROM {self.events_table_name} WHERE originator_id=? "
        )
        params: list[Any] = [episode_id.hex]
        if gt is not None:
            statement += "AND originator_version>? "
            params.append(gt)
        if lte is not None:
            statement += "AND originator_version<=? "
            params.append(lte)
        statement += "ORDER BY originator_version"
        if limit is not None:
            statement += " LIMIT ?"
            params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [_chained(row, "rowid") for row in c.fetchall()]

    def select_head_version(self, episode_id: UUID) -> int | None:
        """The episode's newest version, or None if it has no events."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT MAX(originator_version) AS v FROM {self.events_table_name} "
                "WHERE originator_id=?",
                (episode_id.hex,),
            )
            row = c.fetchone()
            return None if row is None or row["v"] is None else int(row["v"])

    def select_position(self, episode_id: UUID, version: int) -> int | None:
        """The global position of one episode event."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} "
                "WHERE originator_id=? AND originator_version=?",
                (episode_id.hex, version),
            )
            row = c.fetchone()
            return None if row is None else int(row["rowid"])

    def write_index(self, entries: Sequence[IndexEntry]) -> None:
        """Upsert index entries in a transaction of their own (a backfill)."""
        with (
            self.datastore.get_connection(commit=True) as conn,
            ImmediateTransaction(conn, commit=True) as c,
        ):
            rows, referrers = episode_index.rows(
                entries, id_of=str, time_of=_sqlite_time
            )
            c.executemany(episode_index.UPSERT.format(p="?"), rows)
            c.executemany(episode_index.REFERRER.format(p="?"), referrers)

    def select_referrer(self, episode_id: UUID, referrer_id: str) -> bool:
        """Whether `referrer_id` referred the patient into the episode."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT 1 FROM episode_referrers WHERE episode_id=? AND referrer_id=?",
                (str(episode_id), referrer_id),
            )
            return c.fetchone() is not None

    def select_chain_records(
        self, after: tuple[UUID, int] | None, limit: int
    ) -> list[ChainedNotification]:
        """Stored events in (episode, version) order after `after`, for verification."""
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state, chain_hash "
            f"FROM {self.events_table_name} "
        )
        params: list[Any] = []
        if after is not None:
            statement += "WHERE (originator_id, originator_version) > (?, ?) "
            params += [after[0].hex, after[1]]
        statement += "ORDER BY originator_id, originator_version LIMIT ?"
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [*params, limit])
            return [_chained(row, "rowid") for row in c.fetchall()]


# A create statement's index, made if missing: its name, and its table's schema
# when the table is qualified (an index lives in its table's schema).
_NEW_INDEX = re.compile(
    r'CREATE (?:UNIQUE )?INDEX IF NOT EXISTS (\S+) ON (?:("[^"]+"|\w+)\.)?'
)


def _index_of(statement: str) -> str | None:
    """The qualified name of the index `statement` creates if missing, or None."""
    found = _NEW_INDEX.match(statement)
    if found is None:
        return None
    name, schema = found.groups()
    return f"{schema}.{name}" if schema else name


# Readers' order without a table lock. An event's position is the id of the
# transaction that inserted it (xid8) times 2**16, plus its place in that insert
# (one insert per transaction). Every transaction whose id is below the oldest one
# still running (`pg_snapshot_xmin`) has committed or rolled back, and one that has
# yet to write gets an id above it: so every event below HORIZON is final, and a
# reader paging by "greater than the last position seen", never at or past the
# horizon, never passes over an event that commits later. Writers commit in
# parallel, and PostgreSQL groups their commits.
EVENTS_PER_TRANSACTION = 2**16
SETTLE_WAIT_S = 1.0
TRANSACTION_BASE = f"pg_current_xact_id()::text::bigint * {EVENTS_PER_TRANSACTION}"
HORIZON = (
    f"pg_snapshot_xmin(pg_current_snapshot())::text::bigint * {EVENTS_PER_TRANSACTION}"
)


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """PostgreSQL events table with a chain_hash column, positions in transaction
    order and no table lock (see HORIZON)."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        table = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        add_chain = SQL("ALTER TABLE {0} ADD COLUMN IF NOT EXISTS chain_hash bytea")
        self.sql_create_statements.append(add_chain.format(table))
        self.select_heads_statement = SQL(
            "SELECT t.originator_id, t.originator_version, t.chain_hash FROM {0} t "
            "JOIN unnest(%s::uuid[], %s::bigint[]) AS k(id, v) "
            "ON t.originator_id = k.id AND t.originator_version = k.v"
        ).format(table)
        self.insert_chained_statement = SQL(
            "INSERT INTO {0} "
            "(notification_id, originator_id, originator_version, topic, state, chain_hash) "
            "SELECT {1} + e.n - 1, e.id, e.v, e.topic, e.state, e.link "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], %s::bytea[]) "
            "WITH ORDINALITY AS e(id, v, topic, state, link, n) "
            "ORDER BY e.n RETURNING notification_id"
        ).format(table, SQL(TRANSACTION_BASE))
        self.select_settled_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {0} WHERE notification_id > %s AND notification_id < {1}"
        ).format(table, SQL(HORIZON))
        self.heads_statement = SQL(
            "SELECT (SELECT MAX(notification_id) FROM {0}) AS newest, "
            "(SELECT MAX(notification_id) FROM {0} WHERE notification_id < {1}) "
            "AS settled"
        ).format(table, SQL(HORIZON))
        self.count_statement = SQL("SELECT COUNT(*) AS n FROM {0}").format(table)
        self.newest_statement = SQL(
            "SELECT MAX(notification_id) AS newest FROM {0}"
        ).format(table)
        self.select_records_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state, "
            "chain_hash FROM {0} WHERE originator_id = %s"
        ).format(table)
        self.select_chain_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state, "
            "chain_hash FROM {0}"
        ).format(table)
        self.select_head_statement = SQL(
            "SELECT MAX(originator_version) AS v FROM {0} WHERE originator_id = %s"
        ).format(table)
        self.select_position_statement = SQL(
            "SELECT notification_id FROM {0} "
            "WHERE originator_id = %s AND originator_version = %s"
        ).format(table)
        self.sql_create_statements += [
            SQL(
                "CREATE OR REPLACE FUNCTION care_append_only() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
                "'% is append-only', TG_TABLE_NAME; END $$"
            ).format(),
            # Stored events are never changed: the service's role cannot, and an
            # owner who disables this still leaves verify to find it.
            SQL(
                "DO $$ BEGIN CREATE TRIGGER {0} BEFORE UPDATE OR DELETE OR TRUNCATE "
                "ON {1} FOR EACH STATEMENT EXECUTE FUNCTION care_append_only(); "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ).format(Identifier(f"{self.events_table_name}_append_only"), table),
        ]
        # Statements that lock the events table itself even when they change
        # nothing (ALTER TABLE takes an ACCESS EXCLUSIVE lock, CREATE TRIGGER a
        # SHARE ROW EXCLUSIVE one). Every process runs the create statements when
        # it starts; queued behind a long read, such a lock stops every writer
        # queued behind it. So they run only when needed.
        self._events_table_ddl = (
            self.sql_create_statements[-1],
            add_chain.format(table),
        )
        for statement in episode_index.create_statements("postgres"):
            self.sql_create_statements.append(SQL(statement).format())
        self._heads = threading.local()

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        curs.execute(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_name = 'chain_hash') "
            "AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = %s) AS ready",
            (
                self.datastore.schema,
                self.events_table_name,
                f"{self.events_table_name}_append_only",
            ),
        )
        row = curs.fetchone()
        if row is None or not row["ready"]:
            super()._create_table(curs)
            return
        texts = [statement.as_string() for statement in self.sql_create_statements]
        indexes = {name for text in texts if (name := _index_of(text))}
        curs.execute(
            "SELECT name FROM unnest(%s::text[]) AS name "
            "WHERE to_regclass(name) IS NOT NULL",
            (sorted(indexes),),
        )
        present = {row["name"] for row in curs.fetchall()}
        for statement, text in zip(self.sql_create_statements, texts, strict=True):
            if "CREATE TYPE" in text or statement in self._events_table_ddl:
                continue
            if _index_of(text) in present:
                # CREATE INDEX IF NOT EXISTS takes its SHARE lock on the table
                # before it looks at the name: a process starting beside writers
                # would queue behind them while holding the tables before it.
                continue
            curs.execute(statement, prepare=False)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        # In the same transaction, before the insert: the links the batch
        # continues from (committed, they never change).
        predecessors = _predecessors(stored_events)
        heads: dict[tuple[str, int], bytes] = {}
        if predecessors:
            curs.execute(
                self.select_heads_statement,
                ([UUID(k) for k, _ in predecessors], [v for _, v in predecessors]),
            )
            for row in curs.fetchall():
                if row["chain_hash"] is not None:
                    key = (str(row["originator_id"]), row["originator_version"])
                    heads[key] = bytes(row["chain_hash"])
        self._heads.value = heads

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        *,
        index: Sequence[IndexEntry] = (),
        rides: Sequence[Ride] = (),
        **_: Any,
    ) -> None:
        # NOTIFY listeners, then insert; RETURNING gives the positions. No table
        # lock: readers keep to the horizon instead (see HORIZON).
        if len(stored_events) > EVENTS_PER_TRANSACTION:
            msg = f"at most {EVENTS_PER_TRANSACTION} events are stored in one insert"
            raise ValueError(msg)
        heads = getattr(self._heads, "value", None) or {}
        self._heads.value = None
        links = _link_batch(stored_events, heads)
        if rides:
            with curs.connection.cursor() as other:
                for statement, params in rides:
                    other.execute(statement, params)
        self._notify_channel(curs)
        if index:
            # Writers of one episode follow each other (each decided on the version
            # the one before committed), so its row changes in the order its events
            # commit. In one order of episodes, so writers of several never
            # deadlock; on a cursor of its own, since the positions are read from
            # this one.
            index = sorted(index, key=lambda entry: str(entry.episode_id))
            rows, referrers = episode_index.rows(index, id_of=_same, time_of=_aware)
            with curs.connection.cursor() as other:
                other.executemany(episode_index.UPSERT.format(p="%s"), rows)
                other.executemany(episode_index.REFERRER.format(p="%s"), referrers)
        curs.execute(
            self.insert_chained_statement,
            (
                [UUID(str(s.originator_id)) for s in stored_events],
                [s.originator_version for s in stored_events],
                [s.topic for s in stored_events],
                [s.state for s in stored_events],
                links,
            ),
        )

    # Fail fast: the library retries these ten times when the database is away,
    # which turned an outage into minute-long hangs; a caller gets a 503 instead
    # and retries on its own terms.
    _insert_chained = PostgresApplicationRecorder.insert_events.__wrapped__

    rider: Rider | None = None

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rides = self.rider.rides("%s") if self.rider else []
        positions = self._insert_chained(stored_events, rides=rides, **kwargs)
        if rides and self.rider:
            self.rider.committed(rides)
        return positions

    select_events = PostgresApplicationRecorder.select_events.__wrapped__

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """Settled events in global order from `start` (at most `limit`, up to
        `stop`, of `topics`): only those below the horizon, which are final."""
        after = -1 if start is None else start - 1 if inclusive_of_start else start
        statement = self.select_settled_statement
        params: list[Any] = [after]
        if stop is not None:
            statement += SQL(" AND notification_id <= %s")
            params.append(stop)
        if topics:
            statement += SQL(" AND topic = ANY(%s)")
            params.append(list(topics))
        statement += SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def max_notification_id(self) -> int | None:
        """The newest position once every event committed before the call has
        settled (so a reader that asks after its own write sees it, in order);
        None if there is none. Older transactions still open are waited for up to
        SETTLE_WAIT_S, after which the newest settled position is the answer."""
        deadline = time.monotonic() + SETTLE_WAIT_S
        pause = 0.001
        newest: int | None = None
        while True:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self.heads_statement)
                row = curs.fetchone()
            assert row is not None
            settled = row["settled"]
            newest = row["newest"] if newest is None else newest
            if newest is None or (settled is not None and settled >= newest):
                return settled
            if time.monotonic() >= deadline:
                return settled
            time.sleep(pause)
            pause = min(2 * pause, 0.05)

    def count_events(self, up_to: int | None = None) -> int:
        """How many events are stored (at positions up to `up_to`): positions
        are not dense, so this, not the newest position, says how many."""
        statement = self.count_statement
        params: list[Any] = []
        if up_to is not None:
            statement += SQL(" WHERE notification_id <= %s")
            params.append(up_to)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            row = curs.fetchone()
            return int(row["n"]) if row else 0

    def newest_position(self) -> int:
        """The newest committed position (0: none), settled or not: past the
        newest settled one, events wait behind an older transaction still open."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.newest_statement)
            row = curs.fetchone()
            return int(row["newest"]) if row and row["newest"] is not None else 0

    def select_episode_records(
        self,
        episode_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        limit: int | None = None,
    ) -> list[ChainedNotification]:
        """An episode's stored events in version order (after version `gt`, up to
        `lte`, at most `limit` of them), with position and link."""
        statement = self.select_records_statement
        params: list[Any] = [episode_id]
        if gt is not None:
            statement += SQL(" AND originator_version > %s")
            params.append(gt)
        if lte is not None:
            statement += SQL(" AND originator_version <= %s")
            params.append(lte)
        statement += SQL(" ORDER BY originator_version")
        if limit is not None:
            statement += SQL(" LIMIT %s")
            params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [_chained(row, "notification_id") for row in curs.fetchall()]

    def select_head_version(self, episode_id: UUID) -> int | None:
        """The episode's newest version, or None if it has no events."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_head_statement, (episode_id,))
            row = curs.fetchone()
            return None if row is None or row["v"] is None else int(row["v"])

    def select_position(self, episode_id: UUID, version: int) -> int | None:
        """The global position of one episode event."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_position_statement, (episode_id, version))
            row = curs.fetchone()
            return None if row is None else int(row["notification_id"])

    def write_index(self, entries: Sequence[IndexEntry]) -> None:
        """Upsert index entries in a transaction of their own (a backfill)."""
        rows, referrers = episode_index.rows(entries, id_of=_same, time_of=_aware)
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(episode_index.UPSERT.format(p="%s"), rows)
            curs.executemany(episode_index.REFERRER.format(p="%s"), referrers)

    def select_referrer(self, episode_id: UUID, referrer_id: str) -> bool:
        """Whether `referrer_id` referred the patient into the episode."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                "SELECT 1 FROM episode_referrers "
                "WHERE episode_id = %s AND referrer_id = %s",
                (episode_id, referrer_id),
            )
            return curs.fetchone() is not None

    def select_chain_records(
        self, after: tuple[UUID, int] | None, limit: int
    ) -> list[ChainedNotification]:
        """Stored events in (episode, version) order after `after`, for verification."""
        statement = self.select_chain_statement
        params: list[Any] = []
        if after is not None:
            statement += SQL(" WHERE (originator_id, originator_version) > (%s, %s)")
            params += [after[0], after[1]]
        statement += SQL(" ORDER BY originator_id, originator_version LIMIT %s")
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [*params, limit])
            return [_chained(row, "notification_id") for row in curs.fetchall()]
