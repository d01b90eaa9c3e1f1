"""Positions in transaction order: writers take no table lock on PostgreSQL, and
no reader ever passes over an event that an older transaction commits later.

An event's position on PostgreSQL is its transaction's id times 2**16 plus its
place in the insert; readers keep below the oldest transaction still running
(infra.recorders.HORIZON). These tests hold a real writer's transaction open
between its INSERT and its COMMIT, let a younger writer commit past it, and
watch what readers and the projection engine do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import PersistenceError

from domain import commands as cmd
from domain.application import CareEpisodes, CommandResult
from infra import recorders
from infra.eventstore import build_application
from infra.projection import Engine, ReadModels
from infra.settings import Settings
from tests.support import builders as b
from tests.support import projections as ps


class HeldWriter:
    """A second application on the same store whose next insert stops after its
    INSERT ran, inside its transaction, until released; `backend_pid` is the
    connection that holds it (terminated: a writer that dies before its commit)."""

    def __init__(self, settings: Settings) -> None:
        self.app = build_application(settings)
        self.inserted = threading.Event()
        self.release = threading.Event()
        self.backend_pid = 0
        recorder: Any = self.app.recorder
        fetch = recorder._fetch_ids_after_insert_events

        def held(curs: Any, stored_events: Any, **kwargs: Any) -> Any:
            ids = fetch(curs, stored_events, **kwargs)
            self.backend_pid = curs.connection.info.backend_pid
            self.inserted.set()
            assert self.release.wait(30), "the test never released the writer"
            return ids

        recorder._fetch_ids_after_insert_events = held
        self._pool = ThreadPoolExecutor(1)

    def start(self, command: cmd.Command) -> Any:
        """The command, sent on a thread of its own; once its INSERT ran."""
        future = self._pool.submit(self.app.handle, command, actor=b.SERVICE)
        assert self.inserted.wait(30), "the held writer never inserted"
        return future

    def close(self) -> None:
        self.release.set()
        self._pool.shutdown()
        self.app.close()


@pytest.fixture
def pg_settings(postgres_url: str) -> Settings:
    return Settings(database_url=postgres_url)


@pytest.fixture
def pg_store(pg_settings: Settings) -> Iterator[CareEpisodes]:
    app = build_application(pg_settings)
    yield app
    app.close()


@pytest.fixture
def held(pg_settings: Settings) -> Iterator[HeldWriter]:
    writer = HeldWriter(pg_settings)
    yield writer
    writer.close()


def diagnostic(episode: UUID) -> cmd.RecordDiagnostic:
    return b.command(cmd.RecordDiagnostic, episode, b.mri(), days=1)


def after(app: CareEpisodes, position: int) -> list[int]:
    """The positions a reader sees after `position` now."""
    found = app.recorder.select_notifications(
        start=position, limit=100, inclusive_of_start=False
    )
    return [n.id for n in found]


def settled_after(app: CareEpisodes, position: int) -> list[int]:
    """The same, once every write committed before the call has settled (other
    databases of the cluster may hold transactions open a moment)."""
    app.recorder.max_notification_id()
    return after(app, position)


def two_episodes_caught_up(
    store: CareEpisodes, settings: Settings
) -> tuple[UUID, UUID, int]:
    first = ps.open_episode(store, patient_id="pt-older")
    second = ps.open_episode(store, patient_id="pt-younger")
    head = store.recorder.max_notification_id()
    assert head is not None
    engine = Engine(store, settings, ps.projections(), ps.FAST)
    engine.catch_up()
    engine.close()
    return first, second, head


@pytest.mark.postgres
def test_an_older_transaction_that_commits_later_is_read_in_its_place(
    pg_store, pg_settings, held
):
    first, second, head = two_episodes_caught_up(pg_store, pg_settings)
    reads = ReadModels(pg_store, ps.projections())
    # given an older writer holding its transaction open after its INSERT
    older = held.start(diagnostic(first))
    # when a younger writer commits: no table lock makes it wait for the older
    younger: CommandResult = pg_store.handle(diagnostic(second), actor=b.SERVICE)
    # then no reader sees the younger event while the older may still commit
    assert after(pg_store, head) == []
    engine = Engine(pg_store, pg_settings, ps.projections(), ps.FAST)
    engine.run_once()
    assert engine.unsettled
    assert [s.position for s in reads.status()] == [head, head]
    # when the older commits
    held.release.set()
    older_result: CommandResult = older.result(timeout=30)
    # then both are read, the older first: its position is the lower one
    assert older_result.position < younger.position
    assert settled_after(pg_store, head) == [
        older_result.position,
        younger.position,
    ]
    engine.catch_up()
    engine.close()
    log = [r["position"] for r in reads.rows("event_log", "entries")]
    assert log[-2:] == [older_result.position, younger.position]
    ps.assert_views_match_a_fold(pg_store, reads)


@pytest.mark.postgres
def test_a_writer_that_dies_before_its_commit_holds_readers_back_only_until_then(
    pg_store, pg_settings, held, postgres_url
):
    first, second, head = two_episodes_caught_up(pg_store, pg_settings)
    reads = ReadModels(pg_store, ps.projections())
    older = held.start(diagnostic(first))
    younger = pg_store.handle(diagnostic(second), actor=b.SERVICE)
    assert after(pg_store, head) == []
    # when the older writer's connection dies inside its transaction
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (held.backend_pid,))
    held.release.set()
    with pytest.raises((PersistenceError, psycopg.Error)):
        older.result(timeout=30)
    # then the younger event is read, and nothing of the older one exists
    assert settled_after(pg_store, head) == [younger.position]
    assert pg_store.head_version(first) == 1
    engine = Engine(pg_store, pg_settings, ps.projections(), ps.FAST)
    engine.catch_up()
    engine.close()
    assert [s.position for s in reads.status()] == [younger.position] * 2
    ps.assert_views_match_a_fold(pg_store, reads)


@pytest.mark.postgres
def test_the_head_waits_for_older_writers_then_answers_what_is_settled(
    pg_store, pg_settings, held, monkeypatch
):
    first, second, head = two_episodes_caught_up(pg_store, pg_settings)
    older = held.start(diagnostic(first))
    younger = pg_store.handle(diagnostic(second), actor=b.SERVICE)
    # while the older is open, the head is the last settled position
    monkeypatch.setattr(recorders, "SETTLE_WAIT_S", 0.2)
    assert pg_store.recorder.max_notification_id() == head
    monkeypatch.undo()
    held.release.set()
    older.result(timeout=30)
    # once it committed, the head is the younger event: asked after a write, the
    # head includes it
    assert pg_store.recorder.max_notification_id() == younger.position


def test_a_reader_tailing_concurrent_writers_reads_every_event_once_in_order(
    store, settings
):
    # given writers on threads of their own, each on its episodes
    writers, per_writer = 6, 12
    episodes = [ps.open_episode(store, patient_id=f"pt-{n}") for n in range(writers)]
    start = store.recorder.max_notification_id() or 0
    done = threading.Event()
    seen: list[int] = []

    def tail() -> None:
        last = start
        while True:
            finished = done.is_set()
            page = after(store, last)
            seen.extend(page)
            last = page[-1] if page else last
            if finished and not page:
                return

    def write(episode: UUID) -> list[int]:
        return [
            store.handle(
                b.command(cmd.RecordOutcome, episode, b.outcome(), hours=n),
                actor=b.SERVICE,
            ).position
            for n in range(per_writer)
        ]

    reader = threading.Thread(target=tail)
    reader.start()
    with ThreadPoolExecutor(writers) as pool:
        acknowledged = [p for mine in pool.map(write, episodes) for p in mine]
    store.recorder.max_notification_id()  # every acknowledged write settled
    done.set()
    reader.join(timeout=60)
    # then the reader saw each acknowledged event exactly once, in position order
    assert seen == sorted(seen)
    assert sorted(seen) == sorted(acknowledged)
    assert len(seen) == writers * per_writer


@pytest.mark.postgres
def test_a_process_starting_beside_an_open_writer_takes_no_table_lock(
    pg_store, pg_settings, held
):
    # given a writer holding its transaction open after its index row and INSERT
    first, _, _ = two_episodes_caught_up(pg_store, pg_settings)
    older = held.start(diagnostic(first))
    # when another process's application starts on the same store (its create
    # statements run: every table and index exists already)
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(build_application, pg_settings)
        # then it is ready while the writer still holds its rows: it queued on no
        # lock (CREATE INDEX IF NOT EXISTS would wait for the writer, holding the
        # tables before it, which deadlocked writers under a rolling restart)
        started = starting.result(timeout=10)
    started.close()
    assert not older.done()
    held.release.set()
    assert older.result(timeout=30).version == 2
