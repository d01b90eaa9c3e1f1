"""The CareEpisode aggregate: the events it records, the rules it enforces and the
little state it keeps to decide (what a reader sees is in test_reading.py)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate

from domain import commands as cmd
from domain import events as ev
from domain.application import DECISIONS
from domain.episode import CareEpisode
from domain.errors import (
    EpisodeClosedError,
    IdempotencyKeyReused,
    InvalidCommand,
    RuleViolation,
)
from domain.values import Envelope, Idempotency
from tests.support import builders as b
from tests.support.commands import COMMANDS, case_for

# What the aggregate decides on; everything else a reader folds from the events.
DECISION_STATE = {
    "patient_id",
    "opened_at",
    "closed",
    "assignee_id",
    "assignment_version",
    "referrer_ids",
    "measurable",
    "idempotency_keys",
}


def recorded(
    episode: CareEpisode, command_type: type, body: dict, days: float = 1
) -> CareEpisode:
    return b.record(episode, command_type, body, days=days)


def decided(
    episode: CareEpisode,
    command: cmd.EpisodeCommand,
    *,
    now: datetime | None = None,
    idempotency: Idempotency | None = None,
) -> None:
    """Decide an already built command, with the server's clock at `now`."""
    envelope = Envelope(
        b.SERVICE, now=now or datetime.now(UTC), idempotency=idempotency
    )
    DECISIONS[type(command)](episode, envelope, command)


# -- what each command records -------------------------------------------------


def test_an_opened_episode_decides_on_its_patient_opening_and_referrer_only():
    episode = b.opened_episode()

    assert episode.version == 1
    assert [type(e) for e in episode.pending_events] == [ev.ReferralReceived]
    assert episode.patient_id == "pt-0001"
    assert episode.opened_at == b.at(0)
    assert episode.closed is False
    assert episode.referrer_ids == ["dr-pc-1"]
    assert episode.measurable == {}
    assert episode.idempotency_keys == {}


@pytest.mark.parametrize("case", COMMANDS, ids=lambda c: c.id)
def test_each_command_records_its_event_with_actor_and_clinical_time(case):
    episode = b.opened_episode()

    b.record(episode, case.command, case.body(), days=3, actor=b.CLINICIAN)

    event = episode.pending_events[-1]
    assert episode.version == 2
    assert type(event) is case.event
    assert event.actor == b.CLINICIAN
    assert event.occurred_at == b.at(3)
    assert event.timestamp.tzinfo is not None


def test_each_referrer_is_kept_once_in_the_order_they_referred():
    episode = b.opened_episode()
    recorded(episode, cmd.ReceiveReferral, b.further_referral())
    recorded(
        episode,
        cmd.ReceiveReferral,
        b.further_referral(receiving_service="spine_surgery"),
    )

    assert episode.referrer_ids == ["dr-pc-1", "dr-ss-1"]


def test_a_later_referral_keeps_the_patient_of_the_opening_one():
    episode = b.opened_episode()
    recorded(episode, cmd.ReceiveReferral, b.further_referral())

    assert episode.pending_events[-1].patient_id == "pt-0001"


def test_closing_an_episode_marks_it_closed():
    episode = b.opened_episode()

    recorded(episode, cmd.CloseEpisode, b.closure(reason="surgery"))

    assert episode.closed is True


def test_treatments_an_outcome_may_follow_are_kept_with_their_clinical_time():
    # given every kind of event that could come before an outcome
    episode = b.opened_episode()
    recorded(episode, cmd.RecordDiagnostic, b.mri(), days=1)
    recorded(episode, cmd.RecordConservativeCare, b.conservative_care(), days=2)
    recorded(episode, cmd.PlanTreatment, b.plan(), days=3)
    recorded(episode, cmd.PerformIntervention, b.esi(), days=4)
    recorded(episode, cmd.AdministerBiologic, b.prp(), days=5)
    recorded(episode, cmd.RecordOutcome, b.outcome(follows_version=6), days=6)
    # then only care, the intervention and the biologic are measurable
    assert episode.measurable == {"3": b.at(2), "5": b.at(4), "6": b.at(5)}


