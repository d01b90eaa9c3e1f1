"""Referral-loop audit R1-R2: the surgeon-injection-surgeon loop and the workup."""

from __future__ import annotations

from domain import commands as cmd
from tests.support import builders as b
from tests.unit.audit_support import (
    audit,
    findings,
    fired,
    red_flag_then_urgent_referral,
    referred,
)


def surgeon_then_pain_medicine():
    """Primary care sends the patient to a surgeon, who sends them for an ESI."""
    episode = b.opened_episode()
    b.record(episode, cmd.ReceiveReferral, b.further_referral(), days=7)
    return b.record(episode, cmd.PerformIntervention, b.esi(), days=14)


# -- R1 surgeon_pain_surgeon_loop ------------------------------------------------


def test_r1_fires_when_the_surgeon_sends_for_injections_and_they_come_back_to_surgery():
    episode = referred(surgeon_then_pain_medicine())

    [finding] = findings(episode, "R1")

    assert finding["at_version"] == 4
    assert finding["severity"] == "high"
    assert "no pain generator identified" in finding["detail"]


def test_r1_counts_an_esi_as_pain_medicine_without_a_referral_there():
    episode = b.opened_episode()
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    referred(episode)

    assert [f["at_version"] for f in findings(episode, "R1")] == [3]


def test_r1_counts_a_diagnostic_block_as_pain_medicine():
    episode = b.opened_episode()
    negative = b.medial_branch_block(30, pain_generator=None)
    b.record(episode, cmd.RecordDiagnostic, negative, days=14)
    referred(episode)

    # a diagnostic block is no injection: neither R4 nor R8 fires
    assert fired(episode) == {"R1", "R2", "R3", "R10"}


def test_r1_counts_a_referral_from_a_surgeon_as_a_visit_to_one():
    episode = b.opened_episode(
        referrer={"id": "dr-ss-1", "name": "Dr Surgeon", "role": "spine_surgery"},
        receiving_service="pain_medicine",
    )
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    referred(episode)

    # a surgeon, not primary care, referred: no consult note is owed (no R10)
    assert fired(episode) == {"R1", "R2", "R3", "R4", "R8"}


def test_r1_is_not_fired_when_a_pain_generator_was_identified_before_the_referral():
    episode = surgeon_then_pain_medicine()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=59)
    referred(episode)

    assert findings(episode, "R1") == []


def test_r1_fires_when_the_pain_generator_is_identified_only_after_the_referral():
    episode = referred(surgeon_then_pain_medicine())
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=61)

    # the late MRI answers neither R1 nor R2 either
    assert fired(episode) == {"R1", "R2", "R3", "R4", "R8", "R10"}


def test_r1_a_facet_generator_named_on_an_mri_alone_is_not_identified():
    episode = surgeon_then_pain_medicine()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="facet"), days=30)
    referred(episode)

    assert fired(episode) == {"R1", "R2", "R3", "R4", "R8", "R10"}


def test_r1_two_positive_medial_branch_blocks_identify_a_facet_generator():
    episode = surgeon_then_pain_medicine()
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(85), days=30)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(90), days=40)
    referred(episode)

    assert findings(episode, "R1") == []


def test_r1_a_nonspecific_pain_generator_does_not_count_as_identified():
    episode = surgeon_then_pain_medicine()
    b.record(
        episode, cmd.RecordDiagnostic, b.mri(pain_generator="nonspecific"), days=30
    )
    referred(episode)

    assert fired(episode) == {"R1", "R2", "R3", "R4", "R8", "R10"}


def test_r1_is_not_fired_when_pain_medicine_came_before_any_surgeon():
    episode = b.opened_episode(receiving_service="pain_medicine")
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    referred(episode)

    assert findings(episode, "R1") == []


def test_r1_is_not_fired_when_pain_medicine_sent_the_patient_to_a_surgeon():
    # given pain medicine first, then a surgeon, with no injection in between
    episode = b.opened_episode(receiving_service="pain_medicine")
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    to_surgeon = b.further_referral(
        referrer={"id": "dr-pm-1", "name": "Dr Pain", "role": "pain_medicine"},
        receiving_service="spine_surgery",
    )
    b.record(episode, cmd.ReceiveReferral, to_surgeon, days=30)
    # when the surgeon refers for surgery
    referred(episode)
    # then it is a stepped pathway, not a loop back to surgery
    assert findings(episode, "R1") == []


def test_r1_is_exempt_with_a_red_flag_and_an_urgent_surgery_referral():
    episode = red_flag_then_urgent_referral(surgeon_then_pain_medicine(), days=50)

    row = audit(episode)

    assert row["red_flag_exempt"] is True
    assert [f for f in row["findings"] if f["rule"] == "R1"] == []


def test_r1_applies_to_a_red_flag_episode_referred_only_electively():
    episode = surgeon_then_pain_medicine()
    b.record(episode, cmd.ScreenRedFlags, b.screening(flags=["fracture"]), days=50)
    referred(episode)

    # rule set v1: the red flag spares the elective referral R3, and only R3
    assert fired(episode) == {"R1", "R2", "R4", "R8", "R10"}


# -- R2 surgery_without_workup ---------------------------------------------------


def test_r2_fires_on_an_elective_referral_with_no_imaging_and_no_pain_generator():
    episode = referred(b.opened_episode())

    [finding] = findings(episode, "R2")

    assert finding["at_version"] == 2
    assert "no imaging in the 182 days before it" in finding["detail"]
    assert "no pain generator identified" in finding["detail"]


def test_r2_is_not_fired_by_imaging_182_days_before_that_found_the_generator():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=1)
    referred(episode, days=183)

    assert findings(episode, "R2") == []


def test_r2_fires_when_the_imaging_is_183_days_old():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=1)
    referred(episode, days=184)

    [finding] = findings(episode, "R2")

    assert "no imaging" in finding["detail"]
    assert "no pain generator" not in finding["detail"]


def test_r2_fires_on_imaging_that_identified_no_pain_generator():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(), days=30)
    referred(episode)

    [finding] = findings(episode, "R2")

    assert finding["detail"].endswith("with no pain generator identified")


def test_r2_a_facet_generator_is_identified_only_at_its_second_positive_block():
    # given an MRI naming facet pain and one positive block before the referral
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="facet"), days=10)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(85), days=30)
    # when the referral comes before the second block
    referred(episode, days=35)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(90), days=40)
    # then nothing was identified when the patient was referred
    [finding] = findings(episode, "R2")
    assert finding["detail"].endswith("no pain generator identified")


def test_r2_does_not_judge_an_urgent_referral():
    episode = referred(b.opened_episode(), urgency="urgent")

    assert findings(episode, "R2") == []


def test_r2_is_exempt_with_a_red_flag_and_an_urgent_surgery_referral():
    episode = red_flag_then_urgent_referral(b.opened_episode(), days=10)
    referred(episode, days=60)

    assert findings(episode, "R2") == []
