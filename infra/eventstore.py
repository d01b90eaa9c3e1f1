"""From Settings to a working CareEpisodes application on SQLite, PostgreSQL or memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.postgres import (
    ConnectionPool,
    PostgresAggregateRecorder,
    PostgresFactory,
)
from eventsourcing.utils import Environment, get_topic
from psycopg import Connection
from psycopg.rows import DictRow

from domain.application import CareEpisodes, utc_now
from domain.records import ChainedNotification
from infra.files import private_file
from infra.recorders import (
    ChainedPostgresApplicationRecorder,
    ChainedSQLiteApplicationRecorder,
)
from infra.settings import FAIL_FAST, Settings

# A connection back in the pool for less than this is not pinged when taken:
# it just worked. Older ones are (a restart or an outage may have killed them).
PING_AFTER_IDLE_S = 1.0
POOL_WAIT = "CARE_POOL_WAIT_TIMEOUT"
PATIENT_MAPPER_TOPIC = "infra.encryption:PatientMapper"
RECONNECT_WITHIN_S = 1.0


def _returned(conn: Connection[Any]) -> None:
    # The pool's reset callback: the connection is idle again from now.
    conn._care_returned_at = time.monotonic()  # type: ignore[attr-defined]


def _check_if_idle(conn: Connection[Any]) -> None:
    returned = getattr(conn, "_care_returned_at", None)
    if returned is None or time.monotonic() - returned >= PING_AFTER_IDLE_S:
        ConnectionPool.check_connection(conn)


class SnapshotRecorder(PostgresAggregateRecorder):
    """The snapshots' table, read and written without the library's ten retries
    (an outage must answer 503 fast; a missing snapshot only costs a replay)."""

    insert_events = PostgresAggregateRecorder.insert_events.__wrapped__
    select_events = PostgresAggregateRecorder.select_events.__wrapped__


class CarePostgresFactory(PostgresFactory):
    """The library's PostgreSQL infrastructure, with connections that fail fast
    and a pool that pings only connections idle for a while."""

    aggregate_recorder_class = SnapshotRecorder

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        unopened = self.datastore.pool
        known = unopened.kwargs if isinstance(unopened.kwargs, dict) else {}
        self.datastore.pool = ConnectionPool(
            connection_class=Connection[DictRow],
            kwargs={**known, **FAIL_FAST},
            min_size=unopened.min_size,
            max_size=unopened.max_size,
            open=False,
            configure=self.datastore.after_connect_func(),
            check=_check_if_idle,
            reset=_returned,
            timeout=float(self.env.get(POOL_WAIT) or unopened.timeout),
            max_waiting=unopened.max_waiting,
            max_lifetime=unopened.max_lifetime,
            # Give up a reconnection soon: while the database is away a new
            # attempt starts whenever a request asks, instead of one attempt
            # backing off for minutes and holding recovery back when it returns.
            reconnect_timeout=RECONNECT_WITHIN_S,
        )


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing library's environment for the configured store."""
    env = {
        # Payloads sealed per patient (infra.encryption, attached once built).
        "MAPPER_TOPIC": PATIENT_MAPPER_TOPIC,
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size or ""),
        "CREATE_TABLE": "yes" if settings.create_tables else "no",
        "IS_SNAPSHOTTING_ENABLED": "y" if settings.snapshot_every else "n",
    }
    if settings.backend == "postgres":
        pg = settings.postgres
        env.update(
            {
                "PERSISTENCE_MODULE": get_topic(CarePostgresFactory),
                "APPLICATION_RECORDER_TOPIC": get_topic(
                    ChainedPostgresApplicationRecorder
                ),
                "POSTGRES_DBNAME": pg["dbname"],
                "POSTGRES_HOST": pg["host"],
                "POSTGRES_PORT": pg["port"],
                "POSTGRES_USER": pg["user"],
                "POSTGRES_PASSWORD": pg["password"],
                "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
                "POSTGRES_MAX_OVERFLOW": str(settings.postgres_max_overflow),
                # How long a request waits for a pooled connection before it
                # is answered 503: with the database away, not for long.
                POOL_WAIT: str(settings.postgres_wait_timeout),
                # The library's own table locks (not on the events table, which
                # writers never lock) give up after 10 s rather than hang.
                "POSTGRES_LOCK_TIMEOUT": "10",
                "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "5",
            }
        )
        return env
    if settings.backend == "memory":
        # A named shared-cache database: every pooled connection sees the same data
        # (a plain :memory: gives each connection its own empty database).
        dbname = f"file:care-{uuid4().hex}?mode=memory&cache=shared"
    else:
        path = settings.sqlite_path
        # The embedded store holds patient data: owner-only, like its directory.
        private_file(path)
        dbname = str(path)
    env.update(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": get_topic(ChainedSQLiteApplicationRecorder),
            "SQLITE_DBNAME": dbname,
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    )
    return env


ChainedRecorder = ChainedSQLiteApplicationRecorder | ChainedPostgresApplicationRecorder


def chained_recorder(app: CareEpisodes) -> ChainedRecorder:
    """The application's recorder, which this module always makes a chained one."""
    recorder = app.recorder
    if not isinstance(
        recorder, ChainedSQLiteApplicationRecorder | ChainedPostgresApplicationRecorder
    ):
        raise TypeError(f"{type(recorder).__name__} is not a chained recorder")
    return recorder


def build_application(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now
) -> CareEpisodes:
    """Construct CareEpisodes on the configured store, creating its tables if missing,
    its payloads sealed per patient unless encryption is off."""
    # infra.encryption builds on infra.database, which builds on this module.
    from infra.encryption import install_encryption

    app = CareEpisodes(
        env=eventsourcing_env(settings),
        clock=clock,
        snapshot_every=settings.snapshot_every,
    )
    try:
        install_encryption(app, settings)
    except BaseException:
        app.close()
        raise
    return app


def episode_records(recorder: ChainedRecorder) -> Iterator[list[ChainedNotification]]:
    """Every episode's stored records in version order, episode by episode."""
    after: tuple[UUID, int] | None = None
    current: list[ChainedNotification] = []
    while batch := recorder.select_chain_records(after, 1000):
        for record in batch:
            if current and current[0].originator_id != record.originator_id:
                yield current
                current = []
            current.append(record)
        last = batch[-1]
        after = (UUID(str(last.originator_id)), last.originator_version)
    if current:
        yield current
