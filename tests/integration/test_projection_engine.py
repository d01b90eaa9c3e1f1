"""The projection engine on SQLite and PostgreSQL: batches, exactly once, gaps, wake-ups."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from domain import commands as cmd
from domain.application import CareEpisodes
from infra.eventstore import build_application
from infra.projection import Engine, ReadModels, start_in_background
from infra.projection.processing import LostGenerationError, Track
from infra.settings import Settings
from tests.support import builders as b
from tests.support import projections as ps


def engine(store: CareEpisodes, settings: Settings, **options) -> Engine:
    return Engine(store, settings, ps.projections(), replace(ps.FAST, **options))


def log_positions(reads: ReadModels) -> list[int]:
    return [row["position"] for row in reads.rows("event_log", "entries")]


def test_views_equal_a_fold_of_the_store_after_catch_up(store, settings, reads):
    ps.seed(store)
    worker = engine(store, settings)

    worker.catch_up()
    worker.close()

    ps.assert_views_match_a_fold(store, reads)


def test_catch_up_after_downtime_processes_exactly_the_missed_events(
    store, settings, reads
):
    # given a worker that caught up, then stopped
    ps.seed(store)
    first = engine(store, settings)
    first.catch_up()
    first.close()
    before = log_positions(reads)
    # when events arrive while no worker runs, and a worker starts again
    episode = ps.open_episode(store, patient_id="pt-late")
    ps.add_events(store, episode, 9)
    ps.close_episode(store, episode)
    second = engine(store, settings)
    second.catch_up()
    second.close()
    # then it applied exactly the events after the old position, once each
    after = log_positions(reads)
    missed = [
        n.id
        for n in store.recorder.select_notifications(start=before[-1] + 1, limit=99)
    ]
    assert after == before + missed
    assert len(missed) == 11
    ps.assert_views_match_a_fold(store, reads)


def test_the_tracked_position_is_the_last_event_read(store, settings, reads):
    head = ps.seed(store, episodes=2)
    worker = engine(store, settings)

    worker.catch_up()
    worker.close()

    assert [s.position for s in reads.status()] == [head, head]


def test_a_gap_in_positions_is_not_waited_on(store, settings, reads):
    # given positions burnt by failed inserts, one an idempotent retry's
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral())
    first = store.handle(opening, actor=b.SERVICE, idempotency_key="open-1")
    store.handle(opening, actor=b.SERVICE, idempotency_key="open-1")
    ps.burn_positions(store, 5)
    handle = start_in_background(store, settings, ps.projections(), ps.FAST)
    try:
        # when events are recorded after the gap
        last = ps.add_events(store, first.episode_id, 3)
        # then the engine reaches them
        assert reads.wait_for("event_log", last, ps.WAIT_S)
        assert reads.wait_for("episode_activity", last, ps.WAIT_S)
    finally:
        handle.stop()
    positions = log_positions(reads)
    assert positions[-1] - positions[0] > len(positions) - 1
    ps.assert_views_match_a_fold(store, reads)


def test_events_recorded_without_a_notify_are_found_by_polling(store, settings, reads):
    # given a second writer whose inserts send no NOTIFY (a lost notification)
    quiet = build_application(settings)
    if hasattr(quiet.recorder, "_notify_channel"):
        quiet.recorder._notify_channel = lambda curs: None
    handle = start_in_background(store, settings, ps.projections(), ps.FAST)
    try:
        assert reads.wait_for("event_log", 0, ps.WAIT_S)
        # when it records events
        episode = ps.open_episode(quiet)
        last = ps.add_events(quiet, episode, 4)
        # then the poll fallback processes them
        assert reads.wait_for("event_log", last, ps.WAIT_S)
    finally:
        handle.stop()
        quiet.close()
    ps.assert_views_match_a_fold(store, reads)


def test_wait_for_answers_false_when_the_position_is_not_reached_in_time(store, reads):
    head = ps.seed(store, episodes=1)

    assert not reads.wait_for("event_log", head, 0.05)


def test_wait_for_answers_once_the_engine_has_processed_the_position(
    store, settings, reads
):
    handle = start_in_background(store, settings, ps.projections(), ps.FAST)
    try:
        episode = ps.open_episode(store)
        position = ps.add_events(store, episode, 2)

        assert reads.wait_for("episode_activity", position, ps.WAIT_S)
        with reads.cursor("episode_activity") as cur:
            row = cur.execute(
                "SELECT events FROM {episodes} WHERE episode_id = ?", [episode]
            ).fetchone()
            assert cur.position >= position
    finally:
        handle.stop()
    assert row == {"events": 3}


def test_a_worker_that_lost_its_generation_cannot_commit_a_batch(
    store, settings, reads
):
    # given a worker that caught up, and a copy of its track from before that
    ps.seed(store, episodes=2)
    worker = engine(store, settings)
    worker.run_once()
    stale = {
        key: Track(t.projection, t.gen, t.tables) for key, t in worker.tracks.items()
    }
    worker.catch_up()
    expected = ps.actual_views(reads, ps.EventLog())
    # when the stale copy tries to commit its next batch
    with pytest.raises(LostGenerationError):
        worker.processor.process(list(stale.values()))
    worker.close()
    # then nothing was applied twice
    assert ps.actual_views(reads, ps.EventLog()) == expected
    ps.assert_views_match_a_fold(store, reads)


def test_views_read_back_timestamps_booleans_and_json_as_python(store, settings, reads):
    episode = ps.open_episode(store)
    ps.close_episode(store, episode)
    worker = engine(store, settings)
    worker.catch_up()
    worker.close()

    [row] = reads.rows("episode_activity", "episodes")

    assert row["last_occurred_at"] == b.at(2)
    assert row["last_occurred_at"].tzinfo is not None
    assert row["closed"] is True
    assert row["types"] == ["ReferralReceived", "EpisodeClosed"]
    assert reads.rows("episode_activity", "open_episodes") == []


def test_the_memory_backend_runs_the_same_engine():
    settings = Settings(database_url="memory://")
    with build_application(settings) as app:
        ps.seed(app, episodes=3)
        worker = Engine(app, settings, ps.projections(), ps.FAST)
        worker.catch_up()
        worker.close()

        ps.assert_views_match_a_fold(app, ReadModels(app, ps.projections()))


def test_status_lists_a_projection_no_worker_has_started_with_all_events_to_do(
    store, reads
):
    head = ps.seed(store, episodes=2)

    statuses = reads.status()

    assert [(s.name, s.generation, s.position) for s in statuses] == [
        ("episode_activity", 0, 0),
        ("event_log", 0, 0),
    ]
    assert {(s.head, s.lag_events, s.state) for s in statuses} == {
        (head, len(ps.positions(store)), "standby")
    }
    assert all(s.lag_seconds > 0 for s in statuses)


def test_status_names_the_active_worker_and_no_lag_once_caught_up(
    store, settings, reads
):
    head = ps.seed(store, episodes=2)
    handle = start_in_background(store, settings, ps.projections(), ps.FAST)
    try:
        assert reads.wait_for("event_log", head, ps.WAIT_S)
        assert reads.wait_for("episode_activity", head, ps.WAIT_S)

        statuses = reads.status()
    finally:
        handle.stop()
    assert {(s.state, s.worker, s.lag_events, s.lag_seconds) for s in statuses} == {
        ("active", handle.engine.worker_id, 0, 0.0)
    }
    assert all(s.updated_at is not None for s in statuses)


def test_on_the_memory_backend_a_second_worker_in_the_process_stands_by():
    settings = Settings(database_url="memory://")
    with build_application(settings) as app:
        ps.seed(app, episodes=1)
        first = Engine(app, settings, ps.projections(), ps.FAST)
        second = Engine(app, settings, ps.projections(), ps.FAST)

        first.run_once()
        second.run_once()
        statuses = ReadModels(app, ps.projections()).status()
        first.close()
        time.sleep(ps.FAST.poll_interval_s)  # free locks are tried once per poll
        second.run_once()

        assert set(second.roles().values()) == {"active"}
        second.close()
    assert {(s.state, s.worker) for s in statuses} == {("active", first.worker_id)}
