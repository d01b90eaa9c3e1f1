"""The worklist projection's rows: settled once per batch or after every event alike,
redeliveries ignored, one referrer row per task and referrer."""

from __future__ import annotations

from domain import commands as cmd
from domain.events import EpisodeEvent
from projections.worklist import TASK_REFERRERS, TASKS, WorklistProjection, task_id
from tests.support import builders as b
from tests.support.fold import Views, apply_changes, fold
from tests.unit.worklist_support import Walk

PAIN = {"id": "dr-pm-1", "name": "Dr Pain", "role": "pain_medicine"}


def pathway() -> list[EpisodeEvent]:
    walk = Walk(red_flags=["fracture"])
    walk.do(cmd.AssignClinician, b.assignment(), hours=1)
    walk.do(cmd.ScreenRedFlags, b.screening(), days=1)
    walk.do(cmd.ReceiveReferral, b.further_referral(referrer=PAIN), days=2)
    walk.do(cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=3)
    walk.do(cmd.RecordOutcome, b.outcome(), days=4)
    walk.do(cmd.PlanTreatment, b.plan(), days=5)
    walk.do(cmd.PerformIntervention, b.esi(), days=6)
    walk.do(cmd.ReferToSurgery, b.surgery_referral(), days=8)
    walk.do(cmd.RecordOutcome, b.outcome(score=30), days=2)  # late-recorded
    return list(walk.episode.pending_events)  # type: ignore[arg-type]


def settled_once(projection: WorklistProjection, events: list[EpisodeEvent]) -> Views:
    """What the engine does with all the events in one batch: handle each, settle once."""
    views: Views = {t.name: {} for t in projection.tables}
    state = None
    for position, event in enumerate(events, start=1):
        state = projection.handle(state, event, position).state
    key = str(events[0].originator_id)
    return apply_changes(views, projection, projection.settle(key, state).changes)


def test_settling_once_per_batch_gives_the_rows_of_settling_after_every_event():
    events = pathway()
    projection = WorklistProjection()
    every_event = fold(projection, enumerate(events, start=1))
    assert settled_once(projection, events) == {
        name: {k: r for k, r in rows.items() if name != "counts" or r["open"]}
        for name, rows in every_event.items()
    }


def test_a_redelivered_event_changes_nothing():
    events = pathway()
    projection = WorklistProjection()
    state = None
    for position, event in enumerate(events, start=1):
        state = projection.handle(state, event, position).state
    state = projection.settle(str(events[0].originator_id), state).state
    again = projection.handle(state, events[3], 4)
    assert again.state == state
    assert not projection.settle(str(events[0].originator_id), again.state).changes


def test_each_task_has_one_referrer_row_per_referrer_of_the_episode():
    views = fold(WorklistProjection(), enumerate(pathway(), start=1))
    tasks = views[TASKS.name].values()
    referrers = {
        (r["referrer_id"], r["task_id"]) for r in views[TASK_REFERRERS.name].values()
    }
    assert referrers == {
        (referrer, t["task_id"]) for t in tasks for referrer in ("dr-pc-1", "dr-pm-1")
    }


def test_referrer_rows_follow_their_task_in_list_order():
    views = fold(WorklistProjection(), enumerate(pathway(), start=1))
    tasks = {t["task_id"]: t for t in views[TASKS.name].values()}
    for row in views[TASK_REFERRERS.name].values():
        task = tasks[row["task_id"]]
        assert (row["urgent_rank"], row["due_at"]) == (
            task["urgent_rank"],
            task["due_at"],
        )


def test_closing_the_episode_removes_every_task_and_referrer_row():
    walk = Walk().do(cmd.ReferToSurgery, b.surgery_referral(), days=5)
    walk.do(cmd.CloseEpisode, b.closure(), days=6)
    views = walk.views()
    assert (views[TASKS.name], views[TASK_REFERRERS.name]) == ({}, {})


def test_a_task_id_is_derived_from_its_episode_kind_and_point():
    walk = Walk()
    row = walk.row("consult_note_due", "dr-pc-1")
    assert row["task_id"] == task_id(
        str(walk.episode.id), "consult_note_due", "dr-pc-1"
    )
