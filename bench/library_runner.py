"""The library's way to run the same projections: one transaction per event.

`LibraryViews` is an eventsourcing tracking recorder (PostgreSQL or SQLite) that
holds the real read models' tables (a generation of their own, 900, beside the
engine's) and, per event, loads the states it needs, runs every projection's
handlers on that one event (the engine's own pure fold, so the rows are the
same), writes states, rows and the tracking record, and commits.
`RealProjections` is the library `Projection` that calls it; on PostgreSQL the
library's `ProjectionRunner` drives it from its subscription, on SQLite (whose
recorders have no subscriptions) a polling loop does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection as LibraryProjection
from eventsourcing.projection import ProjectionRunner
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import get_topic
from psycopg.sql import SQL

from domain.application import CareEpisodes
from domain.events import EVENT_TYPES, EpisodeEvent
from infra.database import Cursor
from infra.dialect import POSTGRES, SQLITE, Dialect
from infra.encryption import install_encryption
from infra.eventstore import eventsourcing_env
from infra.projection.batch import BatchEvent, run_batch
from infra.projection.states import StateCodec
from infra.projection.tables import GenerationTables
from infra.settings import Settings
from projections.base import Projection

GENERATION = 900


class _Views:
    """The tables of every projection, and one event applied to all of them."""

    projections: Sequence[Projection] = ()
    codec: StateCodec

    def _tables(self, dialect: Dialect) -> list[GenerationTables]:
        return [GenerationTables(p, GENERATION, dialect) for p in self.projections]

    def _apply(
        self,
        cur: Cursor,
        tables: list[GenerationTables],
        event: EpisodeEvent,
        position: int,
    ) -> None:
        item = BatchEvent(
            position, str(event.originator_id), get_topic(type(event)), event
        )
        for projection, table in zip(self.projections, tables, strict=True):
            outcome = run_batch(
                projection, table, [item], position - 1,
                lambda keys, t=table: t.load_states(cur, keys), self.codec,
            )  # fmt: skip
            if outcome.failure:
                raise RuntimeError(outcome.failure.error)
            table.save_states(cur, outcome.states)
            table.apply(cur, outcome.ops)


class PostgresLibraryViews(PostgresTrackingRecorder, _Views):
    """The read models' tables and the tracking table, on PostgreSQL."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.tables = self._tables(POSTGRES)
        for table in self.tables:
            for statement in table.create_statements():
                self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    def process(self, event: EpisodeEvent, tracking: Tracking) -> None:
        """Apply one event to every read model and track it, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            self._apply(
                Cursor(curs, POSTGRES), self.tables, event, tracking.notification_id
            )
            self._insert_tracking(curs, tracking)


class SQLiteLibraryViews(SQLiteTrackingRecorder, _Views):
    """The read models' tables and the tracking table, on SQLite."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.tables = self._tables(SQLITE)

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        for table in self._tables(SQLITE):
            statements += table.create_statements()
        return statements

    def process(self, event: EpisodeEvent, tracking: Tracking) -> None:
        """Apply one event to every read model and track it, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            cur = Cursor(c.sqlite_cursor, SQLITE)
            self._apply(cur, self.tables, event, tracking.notification_id)
            self._insert_tracking(c, tracking)


class SealedEpisodes(CareEpisodes):
    """CareEpisodes as the runner makes it from the environment, with the same
    per-patient keys as the service (else it cannot read a sealed store)."""

    # The library names an application after its class unless told: without
    # this the runner reads an empty `sealedepisodes_events` table and its
    # tracking never moves past the migration row.
    name = CareEpisodes.name
    settings: ClassVar[Settings]

    def __init__(self, env: Any = None) -> None:
        super().__init__(env=env)
        install_encryption(self, self.settings)


class RealProjections(LibraryProjection[Any]):
    """The library projection that hands each event to the views."""

    name = "bench_library"
    topics: ClassVar[tuple[str, ...]] = tuple(get_topic(t) for t in EVENT_TYPES)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        assert isinstance(domain_event, EpisodeEvent)
        self.view.process(domain_event, tracking)


def run_library(
    app: CareEpisodes,
    settings: Settings,
    projections: Sequence[Projection],
    until: int,
) -> None:
    """The library's projection of `projections` from the first event to position
    `until`, one transaction per event."""
    _Views.projections = list(projections)
    _Views.codec = StateCodec(app.mapper.transcoder)
    if settings.backend == "postgres":
        SealedEpisodes.settings = settings
        with ProjectionRunner(
            application_class=SealedEpisodes,
            projection_class=RealProjections,
            view_class=PostgresLibraryViews,
            env=eventsourcing_env(settings),
        ) as runner:
            runner.wait(until, timeout=24 * 3600)
        return
    view = SQLiteLibraryViews(app.factory.datastore)  # type: ignore[attr-defined]
    view.create_table()
    projection = RealProjections(view)
    position = view.max_tracking_id(app.name) or 0
    while position < until and (
        batch := app.recorder.select_notifications(
            start=position, limit=500, inclusive_of_start=False, stop=until
        )
    ):
        for notification in batch:
            event = app.mapper.to_domain_event(notification)
            projection.process_event(event, Tracking(app.name, notification.id))
        position = batch[-1].id
