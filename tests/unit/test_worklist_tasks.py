"""Which tasks are open on an episode after each event: DOMAIN.md "Worklist tasks",
kind by kind (exact sets of (kind, point), due times from WorklistRules)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import commands as cmd
from tests.support import builders as b
from tests.unit.worklist_support import Walk, opening_tasks, treated


def screened(**referral) -> Walk:
    """An episode opened at T0 and screened clear on day 1."""
    return Walk(**referral).do(cmd.ScreenRedFlags, b.screening(), days=1)


# -- a new episode -------------------------------------------------------------------


def test_a_new_episode_from_primary_care_asks_for_screening_baseline_and_a_note():
    assert Walk().tasks() == opening_tasks()


def test_a_new_episode_is_due_a_screening_two_days_after_it_opened():
    row = Walk().row("screening_due")
    assert (row["opened_at"], row["due_at"]) == (b.at(0), b.at(2))
    assert (row["priority"], row["urgent_rank"]) == ("normal", 1)


def test_any_screening_closes_screening_due_even_one_reporting_a_flag():
    walk = Walk().do(cmd.ScreenRedFlags, b.screening(flags=["fracture"]), days=1)
    assert ("screening_due", "episode") not in walk.tasks()


# -- red flags -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "hours"),
    [
        ("cauda_equina", 4),
        ("infection", 6),
        ("fracture", 24),
        ("malignancy", 24),
        ("progressive_neuro_deficit", 24),
    ],
)
def test_a_referral_reporting_a_red_flag_opens_an_urgent_triage_due_by_its_hours(
    flag, hours
):
    row = Walk(red_flags=[flag]).row("red_flag_triage", flag)
    assert row["due_at"] == b.at(0, hours)
    assert (row["priority"], row["urgent_rank"]) == ("urgent", 0)


def test_a_screening_that_confirms_the_flag_keeps_the_triage_due_from_the_referral():
    walk = Walk(red_flags=["cauda_equina"])
    walk.do(cmd.ScreenRedFlags, b.screening(flags=["cauda_equina"]), hours=1)
    assert walk.row("red_flag_triage", "cauda_equina")["due_at"] == b.at(0, 4)


def test_a_screening_that_does_not_list_the_flag_rules_it_out_and_closes_triage():
    walk = Walk(red_flags=["cauda_equina"])
    walk.do(cmd.ScreenRedFlags, b.screening(), hours=1)
    assert walk.tasks() == (opening_tasks() - {("screening_due", "episode")}) | {
        ("diagnostics_due", "episode")
    }


def test_a_screening_reporting_two_flags_opens_one_triage_per_flag():
    walk = Walk().do(
        cmd.ScreenRedFlags, b.screening(flags=["infection", "fracture"]), days=1
    )
    triage = {t for t in walk.tasks() if t[0] == "red_flag_triage"}
    assert triage == {("red_flag_triage", "infection"), ("red_flag_triage", "fracture")}


@pytest.mark.parametrize("urgency", ["emergent", "urgent"])
def test_an_emergent_or_urgent_surgery_referral_answers_the_red_flag(urgency):
    walk = Walk(red_flags=["cauda_equina"])
    walk.do(cmd.ReferToSurgery, b.surgery_referral(urgency=urgency), hours=2)
    assert ("red_flag_triage", "cauda_equina") not in walk.tasks()


def test_an_elective_surgery_referral_leaves_the_red_flag_untriaged():
    walk = Walk(red_flags=["cauda_equina"])
    walk.do(cmd.ReferToSurgery, b.surgery_referral(urgency="elective"), hours=2)
    assert ("red_flag_triage", "cauda_equina") in walk.tasks()


def test_an_urgent_surgery_referral_before_the_flag_was_reported_does_not_answer_it():
    walk = Walk().do(cmd.ReferToSurgery, b.surgery_referral(urgency="urgent"), days=1)
    walk.do(cmd.ScreenRedFlags, b.screening(flags=["infection"]), days=3)
    assert walk.row("red_flag_triage", "infection")["due_at"] == b.at(3, 6)


def test_a_flag_ruled_out_and_reported_again_opens_a_new_triage_from_the_report():
    walk = Walk(red_flags=["infection"])
    walk.do(cmd.ScreenRedFlags, b.screening(), hours=1)
    walk.do(cmd.ScreenRedFlags, b.screening(flags=["infection"]), days=5)
    assert walk.row("red_flag_triage", "infection")["due_at"] == b.at(5, 6)


# -- baseline outcome ----------------------------------------------------------------


def test_the_baseline_outcome_is_due_seven_days_after_opening():
    assert Walk().row("baseline_outcome_due")["due_at"] == b.at(7)


def test_an_intervention_sooner_than_seven_days_brings_the_baseline_due_to_it():
    walk = Walk().do(cmd.PerformIntervention, b.esi(), days=3)
    assert walk.row("baseline_outcome_due")["due_at"] == b.at(3)


def test_an_outcome_before_the_first_treatment_closes_the_baseline_task():
    walk = Walk().do(cmd.RecordOutcome, b.outcome(), days=2)
    walk.do(cmd.AdministerBiologic, b.prp(), days=5)
    assert ("baseline_outcome_due", "episode") not in walk.tasks()


def test_an_outcome_only_after_the_first_treatment_leaves_the_baseline_missing():
    walk = Walk().do(cmd.PerformIntervention, b.esi(), days=3)
    walk.do(cmd.RecordOutcome, b.outcome(), days=4)
    assert walk.row("baseline_outcome_due")["due_at"] == b.at(3)


def test_a_late_recorded_outcome_from_before_the_treatment_closes_the_baseline():
    walk = Walk().do(cmd.PerformIntervention, b.esi(), days=3)
    walk.do(cmd.RecordOutcome, b.outcome(), days=1)
    assert ("baseline_outcome_due", "episode") not in walk.tasks()


# -- diagnostics and plan ------------------------------------------------------------


def test_a_screening_with_no_red_flag_asks_for_diagnostics_within_14_days():
    row = screened().row("diagnostics_due")
    assert (row["opened_at"], row["due_at"]) == (b.at(1), b.at(15))


def test_a_screening_with_a_red_flag_asks_for_no_diagnostics_yet():
    walk = Walk().do(cmd.ScreenRedFlags, b.screening(flags=["fracture"]), days=1)
    assert ("diagnostics_due", "episode") not in walk.tasks()


def test_an_mri_naming_the_generator_identifies_it_and_asks_for_a_plan_in_7_days():
    walk = screened().do(
        cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=4
    )
    assert ("diagnostics_due", "episode") not in walk.tasks()
    assert walk.row("plan_due", "radicular")["due_at"] == b.at(11)


@pytest.mark.parametrize(
    "diagnostic",
    [
        b.mri(),  # names no generator
        b.mri(
            kind="xray", pain_generator="discogenic"
        ),  # X-ray alone identifies nothing
        b.mri(pain_generator="nonspecific"),
        b.medial_branch_block(relief=90),  # payer profile: one block is not enough
    ],
)
def test_a_diagnostic_that_identifies_no_generator_leaves_diagnostics_due(diagnostic):
    walk = screened().do(cmd.RecordDiagnostic, diagnostic, days=4)
    assert ("diagnostics_due", "episode") in walk.tasks()
    assert not {t for t in walk.tasks() if t[0] == "plan_due"}


def test_two_positive_medial_branch_blocks_identify_facet_pain_from_the_second():
    walk = screened().do(cmd.RecordDiagnostic, b.medial_branch_block(85), days=4)
    walk.do(cmd.RecordDiagnostic, b.medial_branch_block(90), days=9)
    assert walk.row("plan_due", "facet")["opened_at"] == b.at(9)


def test_the_nhs_profile_identifies_facet_pain_on_one_block_of_50_percent():
    from projections.worklist import worklist_rules

    walk = Walk(worklist_rules("nhs")).do(cmd.ScreenRedFlags, b.screening(), days=1)
    walk.do(cmd.RecordDiagnostic, b.medial_branch_block(60), days=4)
    assert ("plan_due", "facet") in walk.tasks()


def test_a_plan_at_or_after_the_identification_closes_plan_due():
    walk = screened().do(cmd.RecordDiagnostic, b.mri(pain_generator="stenosis"), days=4)
    walk.do(cmd.PlanTreatment, b.plan(), days=4)
    assert not {t for t in walk.tasks() if t[0] in ("plan_due", "diagnostics_due")}


def test_a_plan_made_before_the_identification_does_not_close_its_plan_due():
    walk = screened().do(cmd.PlanTreatment, b.plan(), days=2)
    walk.do(cmd.RecordDiagnostic, b.mri(pain_generator="discogenic"), days=4)
    assert ("plan_due", "discogenic") in walk.tasks()


def test_a_second_generator_identified_after_the_plan_asks_for_its_own_plan():
    walk = screened().do(cmd.RecordDiagnostic, b.mri(pain_generator="stenosis"), days=4)
    walk.do(cmd.PlanTreatment, b.plan(), days=5)
    walk.do(cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=20)
    assert {t for t in walk.tasks() if t[0] == "plan_due"} == {
        ("plan_due", "radicular")
    }


# -- closure and assignment ----------------------------------------------------------


def test_closure_closes_every_task():
    walk = treated().do(cmd.ReferToSurgery, b.surgery_referral(), days=20)
    walk.do(cmd.CloseEpisode, b.closure(), days=30)
    assert walk.tasks() == set()


def test_tasks_carry_the_assignee_and_a_new_assignment_moves_every_task():
    walk = Walk().do(cmd.AssignClinician, b.assignment(), days=1)
    walk.do(
        cmd.AssignClinician,
        b.assignment(clinician_id="clin-bo", clinician_name="Bo"),
        days=2,
    )
    assignees = {(r["assignee"], r["assignee_name"]) for r in walk.rows().values()}
    assert assignees == {("clin-bo", "Bo")}


def test_a_late_recorded_earlier_assignment_does_not_take_the_work_back():
    walk = Walk().do(cmd.AssignClinician, b.assignment(), days=2)
    walk.do(
        cmd.AssignClinician,
        b.assignment(clinician_id="clin-bo", clinician_name="Bo"),
        days=1,
    )
    assert {r["assignee"] for r in walk.rows().values()} == {"clin-ana"}


def test_tasks_carry_the_patient_and_the_opening_referrer():
    rows = Walk(patient_id="pt-9").rows().values()
    assert {(r["patient_id"], r["referrer_id"]) for r in rows} == {("pt-9", "dr-pc-1")}


def test_a_task_has_the_same_id_in_every_fold_of_the_same_events():
    walk = treated()
    first = {k: r["task_id"] for k, r in walk.rows().items()}
    assert {k: r["task_id"] for k, r in walk.rows().items()} == first
    assert len(set(first.values())) == len(first)


def test_red_flag_hours_and_follow_up_points_are_parameters_of_the_rules():
    from dataclasses import replace

    from projections.worklist import RULES_V1, Due

    rules = replace(RULES_V1, triage_other=Due(timedelta(hours=12), "a test"))
    walk = Walk(rules, red_flags=["fracture"])
    assert walk.row("red_flag_triage", "fracture")["due_at"] == b.at(0, 12)
