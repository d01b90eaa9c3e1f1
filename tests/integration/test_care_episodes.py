"""CareEpisodes on a real store (SQLite and PostgreSQL): races, the past, restarts, types."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from domain import commands as cmd
from domain.application import DECISIONS, CareEpisodes, CommandResult
from domain.episode import CareEpisode
from domain.errors import (
    EpisodeClosedError,
    EpisodeNotFound,
    IdempotencyKeyReused,
    RuleViolation,
    VersionMismatch,
)
from domain.values import (
    Actor,
    BiologicProduct,
    DiagnosticKind,
    Envelope,
    EpisodeStatus,
    Instrument,
    PlanItem,
    PlanItemKind,
    Presentation,
    ReferralSource,
    Referrer,
    RegenerativeOption,
    Service,
    Surgeon,
    Urgency,
)
from infra.eventstore import build_application
from infra.settings import Settings
from tests.support import builders as b
from tests.support.commands import COMMANDS


def open_episode(app: CareEpisodes, **overrides) -> CommandResult:
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral(**overrides))
    return app.handle(opening, actor=b.SERVICE)


def run(
    app: CareEpisodes,
    command_type: type[cmd.EpisodeCommand],
    episode_id,
    body: dict,
    days: float = 1,
    **kw,
) -> CommandResult:
    command = b.command(command_type, episode_id, body, days=days)
    return app.handle(command, actor=b.SERVICE, **kw)


class BarrierClock:
    """A clock that holds each of `parties` writers after it has loaded the episode,
    so all of them decide on the same version before any of them saves."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.waited = threading.local()

    def __call__(self) -> datetime:
        if not getattr(self.waited, "done", False):
            self.waited.done = True
            self.barrier.wait()
        return datetime.now(UTC)


def race(
    settings: Settings,
    episode_id,
    bodies: list[tuple[type[cmd.EpisodeCommand], dict]],
    **kw,
):
    """Run each command from its own application (as separate processes would)."""
    clock = BarrierClock(len(bodies))
    apps = [build_application(settings, clock=clock) for _ in bodies]
    results: list[object] = [None] * len(bodies)

    def write(i: int) -> None:
        command_type, body = bodies[i]
        try:
            results[i] = run(apps[i], command_type, episode_id, body, **kw)
        except Exception as error:  # the test inspects what each writer got
            results[i] = error

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for application in apps:
        application.close()
    return results


# -- concurrency ----------------------------------------------------------------


def test_two_writers_racing_on_one_version_one_wins_the_other_gets_a_conflict(
    app, settings
):
    episode_id = open_episode(app).episode_id
    results = race(
        settings,
        episode_id,
        [(cmd.RecordDiagnostic, b.mri()), (cmd.RecordOutcome, b.outcome())],
        expected_version=1,
    )
    won = [r for r in results if isinstance(r, CommandResult)]
    lost = [r for r in results if isinstance(r, VersionMismatch)]
    assert len(won) == 1 and len(lost) == 1, results
    assert won[0].version == 2
    assert "is at version 2, not the expected 1" in str(lost[0])
    history = app.history(episode_id)
    assert [h.version for h in history] == [1, 2]
    assert history[1].position == won[0].position


def test_a_writer_without_expected_version_that_loses_a_race_is_retried_on_the_new_state(
    app, settings
):
    episode_id = open_episode(app).episode_id
    results = race(
        settings,
        episode_id,
        [(cmd.RecordDiagnostic, b.mri()), (cmd.RecordOutcome, b.outcome())],
    )
    assert sorted(r.version for r in results) == [2, 3], results
    assert [h.type for h in app.history(episode_id)][1:] in (
        ["DiagnosticCompleted", "OutcomeRecorded"],
        ["OutcomeRecorded", "DiagnosticCompleted"],
    )


def test_a_retried_write_that_the_new_state_forbids_is_refused_not_overwritten(
    app, settings
):
    episode_id = open_episode(app).episode_id
    results = race(
        settings,
        episode_id,
        [(cmd.CloseEpisode, b.closure()), (cmd.RecordDiagnostic, b.mri())],
    )
    closed, refused = results
    if isinstance(closed, EpisodeClosedError):  # the diagnostic won the race
        closed, refused = refused, closed
    assert isinstance(closed, CommandResult)
    if isinstance(refused, CommandResult):  # the diagnostic saved before the closure
        assert [h.type for h in app.history(episode_id)][-1] == "EpisodeClosed"
    else:
        assert isinstance(refused, EpisodeClosedError)
        assert [h.type for h in app.history(episode_id)] == [
            "ReferralReceived",
            "EpisodeClosed",
        ]


def test_a_stale_expected_version_is_refused_without_writing(app):
    episode_id = open_episode(app).episode_id
    run(app, cmd.RecordDiagnostic, episode_id, b.mri())
    with pytest.raises(VersionMismatch):
        run(app, cmd.RecordOutcome, episode_id, b.outcome(), expected_version=1)
    assert app.get_episode(episode_id).version == 2