@pytest.mark.parametrize(
    "treatment",
    [cmd.RecordConservativeCare, cmd.PerformIntervention, cmd.AdministerBiologic],
)
def test_an_outcome_may_follow_any_treatment_of_the_episode(treatment):
    episode = recorded(b.opened_episode(), treatment, case_for(treatment).body())

    recorded(episode, cmd.RecordOutcome, b.outcome(follows_version=2), days=45)

    assert episode.version == 3
    assert episode.pending_events[-1].follows_version == 2


def test_replaying_the_events_rebuilds_exactly_the_same_state():
    episode = b.opened_episode(red_flags=["fracture"])
    for day, case in enumerate(COMMANDS, start=1):
        recorded(episode, case.command, case.body(), days=day)
    events = list(episode.pending_events)
    episode.collect_events()
    assert project_aggregate(None, events) == episode


def test_the_aggregate_keeps_no_per_event_data_but_its_keys_and_measurable_versions():
    # given 300 events of every kind but closure, one in ten with an idempotency key
    episode = b.opened_episode()
    open_cases = [case for case in COMMANDS if case.command is not cmd.CloseEpisode]
    keyed, treated = set(), set()
    for day in range(1, 301):
        case = open_cases[day % len(open_cases)]
        key = Idempotency(f"retry-{day}", "f") if day % 10 == 0 else None
        command = b.command(case.command, episode.id, case.body(), days=day)
        decided(episode, command, now=b.at(day), idempotency=key)
        if key:
            keyed.add(key.key)
        if case.command in (
            cmd.RecordConservativeCare,
            cmd.PerformIntervention,
            cmd.AdministerBiologic,
        ):
            treated.add(str(episode.version))
    # when its events are collected (saved)
    episode.collect_events()
    # then it holds only its decision fields, each no bigger than it must be
    assert episode.version == 301
    assert {name for name in vars(episode) if not name.startswith("_")} == (
        DECISION_STATE
    )
    assert episode.pending_events == []
    assert set(episode.idempotency_keys) == keyed
    assert set(episode.measurable) == treated
    assert episode.referrer_ids == ["dr-pc-1", "dr-ss-1"]
    assert (episode.patient_id, episode.opened_at, episode.closed) == (
        "pt-0001",
        b.at(0),
        False,
    )


ATOMS = (str, int, float, Decimal, datetime, date, UUID, type(None))


def _atoms_only(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_atoms_only(item) for item in value)
    return isinstance(value, ATOMS)


def test_a_copy_of_the_episode_shares_nothing_a_command_may_change():
    # given an episode that went through every command but closure, each keyed
    episode = b.opened_episode(red_flags=["fracture"])
    open_cases = [case for case in COMMANDS if case.command is not cmd.CloseEpisode]
    for day, case in enumerate(open_cases, start=1):
        command = b.command(case.command, episode.id, case.body(), days=day)
        key = Idempotency(f"retry-{day}", "f")
        decided(episode, command, now=b.at(day), idempotency=key)
    episode.collect_events()
    # then its state is atoms in lists and dicts (what the copy relies on) ...
    for name, value in vars(episode).items():
        items = (
            value.items()
            if isinstance(value, dict)
            else (value if isinstance(value, list) else [value])
        )
        for item in items:
            assert _atoms_only(item), (name, item)
    # ... and its copy equals it, with containers of its own
    copied = copy.deepcopy(episode)
    assert copied == episode and copied is not episode
    assert vars(copied) == vars(episode)
    for name, value in vars(episode).items():
        if isinstance(value, list | dict):
            assert vars(copied)[name] is not value, name
    # and commands decided on the copy (a referral, then closure) leave the
    # original as it was
    before = {
        name: value.copy() if isinstance(value, list | dict) else value
        for name, value in vars(episode).items()
    }
    for day, command_type in ((40, cmd.ReceiveReferral), (41, cmd.CloseEpisode)):
        body = case_for(command_type).body()
        command = b.command(command_type, episode.id, body, days=day)
        decided(copied, command, now=b.at(day), idempotency=Idempotency(f"k{day}", "f"))
    assert (copied.version, copied.closed) == (episode.version + 2, True)
    assert vars(episode) == before


