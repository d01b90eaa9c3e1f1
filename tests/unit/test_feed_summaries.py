"""The one-line summary of every event type, exactly as a referring physician reads it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain import commands as cmd
from projections.physician_feed import feed_parameters
from tests.support import builders as b
from tests.unit.feed_support import after, last_summary

NHS = feed_parameters("nhs")

# -- referrals -------------------------------------------------------------------------


def test_the_opening_referral_says_a_new_episode_who_received_the_patient_and_why():
    episode = b.opened_episode()
    assert last_summary(episode) == (
        "New episode: spine surgery received the patient from Dr Primary "
        "(primary care): low back pain with left leg pain for 10 weeks"
    )


def test_an_opening_referral_names_the_red_flags_it_suspects():
    episode = b.opened_episode(
        receiving_service="emergency", red_flags=["cauda_equina", "infection"]
    )
    assert last_summary(episode) == (
        "New episode: the emergency department received the patient from Dr Primary "
        "(primary care): low back pain with left leg pain for 10 weeks; red flags "
        "suspected: cauda equina and infection"
    )


def test_a_later_referral_says_which_service_received_the_patient_from_whom():
    episode = b.opened_episode()
    summary = after(episode, cmd.ReceiveReferral, b.further_referral(), days=10)
    assert summary == (
        "Pain medicine received the patient from Dr Surgeon (spine surgery): "
        "insurer requires epidural injections before surgery"
    )


def test_a_long_reason_is_cut_to_one_line():
    reason = "leg pain\nworse at night " + "x" * 300
    episode = b.opened_episode(reason=reason)
    # 160 characters of it: 159 of the text on one line, and the ellipsis
    clipped = "leg pain worse at night " + "x" * 135 + "…"
    assert last_summary(episode) == (
        f"New episode: spine surgery received the patient from Dr Primary "
        f"(primary care): {clipped}"
    )


# -- red-flag screens ------------------------------------------------------------------


def test_a_screen_without_red_flags_says_so():
    episode = b.opened_episode()
    summary = after(episode, cmd.ScreenRedFlags, b.screening(), days=1)
    assert summary == "Red-flag screen: no red flags"


def test_a_screen_suspecting_cauda_equina_gives_its_disposition():
    episode = b.opened_episode()
    screen = b.screening(flags=["cauda_equina"], disposition="emergency_referral")
    summary = after(episode, cmd.ScreenRedFlags, screen, days=1)
    assert summary == "Red-flag screen: cauda equina suspected: emergency referral"


def test_a_screen_lists_several_flags_in_the_order_found():
    episode = b.opened_episode()
    screen = b.screening(flags=["infection", "fracture"], disposition="urgent_imaging")
    summary = after(episode, cmd.ScreenRedFlags, screen, days=1)
    assert (
        summary == "Red-flag screen: infection and fracture suspected: urgent imaging"
    )


def test_a_screen_that_does_not_list_a_suspected_flag_rules_it_out():
    episode = b.opened_episode(red_flags=["cauda_equina"])
    summary = after(episode, cmd.ScreenRedFlags, b.screening(), days=0, hours=2)
    assert summary == "Red-flag screen: no red flags; cauda equina ruled out"


# -- diagnostics -----------------------------------------------------------------------


def test_imaging_naming_no_pain_generator_says_so():
    episode = b.opened_episode()
    summary = after(episode, cmd.RecordDiagnostic, b.mri(), days=5)
    assert summary == "MRI lumbar L4-L5: no pain generator named"


def test_an_mri_naming_radicular_pain_identifies_it():
    episode = b.opened_episode()
    mri = b.mri(pain_generator="radicular")
    summary = after(episode, cmd.RecordDiagnostic, mri, days=5)
    assert summary == "MRI lumbar L4-L5: radicular pain identified"


def test_an_exam_naming_discogenic_pain_says_it_needs_imaging():
    episode = b.opened_episode()
    exam = b.mri(kind="physical_exam", levels=[], pain_generator="discogenic")
    summary = after(episode, cmd.RecordDiagnostic, exam, days=5)
    assert summary == (
        "Physical exam lumbar: discogenic pain named, not yet identified: "
        "needs MRI or CT confirmation"
    )


def test_an_xray_naming_radicular_pain_says_which_tests_would_confirm_it():
    episode = b.opened_episode()
    xray = b.mri(kind="xray", pain_generator="radicular")
    summary = after(episode, cmd.RecordDiagnostic, xray, days=5)
    assert summary == (
        "X-ray lumbar L4-L5: radicular pain named, not yet identified: "
        "needs MRI, CT or EMG/NCS confirmation"
    )


def test_a_first_positive_facet_block_counts_towards_the_two_the_payer_needs():
    episode = b.opened_episode()
    summary = after(episode, cmd.RecordDiagnostic, b.medial_branch_block(85), days=5)
    assert summary == (
        "Medial branch block lumbar L4-L5, relief 85 %: facet pain named, not yet "
        "identified: 1 of 2 medial branch blocks with ≥ 80 % relief at L4-L5"
    )


def test_a_second_positive_facet_block_identifies_facet_pain():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(85), days=5)
    summary = after(episode, cmd.RecordDiagnostic, b.medial_branch_block(90), days=12)
    assert (
        summary
        == "Medial branch block lumbar L4-L5, relief 90 %: facet pain identified"
    )


def test_one_block_of_60_percent_identifies_facet_pain_on_the_nhs_profile():
    episode = b.opened_episode()
    block = b.medial_branch_block(60)
    summary = after(episode, cmd.RecordDiagnostic, block, days=5, parameters=NHS)
    assert (
        summary
        == "Medial branch block lumbar L4-L5, relief 60 %: facet pain identified"
    )


def test_a_block_below_the_threshold_says_so_and_counts_for_nothing():
    episode = b.opened_episode()
    summary = after(episode, cmd.RecordDiagnostic, b.medial_branch_block(60), days=5)
    assert summary == (
        "Medial branch block lumbar L4-L5, relief 60 % (below the 80 % threshold): "
        "facet pain named, not yet identified: 0 of 2 medial branch blocks with "
        "≥ 80 % relief at L4-L5"
    )


def test_a_block_that_names_nothing_may_complete_facet_pain_named_earlier():
    episode = b.opened_episode()
    exam = b.mri(kind="physical_exam", pain_generator="facet")
    b.record(episode, cmd.RecordDiagnostic, exam, days=3)
    unnamed = b.medial_branch_block(90, pain_generator=None)
    b.record(episode, cmd.RecordDiagnostic, unnamed, days=5)
    summary = after(episode, cmd.RecordDiagnostic, unnamed, days=12)
    assert summary == (
        "Medial branch block lumbar L4-L5, relief 90 %: facet pain now identified"
    )


def test_a_positive_si_joint_block_identifies_sacroiliac_joint_pain():
    episode = b.opened_episode()
    block = b.medial_branch_block(
        80, kind="si_joint_block", region="sacroiliac", levels=[],
        pain_generator="sacroiliac",
    )  # fmt: skip
    summary = after(episode, cmd.RecordDiagnostic, block, days=5)
    assert (
        summary
        == "SI joint block sacroiliac, relief 80 %: sacroiliac joint pain identified"
    )


def test_an_si_joint_block_under_75_percent_identifies_nothing():
    episode = b.opened_episode()
    block = b.medial_branch_block(
        70, kind="si_joint_block", region="sacroiliac", levels=[],
        pain_generator="sacroiliac",
    )  # fmt: skip
    summary = after(episode, cmd.RecordDiagnostic, block, days=5)
    assert summary == (
        "SI joint block sacroiliac, relief 70 % (below the 75 % threshold): "
        "sacroiliac joint pain named, not yet identified: needs an SI joint block "
        "with ≥ 75 % relief"
    )


def test_nonspecific_pain_is_never_an_identification():
    episode = b.opened_episode()
    exam = b.mri(kind="physical_exam", levels=[], pain_generator="nonspecific")
    summary = after(episode, cmd.RecordDiagnostic, exam, days=5)
    assert summary == (
        "Physical exam lumbar: nonspecific pain, no pain generator identified"
    )


def test_an_exam_identifies_myofascial_pain_on_its_own():
    episode = b.opened_episode()
    exam = b.mri(kind="physical_exam", levels=[], pain_generator="myofascial")
    summary = after(episode, cmd.RecordDiagnostic, exam, days=5)
    assert summary == "Physical exam lumbar: myofascial pain identified"


# -- conservative care, plans, procedures, biologics --------------------------------------


def test_a_course_of_conservative_care_gives_its_dates_sessions_and_response():
    episode = b.opened_episode()
    summary = after(episode, cmd.RecordConservativeCare, b.conservative_care(), days=44)
    assert summary == (
        "Physical therapy from 2026-03-03 to 2026-04-14, 12 sessions: improved"
    )


def test_an_ongoing_course_without_sessions_or_response_says_ongoing():
    episode = b.opened_episode()
    course = b.conservative_care(
        modality="exercise", ended_on=None, sessions=None, response=None
    )
    summary = after(episode, cmd.RecordConservativeCare, course, days=5)
    assert summary == "Exercise programme from 2026-03-03, ongoing"


def test_a_plan_gives_its_items_goals_and_the_regenerative_option():
    episode = b.opened_episode()
    summary = after(episode, cmd.PlanTreatment, b.plan(), days=5)
    assert summary == (
        "Plan: biologic (PRP to L4-L5 facets); goals: ODI below 20 and return to "
        "work; regenerative option recommended"
    )


def test_a_plan_lists_every_item_and_a_declined_regenerative_option():
    episode = b.opened_episode()
    plan = b.plan(
        items=[
            {"kind": "conservative_care", "detail": "PT twice weekly"},
            {"kind": "intervention", "detail": "L5-S1 ESI"},
        ],
        goals="walk 2 km",
        regenerative_option="offered_declined",
    )
    summary = after(episode, cmd.PlanTreatment, plan, days=5)
    assert summary == (
        "Plan: conservative care (PT twice weekly), intervention (L5-S1 ESI); "
        "goals: walk 2 km; regenerative option offered and declined"
    )


def test_an_intervention_says_what_where_which_side_and_guidance():
    episode = b.opened_episode()
    summary = after(episode, cmd.PerformIntervention, b.esi(), days=5)
    assert summary == "Epidural steroid injection lumbar L5-S1, left, image-guided"


def test_an_intervention_without_image_guidance_says_so():
    episode = b.opened_episode()
    rfa = b.rfa(image_guided=False, levels=["L4-L5", "L5-S1"])
    summary = after(episode, cmd.PerformIntervention, rfa, days=5)
    assert summary == (
        "Radiofrequency ablation lumbar L4-L5, L5-S1, bilateral, without image guidance"
    )


def test_a_biologic_gives_product_volume_target_levels_and_lot():
    episode = b.opened_episode()
    summary = after(episode, cmd.AdministerBiologic, b.prp(), days=5)
    assert summary == (
        "PRP 4.5 ml to L4-L5 facet joints (L4-L5), image-guided; lot PRP-2026-0412"
    )


def test_a_bone_marrow_concentrate_without_levels_or_guidance():
    episode = b.opened_episode()
    biologic = b.prp(
        product="bone_marrow_concentrate",
        target="left SI joint",
        levels=[],
        volume_ml=Decimal(10),
        lot_number="BMC-7",
        image_guided=False,
    )
    summary = after(episode, cmd.AdministerBiologic, biologic, days=5)
    assert summary == (
        "Bone marrow concentrate 10 ml to left SI joint, without image guidance; "
        "lot BMC-7"
    )


# -- consult notes, assignments, closure ------------------------------------------------


def test_a_consult_note_says_to_whom_and_what():
    episode = b.opened_episode()
    summary = after(episode, cmd.SendConsultNote, b.consult_note(), days=5)
    assert (
        summary
        == "Consult note to dr-pc-1: facet pain confirmed by blocks; PRP planned"
    )


def test_an_assignment_names_the_clinician():
    episode = b.opened_episode()
    summary = after(episode, cmd.AssignClinician, b.assignment(), days=1)
    assert summary == "Assigned to Ana Clinician"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("resolved", "Episode closed: resolved"),
        ("surgery", "Episode closed: the patient went to surgery"),
        ("transferred", "Episode closed: transferred"),
        ("lost_to_follow_up", "Episode closed: lost to follow-up"),
        ("declined", "Episode closed: the patient declined further care"),
    ],
)
def test_a_closure_says_why_the_episode_ended(reason, expected):
    episode = b.opened_episode()
    summary = after(episode, cmd.CloseEpisode, b.closure(reason=reason), days=30)
    assert summary == expected


# -- surgery referrals -------------------------------------------------------------------


def test_a_surgery_referral_with_every_door_open_shows_the_checklist():
    episode = b.opened_episode(receiving_service="pain_medicine")
    b.record(episode, cmd.RecordDiagnostic, b.mri(), days=2)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(85), days=5)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(90), days=12)
    b.record(episode, cmd.RecordConservativeCare, b.conservative_care(), days=44)
    b.record(episode, cmd.PlanTreatment, b.plan(), days=45)
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=60)
    assert summary == (
        "Elective surgery referral to Dr Surgeon for fusion (failed conservative "
        "care): persistent pain after ESIs; patient requests surgical opinion. "
        "Doors opened: ✓ 6 weeks of conservative care; ✓ MRI on 2026-03-04; "
        "✓ facet pain identified; ✓ regenerative option recommended; "
        "no red flag standing"
    )


def test_a_surgery_referral_with_no_door_open_marks_each_one_shut():
    episode = b.opened_episode()
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=10)
    assert summary == (
        "Elective surgery referral to Dr Surgeon for fusion (failed conservative "
        "care): persistent pain after ESIs; patient requests surgical opinion. "
        "Doors opened: ✗ no conservative care documented; ✗ no MRI or CT in the "
        "6 months before; ✗ no pain generator identified; ✗ no regenerative option "
        "documented; no red flag standing"
    )


def test_an_emergent_referral_shows_the_red_flag_standing():
    episode = b.opened_episode()
    screen = b.screening(flags=["cauda_equina"], disposition="emergency_referral")
    b.record(episode, cmd.ScreenRedFlags, screen, days=1)
    referral = b.surgery_referral(
        urgency="emergent",
        intent="decompression",
        indication="red_flag",
        justification="saddle anaesthesia and urinary retention.",
    )
    summary = after(episode, cmd.ReferToSurgery, referral, days=1, hours=1)
    assert summary == (
        "Emergent surgery referral to Dr Surgeon for decompression (red flag): "
        "saddle anaesthesia and urinary retention. Doors opened: ✗ no conservative "
        "care documented; ✗ no MRI or CT in the 6 months before; ✗ no pain "
        "generator identified; ✗ no regenerative option documented; red flag "
        "standing: cauda equina"
    )


def doors(summary: str) -> list[str]:
    return summary.split("Doors opened: ")[1].split("; ")


def test_imaging_older_than_six_calendar_months_opens_no_door():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(), days=1)  # 2026-03-03
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=220)
    assert doors(summary)[1] == "✗ no MRI or CT in the 6 months before"


def test_an_xray_is_no_imaging_for_a_surgery_referral():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(kind="xray"), days=1)
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=20)
    assert doors(summary)[1] == "✗ no MRI or CT in the 6 months before"


def test_imaging_recorded_after_the_referral_opens_no_door_for_it():
    episode = b.opened_episode()
    b.record(episode, cmd.ReferToSurgery, b.surgery_referral(), days=20)
    b.record(episode, cmd.RecordDiagnostic, b.mri(), days=19)  # a late record
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=10)
    assert doors(summary)[1] == "✗ no MRI or CT in the 6 months before"


def test_four_weeks_of_conservative_care_leave_that_door_shut():
    episode = b.opened_episode()
    course = b.conservative_care(
        started_on=date(2026, 3, 3), ended_on=date(2026, 3, 30)
    )
    b.record(episode, cmd.RecordConservativeCare, course, days=30)
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=40)
    assert doors(summary)[0] == "✗ 4 weeks of conservative care"


def test_a_few_days_of_conservative_care_are_counted_in_days():
    episode = b.opened_episode()
    course = b.conservative_care(started_on=date(2026, 3, 3), ended_on=date(2026, 3, 7))
    b.record(episode, cmd.RecordConservativeCare, course, days=6)
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=10)
    assert doors(summary)[0] == "✗ 5 days of conservative care"


def test_a_biologic_given_opens_the_regenerative_door():
    episode = b.opened_episode()
    b.record(episode, cmd.AdministerBiologic, b.prp(), days=5)
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=60)
    assert doors(summary)[3] == "✓ PRP given"


def test_a_regenerative_option_not_indicated_opens_no_door():
    episode = b.opened_episode()
    b.record(episode, cmd.PlanTreatment, b.plan(regenerative_option="not_indicated"), 5)
    summary = after(episode, cmd.ReferToSurgery, b.surgery_referral(), days=60)
    assert doors(summary)[3] == "✗ regenerative option not indicated"


def test_an_urgent_consult_referral_names_its_surgeon_urgency_and_intent():
    episode = b.opened_episode()
    referral = b.surgery_referral(
        surgeon={"id": "dr-ss-2", "name": "Ms Spine"},
        urgency="urgent",
        intent="consult",
    )
    summary = after(episode, cmd.ReferToSurgery, referral, days=10)
    assert summary.startswith(
        "Urgent surgery referral to Ms Spine for a surgical consult (failed "
        "conservative care): persistent pain after ESIs; patient requests surgical "
        "opinion. Doors opened: "
    )
