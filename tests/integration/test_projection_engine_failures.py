"""A handler that raises stops its own projection only, and resumes from that event."""

from __future__ import annotations

import logging

from domain.events import EpisodeEvent
from infra.database import Database
from infra.projection import Engine, ReadModels, retry, start_in_background
from projections.base import Handled, Put, State
from tests.support import projections as ps
from tests.support.fold import expected_views


class BadColumnLog(ps.EventLog):
    """Writes a column its table does not have, for one patient."""

    name = "bad_column_log"

    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        handled = super().handle(state, event, position)
        if getattr(event, "patient_id", None) == ps.POISON:
            return Handled(handled.state, [Put("entries", {"nope": 1})])
        return handled


def entries(reads: ReadModels, name: str) -> list[int]:
    return [r["position"] for r in reads.rows(name, "entries")]


def test_a_failing_handler_stops_its_projection_at_that_event(store, settings, caplog):
    poison = ps.poisoned_store(store)
    worker = Engine(store, settings, [ps.EpisodeActivity(), ps.FragileLog()], ps.FAST)

    with caplog.at_level(logging.ERROR, logger="infra.projection.engine"):
        worker.catch_up()
    worker.close()

    reads = ReadModels(store, [ps.EpisodeActivity(), ps.FragileLog()])
    fragile = next(s for s in reads.status() if s.name == "fragile_log")
    assert fragile.state == "failed"
    assert fragile.error_position == poison
    assert fragile.position == ps.position_before(store, poison)
    assert fragile.last_error == "ValueError: cannot log this referral"
    assert entries(reads, "fragile_log") == [
        p for p in ps.positions(store) if p < poison
    ]
    [record] = caplog.records
    assert "fragile_log" in record.message
    assert f"position {poison}" in record.message
    assert "episode " in record.message and "None" not in record.message


def test_other_projections_go_on_past_a_failing_one(store, settings):
    ps.poisoned_store(store)
    worker = Engine(store, settings, [ps.EpisodeActivity(), ps.FragileLog()], ps.FAST)

    worker.catch_up()
    worker.close()

    reads = ReadModels(store, [ps.EpisodeActivity()])
    [activity] = reads.status()
    assert activity.state in ("active", "standby")
    assert activity.lag_events == 0
    assert ps.actual_views(reads, ps.EpisodeActivity()) == expected_views(
        store, ps.EpisodeActivity()
    )


def test_a_fixed_projection_resumes_from_the_failed_event_after_a_restart(
    store, settings
):
    # given a projection stopped by a handler error
    ps.poisoned_store(store)
    broken = Engine(store, settings, [ps.FragileLog()], ps.FAST)
    broken.catch_up()
    broken.close()
    # when a worker with the fixed handler starts
    fixed = Engine(store, settings, [ps.FixedLog()], ps.FAST)
    fixed.catch_up()
    fixed.close()
    # then the view is as if it had never failed
    reads = ReadModels(store, [ps.FixedLog()])
    assert ps.actual_views(reads, ps.FixedLog()) == expected_views(store, ps.FixedLog())
    [status] = reads.status()
    assert status.state != "failed"
    assert status.position == store.recorder.max_notification_id()


def test_retry_lets_a_running_engine_resume_from_the_failed_event(store, settings):
    ps.poisoned_store(store)
    reads = ReadModels(store, [ps.FragileLog()])
    handle = start_in_background(store, settings, [ps.FragileLog()], ps.FAST)
    try:
        head = store.recorder.max_notification_id()
        assert not reads.wait_for("fragile_log", head, ps.WAIT_S)
        ps.FragileLog.broken = False

        assert retry(store, "fragile_log") == 1

        assert reads.wait_for("fragile_log", head, ps.WAIT_S)
    finally:
        ps.FragileLog.broken = True
        handle.stop()
    assert ps.actual_views(reads, ps.FragileLog()) == expected_views(
        store, ps.FixedLog()
    )


def test_a_change_its_tables_cannot_take_fails_the_projection(store, settings):
    poison = ps.poisoned_store(store)
    worker = Engine(store, settings, [BadColumnLog()], ps.FAST)

    worker.catch_up()
    worker.close()

    [status] = ReadModels(store, [BadColumnLog()]).status()
    assert status.state == "failed"
    assert status.error_position == poison
    assert "no column" in (status.last_error or "")


def refuse_type(store, table: str, event_type: str) -> None:
    """Make the database itself refuse rows of one event type in a view table."""
    db = Database(store)
    with db.writing() as cur:
        if db.dialect.name == "sqlite":
            cur.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
                f"WHEN NEW.type = '{event_type}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            cur.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT refuse "
                f"CHECK (type <> '{event_type}')"
            )


def test_a_batch_the_database_refuses_fails_only_the_projection_that_wrote_it(
    store, settings, reads
):
    # given the event log's table refuses closures, and shares batches with another
    ps.seed(store, episodes=4)
    with reads.cursor("event_log") as cur:
        entries_table = cur.table("entries")
    refuse_type(store, entries_table, "EpisodeClosed")
    worker = Engine(store, settings, ps.projections(), ps.FAST)
    # when the engine catches up
    worker.catch_up()
    worker.close()
    # then only the event log stopped, at the batch holding the first closure
    log_status, activity = sorted(reads.status(), key=lambda s: s.name != "event_log")
    first_closure = min(
        r["last_position"]
        for r in reads.rows("episode_activity", "episodes")
        if r["closed"]
    )
    assert log_status.state == "failed"
    assert log_status.position < first_closure
    (next_event,) = store.recorder.select_notifications(
        start=log_status.position, limit=1, inclusive_of_start=False
    )
    assert log_status.error_position == next_event.id
    assert "IntegrityError writing the batch" in (log_status.last_error or "")
    assert activity.lag_events == 0
    assert ps.actual_views(reads, ps.EpisodeActivity()) == expected_views(
        store, ps.EpisodeActivity()
    )