# -- rules: each refusal names the problem and records nothing ----------------


def assert_refused(
    episode: CareEpisode,
    command_type: type[cmd.EpisodeCommand],
    body: dict,
    words: str,
    *,
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> RuleViolation:
    """The episode refuses a valid command for a rule of its own; nothing is recorded."""
    command = command_type(
        episode_id=episode.id, occurred_at=occurred_at or b.at(1), **body
    )
    version, pending = episode.version, len(episode.pending_events)
    with pytest.raises(RuleViolation) as raised:
        decided(episode, command, now=now)
    assert words in str(raised.value)
    assert (episode.version, len(episode.pending_events)) == (version, pending)
    return raised.value


def assert_invalid(
    command_type: type[cmd.Command],
    body: dict,
    words: str,
    *,
    occurred_at: datetime | None = None,
) -> InvalidCommand:
    """The command cannot even be built, whatever episode it is for."""
    fields = {} if command_type is cmd.OpenEpisode else {"episode_id": uuid4()}
    with pytest.raises(InvalidCommand) as raised:
        command_type(occurred_at=occurred_at or b.at(1), **fields, **body)
    assert words in str(raised.value)
    return raised.value


@pytest.mark.parametrize("case", COMMANDS, ids=lambda c: c.id)
def test_nothing_may_be_recorded_after_closure(case):
    episode = b.opened_episode()
    recorded(episode, cmd.CloseEpisode, b.closure())
    error = assert_refused(episode, case.command, case.body(), "is closed")
    assert isinstance(error, EpisodeClosedError)


@pytest.mark.parametrize(
    ("instrument", "score"),
    [
        ("nrs_pain", 11),
        ("nrs_pain", -1),
        ("odi", 101),
        ("promis_pf", 19.9),
        ("promis_pi", 80.5),
        ("relief_percent", 100.1),
    ],
)
def test_a_score_out_of_range_for_its_instrument_is_refused(instrument, score):
    error = assert_invalid(
        cmd.RecordOutcome,
        b.outcome(instrument=instrument, score=score),
        f"a {instrument} score must be from",
    )
    assert error.field == "score"


@pytest.mark.parametrize(
    ("instrument", "score"),
    [
        ("nrs_pain", 0),
        ("nrs_pain", 10),
        ("odi", 100),
        ("promis_pf", 20),
        ("promis_pi", 80),
        ("relief_percent", 0),
    ],
)
def test_a_score_at_the_edge_of_its_range_is_accepted(instrument, score):
    episode = b.opened_episode()
    recorded(episode, cmd.RecordOutcome, b.outcome(instrument=instrument, score=score))
    assert b.read(episode).entries[-1].data["score"] == Decimal(str(score))


@pytest.mark.parametrize("lot_number", ["", "   ", None])
def test_a_biologic_without_a_lot_number_is_refused(lot_number):
    assert_invalid(
        cmd.AdministerBiologic,
        b.prp(lot_number=lot_number),
        "lot_number must not be blank",
    )


def test_a_biologic_without_a_target_is_refused():
    assert_invalid(cmd.AdministerBiologic, b.prp(target=""), "target must not be blank")


@pytest.mark.parametrize("volume", [0, -1, 250])
def test_a_biologic_volume_out_of_bounds_is_refused(volume):
    assert_invalid(
        cmd.AdministerBiologic, b.prp(volume_ml=volume), "volume_ml must be above 0"
    )


@pytest.mark.parametrize("justification", ["", "   ", "because", None])
def test_a_surgery_referral_without_a_justification_is_refused(justification):
    assert_invalid(
        cmd.ReferToSurgery,
        b.surgery_referral(justification=justification),
        "needs a justification",
    )


def test_an_occurred_at_in_the_future_is_refused():
    now = datetime.now(UTC)
    assert_refused(
        b.opened_episode(),
        cmd.RecordDiagnostic,
        b.mri(),
        "is in the future",
        occurred_at=now + timedelta(hours=1),
        now=now,
    )


def test_an_occurred_at_within_the_clock_skew_allowance_is_accepted():
    now = datetime.now(UTC)
    episode = b.opened_episode()
    command = cmd.RecordDiagnostic(
        episode_id=episode.id, occurred_at=now + timedelta(minutes=2), **b.mri()
    )

    decided(episode, command, now=now)

    assert episode.version == 2


def test_opening_an_episode_in_the_future_is_refused():
    now = datetime.now(UTC)
    opening = cmd.OpenEpisode(occurred_at=now + timedelta(days=1), **b.referral())
    with pytest.raises(RuleViolation, match="is in the future"):
        CareEpisode.open(uuid4(), Envelope(b.SERVICE, now=now), opening)


def test_an_occurred_at_before_the_episode_opened_is_refused():
    assert_refused(
        b.opened_episode(),
        cmd.RecordDiagnostic,
        b.mri(),
        "before the episode opened",
        occurred_at=b.at(-1),
    )


def test_an_event_recorded_late_may_predate_earlier_recorded_events():
    episode = b.opened_episode()
    recorded(episode, cmd.RecordDiagnostic, b.mri(), days=10)
    recorded(episode, cmd.RecordConservativeCare, b.conservative_care(), days=5)
    reading = b.read(episode)
    assert [e.occurred_at for e in reading.entries[1:]] == [b.at(10), b.at(5)]
    assert reading.last_occurred_at == b.at(10)


def test_an_occurred_at_without_utc_offset_is_refused():
    assert_invalid(
        cmd.RecordDiagnostic,
        b.mri(),
        "has no UTC offset",
        occurred_at=datetime(2026, 3, 5, 9, 0),
    )


@pytest.mark.parametrize(
    ("command_type", "body", "field"),
    [
        (cmd.RecordDiagnostic, b.mri(kind="pet_scan"), "kind"),
        (
            cmd.PerformIntervention,
            b.esi(procedure="spinal_cord_stimulator"),
            "procedure",
        ),
        (cmd.AdministerBiologic, b.prp(product="stem_cells"), "product"),
        (cmd.RecordOutcome, b.outcome(instrument="vas"), "instrument"),
        (cmd.ReferToSurgery, b.surgery_referral(urgency="asap"), "urgency"),
        (cmd.ScreenRedFlags, b.screening(flags=["headache"]), "flags"),
        (cmd.CloseEpisode, b.closure(reason="bored"), "reason"),
        (
            cmd.ReceiveReferral,
            b.further_referral(receiving_service="dentistry"),
            "receiving_service",
        ),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_an_unknown_enum_value_is_refused_listing_the_allowed_ones(
    command_type, body, field
):
    error = assert_invalid(command_type, body, "is not one of:")
    assert error.field == field


def test_an_unknown_referrer_role_is_refused():
    with pytest.raises(InvalidCommand, match=r"referrer\.role 'insurer' is not one of"):
        cmd.OpenEpisode(
            occurred_at=b.at(0),
            **b.referral(referrer={"id": "x", "name": "X", "role": "insurer"}),
        )


def test_a_diagnostic_block_must_record_its_relief():
    assert_invalid(
        cmd.RecordDiagnostic,
        b.medial_branch_block(relief_percent=None),
        "must record relief_percent",
    )


def test_relief_is_refused_on_a_diagnostic_that_is_not_a_block():
    assert_invalid(
        cmd.RecordDiagnostic, b.mri(relief_percent=50), "applies to diagnostic blocks"
    )


def test_a_block_relief_over_100_percent_is_refused():
    assert_invalid(
        cmd.RecordDiagnostic, b.medial_branch_block(relief=120), "from 0 to 100"
    )


def test_an_unknown_spinal_level_is_refused():
    assert_invalid(
        cmd.RecordDiagnostic, b.mri(levels=["L9-L10"]), "is not a spinal level"
    )


def test_conservative_care_cannot_end_before_it_started():
    assert_invalid(
        cmd.RecordConservativeCare,
        b.conservative_care(started_on=date(2026, 3, 1), ended_on=date(2026, 2, 1)),
        "is before started_on",
    )


def test_conservative_care_cannot_start_after_it_was_recorded():
    assert_invalid(
        cmd.RecordConservativeCare,
        b.conservative_care(started_on=date(2026, 6, 1), ended_on=None),
        "is after the event occurred",
    )


def test_an_intervention_other_than_si_joint_must_name_its_levels():
    assert_invalid(cmd.PerformIntervention, b.esi(levels=[]), "must name the levels")
    episode = b.opened_episode()
    recorded(
        episode,
        cmd.PerformIntervention,
        b.esi(procedure="si_joint_injection", region="sacroiliac", levels=[]),
    )
    assert episode.version == 2


def test_a_plan_needs_at_least_one_item():
    assert_invalid(cmd.PlanTreatment, b.plan(items=[]), "at least one item")


def test_an_outcome_must_follow_a_treatment_on_this_episode():
    episode = b.opened_episode()
    recorded(episode, cmd.RecordDiagnostic, b.mri())
    assert_refused(
        episode,
        cmd.RecordOutcome,
        b.outcome(follows_version=2),
        "is not an intervention",
    )
    assert_refused(
        episode,
        cmd.RecordOutcome,
        b.outcome(follows_version=9),
        "is not an intervention",
    )


def test_an_outcome_cannot_have_occurred_before_the_treatment_it_follows():
    episode = recorded(b.opened_episode(), cmd.AdministerBiologic, b.prp(), days=10)

    error = assert_refused(
        episode,
        cmd.RecordOutcome,
        b.outcome(follows_version=2),
        "an outcome following version 2 cannot have occurred before it",
        occurred_at=b.at(9),
    )

    assert error.field == "occurred_at"


def test_a_symptom_onset_after_the_referral_is_refused():
    with pytest.raises(InvalidCommand, match=r"symptom_onset .* is after the referral"):
        cmd.OpenEpisode(
            occurred_at=b.at(0), **b.referral(symptom_onset=date(2026, 3, 3))
        )


@pytest.mark.parametrize("patient_id", ["", "pt 1", "x" * 129])
def test_a_malformed_patient_id_is_refused(patient_id):
    with pytest.raises(InvalidCommand, match="patient_id"):
        cmd.OpenEpisode(occurred_at=b.at(0), **b.referral(patient_id=patient_id))


# -- idempotency keys ---------------------------------------------------------


def test_an_applied_idempotency_key_answers_its_original_version():
    episode = b.opened_episode()
    key = Idempotency("retry-1", "f1")
    decided(
        episode,
        b.command(cmd.RecordDiagnostic, episode.id, b.mri(), days=1),
        idempotency=key,
    )
    assert episode.replayed_version(key) == 2
    assert episode.replayed_version(Idempotency("other", "f1")) is None


def test_an_idempotency_key_reused_for_another_command_is_refused():
    episode = b.opened_episode()
    decided(
        episode,
        b.command(cmd.RecordDiagnostic, episode.id, b.mri(), days=1),
        idempotency=Idempotency("k", "f1"),
    )
    with pytest.raises(IdempotencyKeyReused, match="'k' was already used"):
        episode.replayed_version(Idempotency("k", "f2"))


def test_an_applied_idempotency_key_is_kept_with_its_version_and_fingerprint():
    episode = b.opened_episode()
    decided(
        episode,
        b.command(cmd.RecordDiagnostic, episode.id, b.mri(), days=1),
        idempotency=Idempotency("retry-1", "f1"),
    )
    assert episode.idempotency_keys == {"retry-1": (2, "f1")}
