"""Per-key states (SQLite and PostgreSQL): a handler may change the state it is
given in place, and a batch that fails, runs again or is refused keeps nothing of
what it did; every state the real read models keep comes back from its stored
form as it went in, so views do not depend on where batches begin and end."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.application import CareEpisodes
from domain.events import EpisodeClosed, EpisodeEvent
from infra.catalog import build_projections
from infra.demo import anchor_on, load
from infra.projection import Engine, ReadModels, retry
from infra.projection.states import StateCodec
from infra.settings import Settings
from projections.base import Column, Handled, Projection, Put, State, Table
from tests.integration.test_projection_engine_failures import refuse_type
from tests.support import projections as ps
from tests.support.fold import expected_views


class InPlaceTally(Projection):
    """Counts each episode's events by changing its state in place, as a handler
    may; while `broken` it raises at a closure, after counting it."""

    name = "in_place_tally"
    version = 1
    handles = ps.ALL_TYPES
    tables = (
        Table(
            "episodes",
            (
                Column("episode_id", "text", nullable=False),
                Column("events", "integer", nullable=False),
            ),
            key=("episode_id",),
        ),
    )

    def __init__(self) -> None:
        self.broken = False

    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        state = {"events": 0} if state is None else state
        state["events"] += 1
        if self.broken and isinstance(event, EpisodeClosed):
            raise ValueError("cannot count a closure")
        row = {"episode_id": str(event.originator_id), "events": state["events"]}
        return Handled(state, [Put("episodes", row)])


class SettlingTally(InPlaceTally):
    """The tally, whose `settle` fails once when armed: the engine then runs the
    batch again, settling after every event."""

    name = "settling_tally"
    settles = True

    def __init__(self) -> None:
        super().__init__()
        self.armed = False

    def settle(self, key: str, state: State | None) -> Handled:
        if self.armed:
            self.armed = False
            raise RuntimeError("not this time")
        return Handled(state)


def tallies(store: CareEpisodes, tally: Projection) -> dict[str, int]:
    rows = ReadModels(store, [tally]).rows(tally.name, "episodes")
    return {r["episode_id"]: r["events"] for r in rows}


def test_a_state_a_raising_handler_changed_in_place_is_read_again(store, settings):
    # given two episodes' states stored by an earlier batch
    tally = InPlaceTally()
    first, second = ps.open_episode(store), ps.open_episode(store)
    ps.add_events(store, first, 2)
    ps.add_events(store, second, 2)
    worker = Engine(store, settings, [tally], ps.FAST)
    try:
        worker.catch_up()
        # when the next batch counts an event of the first in its state, and
        # the second's handler counts a closure in its own, then raises
        tally.broken = True
        ps.add_events(store, first, 1)
        ps.close_episode(store, second)
        worker.catch_up()
        [status] = ReadModels(store, [tally]).status()
        assert status.state == "failed"
        assert tallies(store, tally) == {str(first): 4, str(second): 3}
        # and the mended handler runs the closure again in the same engine
        tally.broken = False
        assert retry(store, tally.name) == 1
        worker.catch_up()
    finally:
        worker.close()
    # then every event is counted once
    assert tallies(store, tally) == {str(first): 4, str(second): 4}
    assert ps.actual_views(ReadModels(store, [tally]), tally) == expected_views(
        store, tally
    )


def test_a_batch_the_database_refuses_leaves_no_state_changed_in_place(
    store, settings, reads
):
    # given a tally sharing batches with the event log, whose table refuses
    # closures, and the states of open episodes stored by earlier batches
    episodes = [ps.open_episode(store, patient_id=f"pt-{n}") for n in range(3)]
    for episode in episodes:
        ps.add_events(store, episode, 3)
    with reads.cursor("event_log") as cur:
        entries_table = cur.table("entries")
    refuse_type(store, entries_table, "EpisodeClosed")
    tally = InPlaceTally()
    worker = Engine(store, settings, [tally, ps.EventLog()], ps.FAST)
    try:
        worker.catch_up()
        # when the episodes close: the batch is refused, and run again for each
        # projection alone
        for episode in episodes:
            ps.add_events(store, episode, 1)
            ps.close_episode(store, episode)
        worker.catch_up()
    finally:
        worker.close()
    # then the tally counted every event once
    statuses = {s.name: s for s in ReadModels(store, [tally, ps.EventLog()]).status()}
    assert statuses["event_log"].state == "failed"
    assert statuses[tally.name].lag_events == 0
    assert tallies(store, tally) == {str(e): 6 for e in episodes}
    assert ps.actual_views(ReadModels(store, [tally]), tally) == expected_views(
        store, tally
    )


def test_a_batch_run_again_to_settle_reads_the_states_again(store, settings):
    # given an episode's state stored by an earlier batch
    tally = SettlingTally()
    episode = ps.open_episode(store)
    ps.add_events(store, episode, 2)
    worker = Engine(store, settings, [tally], ps.FAST)
    try:
        worker.catch_up()
        # when a batch counts two more events in that state, and settling them
        # fails once, so the batch runs again
        tally.armed = True
        ps.add_events(store, episode, 2)
        worker.catch_up()
    finally:
        worker.close()
    # then each event is counted once
    assert not tally.armed
    assert tallies(store, tally) == {str(episode): 5}


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (a tuple is not a list, an
    enum not its value, an int key not a str one)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            same(ka, kb) and same(a[ka], b[kb]) for ka, kb in zip(a, b, strict=True)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_same_tells_a_state_from_one_its_stored_form_would_change():
    assert same({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert not same({"a": (1, 2)}, {"a": [1, 2]})
    assert not same({1: "x"}, {"1": "x"})
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not same([True], [1])


def test_every_state_the_real_read_models_keep_comes_back_from_storage_unchanged(
    app: CareEpisodes, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    # given every state a batch stores checked against what a read of it gives
    checked: list[Any] = []
    changed: list[Any] = []
    encode = StateCodec.encode

    def checked_encode(codec: StateCodec, state: Any) -> bytes:
        data = encode(codec, state)
        checked.append(state)
        if not same(codec.decode(data), state):
            changed.append(state)
        return data

    monkeypatch.setattr(StateCodec, "encode", checked_encode)
    # when demo episodes of every pathway are projected
    load(app, 60, seed=7, anchor=anchor_on(date(2026, 10, 1)))
    worker = Engine(app, settings, build_projections(settings), ps.QUICK)
    worker.catch_up()
    worker.close()
    # then the next batch reads back each state as its handler left it
    assert len(checked) > 4 * 60
    assert changed == []
