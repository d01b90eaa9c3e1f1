"""The CareEpisode aggregate: every event it records and every rule it enforces."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.application import project_aggregate

from domain.episode import CareEpisode
from domain.errors import EpisodeClosedError, IdempotencyKeyReused, RuleViolation
from domain.values import (
    DiagnosticKind,
    EpisodeStatus,
    Idempotency,
    PainGenerator,
    RedFlag,
    ReferralSource,
    Service,
)
from tests import builders as b


def open_episode(**overrides) -> CareEpisode:
    return CareEpisode.open(uuid4(), b.envelope(b.at(0)), **b.referral(**overrides))


def recorded(episode: CareEpisode, command: str, body: dict, days: float = 1) -> None:
    getattr(episode, command)(b.envelope(b.at(days)), **body)


# -- what each event records ---------------------------------------------------


def test_first_referral_opens_an_episode_for_the_patient():
    episode = open_episode()
    assert episode.version == 1
    assert episode.patient_id == "pt-0001"
    assert episode.referrer.role is ReferralSource.PRIMARY_CARE
    assert episode.opened_at == b.at(0)
    assert episode.pathway == [Service.SPINE_SURGERY]
    assert episode.status is EpisodeStatus.OPEN
    assert [e.type for e in episode.entries] == ["ReferralReceived"]


@pytest.mark.parametrize(("command", "body", "event_type"), b.COMMANDS)
def test_each_command_records_its_event_with_actor_and_clinical_time(
    command, body, event_type
):
    episode = open_episode()
    getattr(episode, command)(b.envelope(b.at(3), actor=b.CLINICIAN), **body())
    entry = episode.entries[-1]
    assert episode.version == 2
    assert entry.type == event_type
    assert entry.actor == b.CLINICIAN
    assert entry.occurred_at == b.at(3)
    assert entry.recorded_at.tzinfo is not None
    assert type(episode.pending_events[-1]).__name__ == event_type


def test_a_later_referral_extends_the_pathway_in_order():
    episode = open_episode()
    recorded(episode, "receive_referral", b.further_referral())
    recorded(
        episode,
        "receive_referral",
        b.further_referral(receiving_service="spine_surgery"),
    )
    assert episode.pathway == [
        Service.SPINE_SURGERY,
        Service.PAIN_MEDICINE,
        Service.SPINE_SURGERY,
    ]
    assert episode.entries[1].data["patient_id"] == "pt-0001"


def test_red_flags_from_the_referral_and_screens_accumulate_once_each():
    episode = open_episode(red_flags=["cauda_equina"])
    recorded(
        episode, "screen_red_flags", b.screening(flags=["cauda_equina", "infection"])
    )
    assert episode.red_flags == [RedFlag.CAUDA_EQUINA, RedFlag.INFECTION]
    assert episode.screened


def test_a_diagnostic_naming_a_pain_generator_identifies_it():
    episode = open_episode()
    recorded(episode, "record_diagnostic", b.mri())
    assert episode.pain_generators == []
    recorded(episode, "record_diagnostic", b.medial_branch_block(relief=85))
    assert episode.pain_generators == [PainGenerator.FACET]
    assert episode.entries[-1].data["kind"] is DiagnosticKind.MEDIAL_BRANCH_BLOCK


def test_assigning_a_clinician_sets_the_assignee():
    episode = open_episode()
    recorded(episode, "assign_clinician", b.assignment())
    assert (episode.assignee_id, episode.assignee_name) == ("clin-ana", "Ana Clinician")


def test_closing_an_episode_records_the_reason():
    episode = open_episode()
    recorded(episode, "close", b.closure(reason="surgery"))
    assert episode.status is EpisodeStatus.CLOSED
    assert episode.closure_reason.value == "surgery"


def test_a_follow_up_outcome_names_the_treatment_it_measures():
    episode = open_episode()
    recorded(episode, "administer_biologic", b.prp())
    recorded(episode, "record_outcome", b.outcome(follows_version=2), days=45)
    assert episode.entries[-1].data["follows_version"] == 2


def test_replaying_the_events_rebuilds_exactly_the_same_state():
    episode = open_episode(red_flags=["fracture"])
    for day, (command, body, _) in enumerate(b.COMMANDS, start=1):
        recorded(episode, command, body(), days=day)
    events = list(episode.pending_events)
    episode.collect_events()
    assert project_aggregate(None, events) == episode


# -- rules: each refusal names the problem and records nothing ----------------


def assert_refused(episode: CareEpisode, command: str, body: dict, words: str, **when):
    version, pending = episode.version, len(episode.pending_events)
    with pytest.raises(RuleViolation) as raised:
        getattr(episode, command)(
            b.envelope(**when) if when else b.envelope(b.at(1)), **body
        )
    assert words in str(raised.value)
    assert (episode.version, len(episode.pending_events)) == (version, pending)
    return raised.value


@pytest.mark.parametrize(("command", "body", "_event"), b.COMMANDS)
def test_nothing_may_be_recorded_after_closure(command, body, _event):
    episode = open_episode()
    recorded(episode, "close", b.closure())
    error = assert_refused(episode, command, body(), "is closed")
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
    error = assert_refused(
        open_episode(),
        "record_outcome",
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
    episode = open_episode()
    recorded(episode, "record_outcome", b.outcome(instrument=instrument, score=score))
    assert episode.entries[-1].data["score"] == Decimal(str(score))


@pytest.mark.parametrize("lot_number", ["", "   ", None])
def test_a_biologic_without_a_lot_number_is_refused(lot_number):
    assert_refused(
        open_episode(),
        "administer_biologic",
        b.prp(lot_number=lot_number),
        "lot_number must not be blank",
    )


def test_a_biologic_without_a_target_is_refused():
    assert_refused(
        open_episode(),
        "administer_biologic",
        b.prp(target=""),
        "target must not be blank",
    )


@pytest.mark.parametrize("volume", [0, -1, 250])
def test_a_biologic_volume_out_of_bounds_is_refused(volume):
    assert_refused(
        open_episode(),
        "administer_biologic",
        b.prp(volume_ml=volume),
        "volume_ml must be above 0",
    )


@pytest.mark.parametrize("justification", ["", "   ", "because", None])
def test_a_surgery_referral_without_a_justification_is_refused(justification):
    assert_refused(
        open_episode(),
        "refer_to_surgery",
        b.surgery_referral(justification=justification),
        "needs a justification",
    )


def test_an_occurred_at_in_the_future_is_refused():
    now = datetime.now(UTC)
    assert_refused(
        open_episode(),
        "record_diagnostic",
        b.mri(),
        "is in the future",
        occurred_at=now + timedelta(hours=1),
        now=now,
    )


def test_an_occurred_at_within_the_clock_skew_allowance_is_accepted():
    now = datetime.now(UTC)
    episode = open_episode()
    episode.record_diagnostic(
        b.envelope(now + timedelta(minutes=2), now=now), **b.mri()
    )
    assert episode.version == 2


def test_opening_an_episode_in_the_future_is_refused():
    now = datetime.now(UTC)
    with pytest.raises(RuleViolation, match="is in the future"):
        CareEpisode.open(
            uuid4(), b.envelope(now + timedelta(days=1), now=now), **b.referral()
        )


def test_an_occurred_at_before_the_episode_opened_is_refused():
    assert_refused(
        open_episode(),
        "record_diagnostic",
        b.mri(),
        "before the episode opened",
        occurred_at=b.at(-1),
    )


def test_an_event_recorded_late_may_predate_earlier_recorded_events():
    episode = open_episode()
    recorded(episode, "record_diagnostic", b.mri(), days=10)
    recorded(episode, "record_conservative_care", b.conservative_care(), days=5)
    assert [e.occurred_at for e in episode.entries[1:]] == [b.at(10), b.at(5)]
    assert episode.last_occurred_at == b.at(10)


def test_an_occurred_at_without_utc_offset_is_refused():
    assert_refused(
        open_episode(),
        "record_diagnostic",
        b.mri(),
        "has no UTC offset",
        occurred_at=datetime(2026, 3, 5, 9, 0),
    )


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("record_diagnostic", b.mri(kind="pet_scan"), "kind"),
        (
            "perform_intervention",
            b.esi(procedure="spinal_cord_stimulator"),
            "procedure",
        ),
        ("administer_biologic", b.prp(product="stem_cells"), "product"),
        ("record_outcome", b.outcome(instrument="vas"), "instrument"),
        ("refer_to_surgery", b.surgery_referral(urgency="asap"), "urgency"),
        ("screen_red_flags", b.screening(flags=["headache"]), "flags"),
        ("close", b.closure(reason="bored"), "reason"),
        (
            "receive_referral",
            b.further_referral(receiving_service="dentistry"),
            "receiving_service",
        ),
    ],
)
def test_an_unknown_enum_value_is_refused_listing_the_allowed_ones(
    command, body, field
):
    error = assert_refused(open_episode(), command, body, "is not one of:")
    assert error.field == field


def test_an_unknown_referrer_role_is_refused():
    with pytest.raises(RuleViolation, match=r"referrer\.role 'insurer' is not one of"):
        open_episode(referrer={"id": "x", "name": "X", "role": "insurer"})


def test_a_diagnostic_block_must_record_its_relief():
    assert_refused(
        open_episode(),
        "record_diagnostic",
        b.medial_branch_block(relief_percent=None),
        "must record relief_percent",
    )


def test_relief_is_refused_on_a_diagnostic_that_is_not_a_block():
    assert_refused(
        open_episode(),
        "record_diagnostic",
        b.mri(relief_percent=50),
        "applies to diagnostic blocks",
    )


def test_a_block_relief_over_100_percent_is_refused():
    assert_refused(
        open_episode(),
        "record_diagnostic",
        b.medial_branch_block(relief=120),
        "from 0 to 100",
    )


def test_an_unknown_spinal_level_is_refused():
    assert_refused(
        open_episode(),
        "record_diagnostic",
        b.mri(levels=["L9-L10"]),
        "is not a spinal level",
    )


def test_conservative_care_cannot_end_before_it_started():
    assert_refused(
        open_episode(),
        "record_conservative_care",
        b.conservative_care(started_on=date(2026, 3, 1), ended_on=date(2026, 2, 1)),
        "is before started_on",
    )


def test_conservative_care_cannot_start_after_it_was_recorded():
    assert_refused(
        open_episode(),
        "record_conservative_care",
        b.conservative_care(started_on=date(2026, 6, 1), ended_on=None),
        "is after the event occurred",
    )


def test_an_intervention_other_than_si_joint_must_name_its_levels():
    assert_refused(
        open_episode(), "perform_intervention", b.esi(levels=[]), "must name the levels"
    )
    episode = open_episode()
    recorded(
        episode,
        "perform_intervention",
        b.esi(procedure="si_joint_injection", region="sacroiliac", levels=[]),
    )
    assert episode.version == 2


def test_a_plan_needs_at_least_one_item():
    assert_refused(
        open_episode(), "plan_treatment", b.plan(items=[]), "at least one item"
    )


def test_an_outcome_must_follow_a_treatment_on_this_episode():
    episode = open_episode()
    recorded(episode, "record_diagnostic", b.mri())
    assert_refused(
        episode,
        "record_outcome",
        b.outcome(follows_version=2),
        "is not an intervention",
    )
    assert_refused(
        episode,
        "record_outcome",
        b.outcome(follows_version=9),
        "is not an intervention",
    )


def test_a_symptom_onset_after_the_referral_is_refused():
    with pytest.raises(RuleViolation, match=r"symptom_onset .* is after the referral"):
        open_episode(symptom_onset=date(2026, 3, 3))


@pytest.mark.parametrize("patient_id", ["", "pt 1", "x" * 129])
def test_a_malformed_patient_id_is_refused(patient_id):
    with pytest.raises(RuleViolation, match="patient_id"):
        open_episode(patient_id=patient_id)


# -- idempotency keys ---------------------------------------------------------


def test_an_applied_idempotency_key_answers_its_original_version():
    episode = open_episode()
    key = Idempotency("retry-1", "f1")
    episode.record_diagnostic(
        b.Envelope(b.SERVICE, b.at(1), datetime.now(UTC), key), **b.mri()
    )
    assert episode.replayed_version(key) == 2
    assert episode.replayed_version(Idempotency("other", "f1")) is None


def test_an_idempotency_key_reused_for_another_command_is_refused():
    episode = open_episode()
    episode.record_diagnostic(
        b.Envelope(b.SERVICE, b.at(1), datetime.now(UTC), Idempotency("k", "f1")),
        **b.mri(),
    )
    with pytest.raises(IdempotencyKeyReused, match="'k' was already used"):
        episode.replayed_version(Idempotency("k", "f2"))
