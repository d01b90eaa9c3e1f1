"""Tasks that wait on an answer from outside the episode's first weeks: follow-up
outcomes after treatments, consult notes to physicians, surgical consults."""

from __future__ import annotations

import pytest

from domain import commands as cmd
from tests.support import builders as b
from tests.unit.worklist_support import Walk, opening_tasks, treated

SURGEON = {"id": "dr-ss-1", "name": "Dr Surgeon", "role": "spine_surgery"}
PAIN = {"id": "dr-pm-1", "name": "Dr Pain", "role": "pain_medicine"}
CONCIERGE = {"id": "dr-cc-1", "name": "Dr Concierge", "role": "concierge"}

# -- follow-ups ----------------------------------------------------------------------

BIOLOGIC_POINTS = {"2w": 14, "6w": 42, "3m": 90, "6m": 180, "12m": 365}


def follow_ups(walk: Walk) -> set[str]:
    return {point for kind, point in walk.tasks() if kind == "outcome_due"}


def test_a_biologic_opens_a_follow_up_at_2_weeks_6_weeks_3_6_and_12_months():
    rows = treated().rows()
    due = {
        p: rows[("outcome_due", p)]["due_at"]
        for p in ("3:" + k for k in BIOLOGIC_POINTS)
    }
    assert due == {f"3:{k}": b.at(10 + d) for k, d in BIOLOGIC_POINTS.items()}


def test_a_follow_up_carries_the_window_in_which_an_outcome_answers_it():
    row = treated().row("outcome_due", "3:6w")
    assert (row["window_start"], row["window_end"]) == (b.at(38), b.at(67))


def test_an_intervention_opens_one_follow_up_at_6_weeks():
    walk = Walk().do(cmd.PerformIntervention, b.esi(), days=5)
    assert follow_ups(walk) == {"2:6w"}
    assert walk.row("outcome_due", "2:6w")["due_at"] == b.at(47)


@pytest.mark.parametrize(
    ("day", "answered"),
    [
        (6, None),
        (7, "2w"),
        (21, "2w"),
        (22, None),
        (28, "6w"),
        (56, "6w"),
        (60, "3m"),
        (120, "3m"),
        (150, "6m"),
        (210, "6m"),
        (300, "12m"),
        (420, "12m"),
        (421, None),
    ],
)
def test_an_outcome_in_one_window_closes_exactly_that_follow_up(day, answered):
    walk = treated().do(cmd.RecordOutcome, b.outcome(score=30), days=10 + day, hours=5)
    expected = {f"3:{k}" for k in BIOLOGIC_POINTS} - {f"3:{answered}"}
    assert follow_ups(walk) == expected


def test_an_outcome_naming_the_treatment_closes_its_follow_up():
    walk = treated().do(cmd.RecordOutcome, b.outcome(follows_version=3), days=52)
    assert "3:6w" not in follow_ups(walk)


def test_an_outcome_naming_another_treatment_leaves_the_follow_up_open():
    walk = treated().do(cmd.PerformIntervention, b.esi(), days=20)  # version 4
    walk.do(cmd.RecordOutcome, b.outcome(follows_version=4), days=52)
    assert "3:6w" in follow_ups(walk)
    assert "4:6w" not in follow_ups(walk)


def test_follow_ups_are_normal_priority_and_escalate_once_overdue():
    row = treated().row("outcome_due", "3:2w")
    assert (row["priority"], row["escalates"]) == ("normal", True)
    assert treated().row("screening_due")["escalates"] is False


# -- consult notes and surgical consults --------------------------------------------


def test_a_primary_care_referral_asks_for_a_consult_note_to_it_within_14_days():
    row = Walk().row("consult_note_due", "dr-pc-1")
    assert (row["opened_at"], row["due_at"]) == (b.at(0), b.at(14))


def test_a_referral_from_pain_medicine_asks_for_no_consult_note():
    walk = Walk(referrer=PAIN)
    assert walk.tasks() == opening_tasks() - {("consult_note_due", "dr-pc-1")}


def test_a_consult_note_to_the_referrer_closes_its_task_and_only_its_task():
    walk = Walk().do(
        cmd.ReceiveReferral, b.further_referral(referrer=CONCIERGE), days=2
    )
    walk.do(cmd.SendConsultNote, b.consult_note(to_physician_id="dr-cc-1"), days=5)
    notes = {t for t in walk.tasks() if t[0] == "consult_note_due"}
    assert notes == {("consult_note_due", "dr-pc-1")}


def test_a_note_before_a_second_referral_leaves_that_referral_waiting_for_one():
    walk = Walk().do(cmd.SendConsultNote, b.consult_note(), days=5)
    pc = {"id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"}
    walk.do(cmd.ReceiveReferral, b.further_referral(referrer=pc), days=30)
    assert walk.row("consult_note_due", "dr-pc-1")["due_at"] == b.at(44)


def test_a_surgery_referral_asks_for_a_note_to_the_surgeon_and_waits_for_the_consult():
    walk = Walk().do(cmd.ReferToSurgery, b.surgery_referral(), days=20)
    assert walk.row("consult_note_due", "dr-ss-1")["due_at"] == b.at(34)
    assert walk.row("surgical_consult_pending", "dr-ss-1")["due_at"] == b.at(50)


def test_a_referral_back_from_spine_surgery_after_it_closes_the_pending_consult():
    walk = Walk().do(cmd.ReferToSurgery, b.surgery_referral(), days=20)
    walk.do(cmd.ReceiveReferral, b.further_referral(referrer=SURGEON), days=40)
    assert ("surgical_consult_pending", "dr-ss-1") not in walk.tasks()


def test_a_referral_from_spine_surgery_before_the_surgery_referral_does_not_close_it():
    walk = Walk(referrer=SURGEON).do(cmd.ReferToSurgery, b.surgery_referral(), days=20)
    assert ("surgical_consult_pending", "dr-ss-1") in walk.tasks()


def test_a_referral_from_another_service_does_not_close_the_pending_consult():
    walk = Walk().do(cmd.ReferToSurgery, b.surgery_referral(), days=20)
    walk.do(cmd.ReceiveReferral, b.further_referral(referrer=PAIN), days=40)
    assert ("surgical_consult_pending", "dr-ss-1") in walk.tasks()