# -- idempotency ----------------------------------------------------------------


def test_a_retried_command_with_its_idempotency_key_answers_the_original_result(app):
    episode_id = open_episode(app).episode_id
    first = run(app, cmd.RecordDiagnostic, episode_id, b.mri(), idempotency_key="k-1")
    again = run(app, cmd.RecordDiagnostic, episode_id, b.mri(), idempotency_key="k-1")
    assert (again.version, again.position, again.replayed) == (
        first.version,
        first.position,
        True,
    )
    assert len(app.history(episode_id)) == 2
    assert app.history(episode_id)[1].idempotency_key == "k-1"


def test_an_idempotency_key_reused_with_another_body_is_refused(app):
    episode_id = open_episode(app).episode_id
    run(app, cmd.RecordDiagnostic, episode_id, b.mri(), idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        run(
            app,
            cmd.RecordDiagnostic,
            episode_id,
            b.mri(levels=["L5-S1"]),
            idempotency_key="k-1",
        )
    assert len(app.history(episode_id)) == 2


def test_a_retried_open_with_its_idempotency_key_finds_the_same_episode(app):
    def opening(**overrides) -> cmd.OpenEpisode:
        return cmd.OpenEpisode(occurred_at=b.at(0), **b.referral(**overrides))

    first = app.handle(opening(), actor=b.SERVICE, idempotency_key="open-1")
    again = app.handle(opening(), actor=b.SERVICE, idempotency_key="open-1")
    assert again.episode_id == first.episode_id and again.replayed
    with pytest.raises(IdempotencyKeyReused):
        app.handle(
            opening(patient_id="pt-other"), actor=b.SERVICE, idempotency_key="open-1"
        )
    other_caller = Actor("svc-other", b.SERVICE.role)
    third = app.handle(opening(), actor=other_caller, idempotency_key="open-1")
    assert third.episode_id != first.episode_id


# -- refused commands record nothing ----------------------------------------------


@pytest.mark.parametrize(
    ("command_type", "body", "days"),
    [
        (cmd.RecordOutcome, b.outcome(instrument="odi", score=101), 1),
        (cmd.AdministerBiologic, b.prp(lot_number=""), 1),
        (cmd.ReferToSurgery, b.surgery_referral(justification=""), 1),
        (cmd.RecordDiagnostic, b.mri(kind="pet_scan"), 1),
        (cmd.RecordDiagnostic, b.mri(), -2),
        (cmd.RecordDiagnostic, b.mri(), 400),
    ],
    ids=[
        "odi-above-100",
        "biologic-without-lot",
        "surgery-without-justification",
        "unknown-diagnostic-kind",
        "before-the-opening",
        "in-the-future",
    ],
)
def test_a_refused_command_records_nothing(app, command_type, body, days):
    episode_id = open_episode(app).episode_id
    # An invalid body is refused as the command is built; the rest by the episode.
    with pytest.raises(RuleViolation):
        run(app, command_type, episode_id, body, days=days)
    assert [h.version for h in app.history(episode_id)] == [1]
    assert run(app, cmd.RecordDiagnostic, episode_id, b.mri()).version == 2


def test_nothing_is_recorded_after_closure(app):
    episode_id = open_episode(app).episode_id
    run(app, cmd.CloseEpisode, episode_id, b.closure())
    with pytest.raises(EpisodeClosedError, match="is closed"):
        run(app, cmd.RecordDiagnostic, episode_id, b.mri(), days=2)
    assert app.get_episode(episode_id).version == 2


def test_an_unknown_episode_is_not_found(app):
    missing = uuid4()
    with pytest.raises(EpisodeNotFound):
        app.get_episode(missing)
    with pytest.raises(EpisodeNotFound):
        app.history(missing)
    with pytest.raises(EpisodeNotFound):
        run(app, cmd.RecordDiagnostic, missing, b.mri())


# -- the past: versions and instants ----------------------------------------------


def test_the_episode_at_version_n_is_as_it_stood_then(app):
    episode_id = open_episode(app).episode_id
    run(app, cmd.RecordDiagnostic, episode_id, b.medial_branch_block(), days=1)
    run(app, cmd.CloseEpisode, episode_id, b.closure(), days=2)
    at_two = app.get_episode(episode_id, version=2)
    assert at_two.version == 2 and at_two.status is EpisodeStatus.OPEN
    assert [e.type for e in at_two.entries] == [
        "ReferralReceived",
        "DiagnosticCompleted",
    ]
    assert app.get_episode(episode_id).status is EpisodeStatus.CLOSED
    for missing in (0, 4):
        with pytest.raises(EpisodeNotFound, match=f"has no version {missing}"):
            app.get_episode(episode_id, version=missing)


def test_the_episode_as_of_an_instant_is_the_record_as_it_stood_then(app):
    episode_id = open_episode(app).episode_id
    run(app, cmd.RecordDiagnostic, episode_id, b.mri())
    history = app.history(episode_id)
    between = (
        history[0].recorded_at + (history[1].recorded_at - history[0].recorded_at) / 2
    )
    assert app.get_episode_as_of(episode_id, between).version == 1
    assert app.get_episode_as_of(episode_id, datetime.now(UTC)).version == 2
    with pytest.raises(EpisodeNotFound, match="had not been recorded"):
        app.get_episode_as_of(episode_id, history[0].recorded_at - timedelta(seconds=1))
    with pytest.raises(RuleViolation, match="no UTC offset"):
        app.get_episode_as_of(episode_id, datetime(2026, 1, 1))


def test_the_history_holds_every_event_with_its_metadata_and_position(app):
    episode_id = open_episode(app).episode_id
    second = run(app, cmd.RecordDiagnostic, episode_id, b.mri(), days=3)
    history = app.history(episode_id)
    assert [(h.version, h.type) for h in history] == [
        (1, "ReferralReceived"),
        (2, "DiagnosticCompleted"),
    ]
    assert history[1].position == second.position > history[0].position
    assert history[1].occurred_at == b.at(3)
    assert history[1].actor == b.SERVICE
    assert history[1].recorded_at >= history[0].recorded_at
    assert history[1].data["levels"] == ["L4-L5"]
    assert (
        len(history[1].chain_hash) == 64
        and history[0].chain_hash != history[1].chain_hash
    )


# -- restarts and types --------------------------------------------------------------


def full_episode(app: CareEpisodes):
    episode_id = open_episode(app, red_flags=["fracture"]).episode_id
    for day, case in enumerate(COMMANDS, start=1):
        run(app, case.command, episode_id, case.body(), days=day)
    return episode_id


def test_a_restarted_process_reads_back_identical_state_and_history(app, settings):
    episode_id = full_episode(app)
    before, history = app.get_episode(episode_id), app.history(episode_id)
    decided = app.repository.get(episode_id)
    app.close()
    with build_application(settings) as restarted:
        assert restarted.get_episode(episode_id) == before
        assert restarted.history(episode_id) == history
        assert restarted.repository.get(episode_id) == decided


def test_replaying_stored_events_rebuilds_exactly_the_state_that_recorded_them(
    app, settings
):
    # given an episode decided in memory, every command once, then saved
    envelope = Envelope(b.SERVICE, now=datetime.now(UTC))
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral())
    episode = CareEpisode.open(uuid4(), envelope, opening)
    for day, case in enumerate(COMMANDS, start=1):
        command = b.command(case.command, episode.id, case.body(), days=day)
        DECISIONS[case.command](episode, envelope, command)
    reading = b.read(episode)
    app.save(episode)
    # when a process with no cached aggregates replays its stored events
    with build_application(
        settings.model_copy(update={"aggregate_cache_size": 0})
    ) as fresh:
        # then both the decision state and the reading are those that recorded them
        assert fresh.repository.get(episode.id) == episode
        assert fresh.get_episode(episode.id) == reading


