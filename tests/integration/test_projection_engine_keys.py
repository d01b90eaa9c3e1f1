"""States per key the projection chooses, messages between keys, settling once per
batch, and running totals: all in the batch's one transaction, equal to a fold."""

from __future__ import annotations

import time
from uuid import UUID

import pytest

from domain import commands as cmd
from domain import events as ev
from domain.application import CareEpisodes
from infra.projection import Engine, ReadModels, rebuild
from projections.base import (
    Column,
    Handled,
    Increment,
    Message,
    Projection,
    Put,
    State,
    Table,
)
from tests.support import builders as b
from tests.support import projections as ps
from tests.support.fold import expected_views


class PatientLedger(Projection):
    """Each episode counts its events; each patient, by message, the events of all
    of its episodes; a totals table counts events per type; rows are derived once
    per batch in `settle`."""

    name = "patient_ledger"
    version = 1
    handles = ps.ALL_TYPES
    settles = True
    tables = (
        Table(
            "episodes",
            (
                Column("episode_id", "text", nullable=False),
                Column("patient_id", "text", nullable=False),
                Column("events", "integer", nullable=False),
            ),
            key=("episode_id",),
        ),
        Table(
            "patients",
            (
                Column("patient_id", "text", nullable=False),
                Column("events", "integer", nullable=False),
                Column("positions", "json", nullable=False),
            ),
            key=("patient_id",),
        ),
        Table(
            "totals",
            (
                Column("type", "text", nullable=False),
                Column("events", "integer", nullable=False),
            ),
            key=("type",),
            counters=True,
        ),
    )

    def handle(
        self, state: State | None, event: ev.EpisodeEvent, position: int
    ) -> Handled:
        if state is None:
            assert isinstance(event, ev.ReferralReceived)
            state = {"patient_id": event.patient_id, "events": 0}
        state = {**state, "events": state["events"] + 1}
        patient = f"patient:{state['patient_id']}"
        return Handled(
            state,
            [Increment("totals", {"type": type(event).__name__}, {"events": 1})],
            [Message(patient, {"position": position})],
        )

    def receive(
        self, key: str, state: State | None, message: Message, position: int
    ) -> Handled:
        state = state or {"events": 0, "positions": []}
        return Handled(
            {
                "events": state["events"] + 1,
                "positions": [*state["positions"], message.data["position"]],
            }
        )

    def settle(self, key: str, state: State | None) -> Handled:
        assert state is not None
        if key.startswith("patient:"):
            row = {"patient_id": key.removeprefix("patient:"), **state}
            return Handled(state, [Put("patients", row)])
        row = {"episode_id": key, **state}
        return Handled(state, [Put("episodes", row)])


class FragileSettle(PatientLedger):
    """Cannot settle an episode of the poisoned patient once it has three events."""

    name = "fragile_settle"

    def settle(self, key: str, state: State | None) -> Handled:
        if state and state.get("patient_id") == ps.POISON and state["events"] >= 3:
            raise ValueError("cannot settle this episode")
        return super().settle(key, state)


class Chatty(PatientLedger):
    """A receiver that sends a message of its own, which the engine refuses."""

    name = "chatty"

    def receive(
        self, key: str, state: State | None, message: Message, position: int
    ) -> Handled:
        handled = super().receive(key, state, message, position)
        return Handled(handled.state, (), [Message("elsewhere", {})])


def two_episodes_of_one_patient(store) -> tuple[UUID, UUID]:
    """Two episodes of one patient and one of another, their events interleaved."""
    first = ps.open_episode(store, patient_id="pt-a")
    other = ps.open_episode(store, patient_id="pt-b")
    second = ps.open_episode(store, patient_id="pt-a")
    for _ in range(4):
        for episode in (first, other, second):
            ps.add_events(store, episode, 2)
    return first, second


def test_states_keyed_by_patient_gather_every_episode_of_the_patient(store, settings):
    two_episodes_of_one_patient(store)
    engine = Engine(store, settings, [PatientLedger()], ps.FAST)
    engine.catch_up()
    engine.close()

    reads = ReadModels(store, [PatientLedger()])
    patients = {r["patient_id"]: r for r in reads.rows("patient_ledger", "patients")}
    assert patients["pt-a"]["events"] == 2 * (1 + 8)
    assert patients["pt-b"]["events"] == 1 + 8
    assert patients["pt-a"]["positions"] == sorted(patients["pt-a"]["positions"])
    assert ps.actual_views(reads, PatientLedger()) == expected_views(
        store, PatientLedger()
    )


