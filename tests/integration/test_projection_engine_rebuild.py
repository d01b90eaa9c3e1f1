"""Rebuilds without downtime: new tables from position 0 beside the serving ones."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from domain.events import EpisodeEvent
from infra.database import Database
from infra.projection import (
    Engine,
    ReadModels,
    RebuildFailedError,
    rebuild,
    start_in_background,
)
from infra.projection.registry import Registry
from projections.base import Column, Handled, Put, State, Table
from tests.support import projections as ps
from tests.support.fold import expected_views


class EventLogV2(ps.EventLog):
    """The event log, version 2: each entry also says who recorded it."""

    version = 2
    tables = (
        Table(
            "entries",
            (*ps.EventLog.tables[0].columns, Column("actor", "text", nullable=False)),
            key=("position",),
        ),
    )

    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        handled = super().handle(state, event, position)
        [put] = handled.changes
        assert isinstance(put, Put)
        row = {**put.row, "actor": event.actor.principal_id}
        return Handled(handled.state, [Put("entries", row)])


def live_generations(store, name: str) -> list[tuple[int, str]]:
    return [(g.generation, g.role) for g in Registry(Database(store)).load([name])]


def table_exists(store, table: str) -> bool:
    db = Database(store)
    try:
        with db.reading() as cur:
            cur.execute(f"SELECT 1 FROM {table} WHERE 1 = 0")
    except Exception as error:
        if db.dialect.missing_table(error):
            return False
        raise
    return True


class Writer(threading.Thread):
    """Records events on a few episodes until stopped."""

    def __init__(self, store) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            episodes = [ps.open_episode(self.store) for _ in range(3)]
            while not self.stopping.is_set():
                for episode in episodes:
                    ps.add_events(self.store, episode, 2)
        except BaseException as error:
            self.error = error


class Reader(threading.Thread):
    """Counts the event log's rows until stopped; no read may fail or go backwards."""

    def __init__(self, reads: ReadModels) -> None:
        super().__init__(daemon=True)
        self.reads = reads
        self.stopping = threading.Event()
        self.counts: list[int] = []
        self.generations: set[int] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                with self.reads.cursor("event_log") as cur:
                    row = cur.execute("SELECT COUNT(*) AS n FROM {entries}").fetchone()
                    self.generations.add(cur.generation.generation)
                assert row is not None
                self.counts.append(row["n"])
        except BaseException as error:
            self.error = error


def test_a_rebuild_under_load_misses_nothing_doubles_nothing_and_keeps_serving(
    store, settings, reads
):
    # given a serving engine, a writer that keeps recording, and a reader
    ps.seed(store, episodes=6)
    engine = start_in_background(store, settings, ps.projections(), ps.FAST)
    writer, reader = Writer(store), Reader(reads)
    progress: list[tuple[int, int]] = []
    try:
        assert reads.wait_for(
            "event_log", store.recorder.max_notification_id(), ps.WAIT_S
        )
        writer.start()
        reader.start()
        # when the event log is rebuilt while both go on
        rebuilt = rebuild(
            store,
            settings,
            ps.EventLog(),
            options=replace(ps.FAST, batch_size=5),
            on_progress=lambda done, head: progress.append((done, head)),
        )
        time.sleep(0.2)
        writer.stopping.set()
        writer.join(ps.WAIT_S)
        reader.stopping.set()
        reader.join(ps.WAIT_S)
        head = store.recorder.max_notification_id()
        assert reads.wait_for("event_log", head, ps.WAIT_S)
        assert reads.wait_for("episode_activity", head, ps.WAIT_S)
    finally:
        writer.stopping.set()
        reader.stopping.set()
        engine.stop()
    # then reads never failed nor went backwards, across both generations
    assert writer.error is None and reader.error is None, (writer.error, reader.error)
    assert len(reader.counts) > 10
    assert reader.counts == sorted(reader.counts)
    assert reader.generations == {1, 2}
    # and the new generation serves, complete and exact; the old tables are gone
    assert rebuilt.generation == 2
    assert live_generations(store, "event_log") == [(2, "serving")]
    assert not table_exists(store, "pv_event_log_g1_entries")
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    ps.assert_views_match_a_fold(store, reads)


def test_a_new_version_is_built_beside_the_serving_one_then_switched_to(
    store, settings, reads
):
    # given version 1 serving
    ps.seed(store, episodes=5)
    v1 = Engine(store, settings, [ps.EventLog()], ps.FAST)
    v1.catch_up()
    v1.close()
    v1_rows = reads.rows("event_log", "entries")
    # when a worker with version 2 has done one batch
    v2 = Engine(store, settings, [EventLogV2()], ps.FAST)
    v2.run_once()
    # then version 1 still answers reads, complete, while version 2 builds
    assert live_generations(store, "event_log") == [(1, "serving"), (2, "building")]
    assert reads.rows("event_log", "entries") == v1_rows
    status = next(s for s in reads.status() if s.name == "event_log")
    assert (status.state, status.version, status.rebuild_version) == (
        "rebuilding",
        1,
        2,
    )
    # and once it has caught up, version 2 serves and version 1 is dropped
    v2.catch_up()
    time.sleep(ps.FAST.drop_grace_s)
    v2.run_once()
    v2.close()
    assert live_generations(store, "event_log") == [(2, "serving")]
    v2_reads = ReadModels(store, [EventLogV2()])
    assert ps.actual_views(v2_reads, EventLogV2()) == expected_views(
        store, EventLogV2()
    )


def test_a_worker_running_an_older_version_leaves_the_newer_one_alone(
    store, settings, reads
):
    ps.seed(store, episodes=2)
    v2 = Engine(store, settings, [EventLogV2()], ps.FAST)
    v2.catch_up()
    v2.close()

    old = Engine(store, settings, [ps.EventLog()], ps.FAST)
    old.catch_up()
    old.close()

    assert old.roles() == {"event_log": "standby"}
    assert live_generations(store, "event_log") == [(1, "serving")]
    assert next(s for s in reads.status() if s.name == "event_log").version == 2


def test_a_rebuild_that_fails_leaves_the_serving_generation_in_place(store, settings):
    # given a fixed log serving
    ps.poisoned_store(store)
    serving = Engine(store, settings, [ps.FixedLog()], ps.FAST)
    serving.catch_up()
    serving.close()
    # when it is rebuilt with a handler that fails
    with pytest.raises(RebuildFailedError, match="cannot log this referral"):
        rebuild(store, settings, ps.FragileLog(), options=ps.FAST)
    # then the old generation still serves, and the failure is reported
    reads = ReadModels(store, [ps.FixedLog()])
    assert ps.actual_views(reads, ps.FixedLog()) == expected_views(store, ps.FixedLog())
    [status] = reads.status()
    assert (status.generation, status.state, status.rebuild_generation) == (
        1,
        "failed",
        2,
    )