def test_every_enum_date_and_decimal_comes_back_as_its_own_type(app, settings):
    episode_id = full_episode(app)
    with build_application(settings) as restarted:
        data = {h.type: h.data for h in restarted.history(episode_id)}
        episode = restarted.get_episode(episode_id)
    opening = episode.entries[0].data
    assert isinstance(opening["referrer"], Referrer)
    assert isinstance(opening["referrer"].role, ReferralSource)
    assert isinstance(opening["receiving_service"], Service)
    assert isinstance(opening["symptom_onset"], date)
    assert isinstance(opening["presentation"], Presentation)
    assert isinstance(data["DiagnosticCompleted"]["kind"], DiagnosticKind)
    assert isinstance(data["ConservativeCareRecorded"]["started_on"], date)
    plan = data["TreatmentPlanned"]
    assert (
        isinstance(plan["items"][0], PlanItem)
        and plan["items"][0].kind is PlanItemKind.BIOLOGIC
    )
    assert plan["regenerative_option"] is RegenerativeOption.RECOMMENDED
    biologic = data["BiologicAdministered"]
    assert biologic["product"] is BiologicProduct.PRP
    assert biologic["volume_ml"] == Decimal("4.5") and isinstance(
        biologic["volume_ml"], Decimal
    )
    assert isinstance(data["OutcomeRecorded"]["score"], Decimal)
    assert data["OutcomeRecorded"]["instrument"] is Instrument.ODI
    assert isinstance(data["SurgeryReferred"]["surgeon"], Surgeon)
    assert data["SurgeryReferred"]["urgency"] is Urgency.ELECTIVE
    assert isinstance(episode.entries[0].occurred_at, datetime)