def test_running_totals_equal_the_fold_and_a_rebuild(store, settings):
    two_episodes_of_one_patient(store)
    engine = Engine(store, settings, [PatientLedger()], ps.FAST)
    engine.catch_up()
    engine.close()
    reads = ReadModels(store, [PatientLedger()])
    totals = {r["type"]: r["events"] for r in reads.rows("patient_ledger", "totals")}
    # each add_events(…, 2) records a screening and a diagnostic
    assert totals == {
        "ReferralReceived": 3,
        "RedFlagsScreened": 3 * 4,
        "DiagnosticCompleted": 3 * 4,
    }
    views = ps.actual_views(reads, PatientLedger())
    assert views == expected_views(store, PatientLedger())
    rebuild(store, settings, PatientLedger(), options=ps.FAST)
    assert ps.actual_views(reads, PatientLedger()) == views


def test_a_batch_settles_each_key_once_however_many_of_its_events_it_holds(
    store, settings
):
    episode = ps.open_episode(store, patient_id="pt-a")
    ps.add_events(store, episode, 5)
    settled: list[str] = []

    class Counting(PatientLedger):
        def settle(self, key: str, state: State | None) -> Handled:
            settled.append(key)
            return super().settle(key, state)

    # The six events in one batch: on PostgreSQL a batch stops at the horizon,
    # which any open transaction on the server (another test's) holds back.
    wait_until_settled(store, count=6)
    engine = Engine(store, settings, [Counting()], ps.FAST)  # 7 events per batch
    engine.catch_up()
    engine.close()
    assert sorted(settled) == sorted([str(episode), "patient:pt-a"])


def wait_until_settled(store: CareEpisodes, count: int, within_s: float = 30) -> None:
    """Until a reader of the global order sees all `count` stored events."""
    deadline = time.monotonic() + within_s
    while len(store.recorder.select_notifications(start=None, limit=count)) < count:
        assert time.monotonic() < deadline, "the events never settled"
        time.sleep(0.01)


def test_a_failing_settle_stops_the_projection_at_the_event_that_broke_it(
    store, settings
):
    ps.seed(store, episodes=2)
    poisoned = ps.open_episode(store, patient_id=ps.POISON)
    positions = [
        store.handle(
            b.command(cmd.RecordDiagnostic, poisoned, b.mri(), days=1, hours=n),
            actor=b.SERVICE,
        ).position
        for n in range(3)
    ]
    ps.seed(store, episodes=1)
    engine = Engine(store, settings, [FragileSettle()], ps.FAST)
    engine.catch_up()
    engine.close()

    [status] = ReadModels(store, [FragileSettle()]).status()
    # the third event of the poisoned episode (the second diagnostic) broke it
    assert status.state == "failed"
    assert status.error_position == positions[1]
    assert status.position == ps.position_before(store, positions[1])
    assert status.last_error == "ValueError: cannot settle this episode"


def test_a_receiver_that_sends_messages_fails_at_the_event_that_led_to_it(
    store, settings
):
    first = ps.open_episode(store)
    engine = Engine(store, settings, [Chatty()], ps.FAST)
    engine.catch_up()
    engine.close()
    [status] = ReadModels(store, [Chatty()]).status()
    assert status.state == "failed"
    assert status.error_position == store.history(first)[0].position
    assert "may not send messages" in (status.last_error or "")


def test_an_increment_of_a_table_without_counters_is_refused(store, settings):
    class Miscounting(PatientLedger):
        name = "miscounting"

        def handle(self, state, event, position):
            handled = super().handle(state, event, position)
            return Handled(
                handled.state,
                [Increment("episodes", {"episode_id": "x"}, {"events": 1})],
            )

    ps.open_episode(store)
    engine = Engine(store, settings, [Miscounting()], ps.FAST)
    engine.catch_up()
    engine.close()
    [status] = ReadModels(store, [Miscounting()]).status()
    assert status.state == "failed"
    assert "holds no counters" in (status.last_error or "")


@pytest.mark.parametrize("handles", [("ReferralReceived",), (), (object,)])
def test_registration_refuses_handles_that_name_no_event_class(
    store, settings, handles
):
    class Wrong(PatientLedger):
        name = "wrong"

    Wrong.handles = handles  # type: ignore[assignment]
    with pytest.raises(ValueError, match="handles"):
        Engine(store, settings, [Wrong()], ps.FAST)
