"""Rule set v2, R1-R4 and the red-flag exemption: what the clinician reviewer found.

Each v2 change has a scenario that fires, one that just misses and, where it
applies, the exemption; every test asserts the exact set of rules on the row,
on both block profiles.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain import commands as cmd
from tests.support import builders as b
from tests.unit.audit_support import (
    PROFILES,
    audit_v2,
    findings_v2,
    fired_v2,
    loop_episode,
    referred,
    worked_up,
)


@pytest.fixture(params=PROFILES)
def profile(request) -> str:
    return request.param


def rules_of(row: dict) -> set[str]:
    return {f["rule"] for f in row["findings"]}


def screened(episode, days: float, *flags: str):
    body = b.screening(
        flags=list(flags), disposition="urgent_imaging" if flags else "none"
    )
    return b.record(episode, cmd.ScreenRedFlags, body, days=days)


# -- the loop, and the base every scenario starts from ---------------------------------


def test_the_loop_without_workup_or_care_is_r1_to_r4(profile):
    episode = referred(loop_episode(), 70)
    assert fired_v2(episode, profile=profile) == {"R1", "R2", "R3", "R4"}


def test_the_loop_with_an_mri_generator_and_care_is_clean(profile):
    episode = referred(worked_up(loop_episode()), 70)
    assert fired_v2(episode, profile=profile) == set()


# -- 1. the exemption is per surgery referral -------------------------------------------


def fracture_later(episode):
    """A fracture found on day 120 and an urgent referral for it on day 121."""
    screened(episode, 120, "fracture")
    return referred(episode, 121, urgency="urgent", indication="red_flag")


def test_a_later_red_flag_referral_does_not_erase_findings_on_an_earlier_one(profile):
    episode = fracture_later(referred(loop_episode(), 60))
    row = audit_v2(episode, profile=profile)
    first, second = row["surgery_referrals"]
    assert {f["rule"]: f["at_version"] for f in row["findings"]} == {
        "R1": first["at_version"],
        "R2": first["at_version"],
        "R3": first["at_version"],
        "R4": first["at_version"],
    }
    assert (first["red_flag_exempt"], second["red_flag_exempt"]) == (False, True)
    assert first["findings"] == ["R1", "R2", "R3", "R4"] and second["findings"] == []
    assert row["red_flag_exempt"] is False


def test_an_episode_whose_only_referral_is_exempt_is_red_flag_exempt(profile):
    row = audit_v2(fracture_later(loop_episode()), profile=profile)
    assert rules_of(row) == set() and row["red_flag_exempt"] is True
    [referral] = row["surgery_referrals"]
    assert referral["red_flags"] == ["fracture"]


def test_an_episode_without_surgery_referrals_is_not_red_flag_exempt(profile):
    row = audit_v2(screened(loop_episode(), 3, "fracture"), profile=profile)
    assert row["red_flag_exempt"] is False and row["surgery_referrals"] == []


# -- 2. a referral's red flag ruled out by a screen ------------------------------------


def suspected_fracture():
    """The referral suspects a fracture; the urgent surgery referral comes on day 70."""
    return loop_episode(red_flags=["fracture"])


def test_a_suspicion_ruled_out_by_a_screen_exempts_no_urgent_referral(profile):
    episode = referred(screened(suspected_fracture(), 3), 70, urgency="urgent")
    row = audit_v2(episode, profile=profile)
    assert rules_of(row) == {"R1", "R2", "R3", "R4"}
    assert row["surgery_referrals"][0]["red_flags"] == []


def test_a_suspicion_no_screen_has_answered_still_stands_and_exempts(profile):
    episode = referred(suspected_fracture(), 70, urgency="urgent")
    row = audit_v2(episode, profile=profile)
    assert rules_of(row) == set() and row["red_flag_exempt"] is True


def test_a_suspicion_a_screen_confirmed_exempts_the_urgent_referral(profile):
    episode = referred(
        screened(suspected_fracture(), 3, "fracture"), 70, urgency="urgent"
    )
    assert fired_v2(episode, profile=profile) == set()


def test_a_suspicion_ruled_out_still_leaves_r3_on_an_elective_referral(profile):
    episode = worked_up(screened(suspected_fracture(), 3), care_from=date(2026, 4, 20))
    referred(episode, 70)
    assert fired_v2(episode, profile=profile) == {"R3"}


# -- 3. the evidence must fit the generator --------------------------------------------


def exam_named(episode, generator: str = "radicular", day: float = 20):
    body = b.mri(
        kind="physical_exam", pain_generator=generator, findings="positive SLR"
    )
    return b.record(episode, cmd.RecordDiagnostic, body, days=day)


def test_a_generator_named_on_an_exam_alone_satisfies_neither_r1_nor_r2(profile):
    episode = referred(exam_named(loop_episode()), 70)
    assert fired_v2(episode, profile=profile) == {"R1", "R2", "R3", "R4"}


def test_an_mri_confirming_the_exam_satisfies_r1_and_r2(profile):
    episode = exam_named(loop_episode())
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=30)
    referred(episode, 70)
    assert fired_v2(episode, profile=profile) == {"R3", "R4"}


def test_a_myofascial_generator_on_an_exam_is_identified_but_r2_wants_imaging(profile):
    episode = referred(exam_named(loop_episode(), "myofascial"), 70)
    [r2] = findings_v2(episode, "R2", profile=profile)
    assert fired_v2(episode, profile=profile) == {"R2", "R3", "R4"}
    assert "no pain generator" not in r2["detail"]


# -- 4. R1: a generator identified between the surgeon visit and the referral ---------


def identified_first():
    """The MRI names radicular pain on day 1, before the surgeon refers to pain medicine."""
    episode = b.opened_episode(insurance_mandated=True)
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=1)
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=2)
    b.record(episode, cmd.ReceiveReferral, b.further_referral(), days=7)
    b.record(episode, cmd.RecordOutcome, b.outcome(score=46), days=8)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    follow_up = b.outcome(score=40, follows_version=episode.version)
    b.record(episode, cmd.RecordOutcome, follow_up, days=56)
    care = b.conservative_care(started_on=date(2026, 3, 3), ended_on=date(2026, 4, 30))
    return b.record(episode, cmd.RecordConservativeCare, care, days=65)


def test_the_insurer_mandated_esi_detour_with_a_known_generator_is_r1(profile):
    episode = referred(identified_first(), 70)
    [r1] = findings_v2(episode, "R1", profile=profile)
    assert fired_v2(episode, profile=profile) == {"R1"}
    assert "no pain generator identified in between" in r1["detail"]


def test_a_generator_identified_after_the_surgeon_visit_answers_r1(profile):
    episode = identified_first()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=60)
    referred(episode, 70)
    assert fired_v2(episode, profile=profile) == set()


def test_r1_counts_from_the_latest_surgeon_visit_with_pain_medicine_after_it(profile):
    # surgeon (day 0) -> ESI (14) -> surgery referral (70, looped) -> ESI (80)
    # -> surgery referral (100): the second loop starts at the first referral
    episode = referred(worked_up(loop_episode()), 70)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=80)
    follow_up = b.outcome(score=30, follows_version=episode.version)
    b.record(episode, cmd.RecordOutcome, follow_up, days=122)
    referred(episode, 130)
    row = audit_v2(episode, profile=profile)
    [r1] = [f for f in row["findings"] if f["rule"] == "R1"]
    assert rules_of(row) == {"R1"}
    assert r1["at_version"] == row["surgery_referrals"][1]["at_version"]


# -- 10. urgency alone exempts nothing --------------------------------------------------


def test_an_urgent_referral_without_a_red_flag_is_judged_by_r2_to_r4(profile):
    episode = referred(loop_episode(), 70, urgency="urgent")
    assert fired_v2(episode, profile=profile) == {"R1", "R2", "R3", "R4"}


def test_an_emergent_referral_while_a_red_flag_stands_is_exempt(profile):
    episode = screened(loop_episode(), 69, "progressive_neuro_deficit")
    referred(episode, 70, urgency="emergent", indication="progressive_deficit")
    assert fired_v2(episode, profile=profile) == set()


def test_an_elective_referral_while_a_red_flag_stands_is_not_exempt(profile):
    episode = referred(screened(loop_episode(), 69, "fracture"), 70)
    assert fired_v2(episode, profile=profile) == {"R1", "R2", "R3", "R4"}


# -- R2's window: 6 calendar months, MRI or CT ------------------------------------------


def imaged_then_referred(referral_on: date, kind: str = "mri"):
    """An MRI on 2026-03-03 (day 1) and a surgery referral on `referral_on`."""
    episode = worked_up(loop_episode(), mri_day=100)  # the generator, named later
    b.record(episode, cmd.RecordDiagnostic, b.mri(kind=kind), days=1)
    days = (referral_on - b.T0.date()).days
    return referred(episode, days)


def test_an_mri_six_calendar_months_before_the_referral_is_recent_enough(profile):
    # 2026-03-03 to 2026-09-03 is 184 days: a 182-day window flagged it
    episode = imaged_then_referred(date(2026, 9, 3))
    assert fired_v2(episode, profile=profile) == set()


def test_an_mri_a_day_older_than_six_calendar_months_is_not(profile):
    episode = b.opened_episode()
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=2)
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=1)
    care = b.conservative_care(started_on=date(2026, 3, 3), ended_on=date(2026, 5, 1))
    b.record(episode, cmd.RecordConservativeCare, care, days=65)
    referred(episode, (date(2026, 9, 4) - b.T0.date()).days)
    [r2] = findings_v2(episode, "R2", profile=profile)
    assert fired_v2(episode, profile=profile) == {"R2"}
    assert "since 2026-03-04" in r2["detail"]


def test_an_xray_is_not_the_imaging_r2_asks_for(profile):
    episode = b.opened_episode()
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=2)
    b.record(episode, cmd.RecordDiagnostic, b.mri(kind="xray"), days=3)
    exam_named(episode, "myofascial", day=4)
    care = b.conservative_care(started_on=date(2026, 3, 3), ended_on=date(2026, 5, 1))
    b.record(episode, cmd.RecordConservativeCare, care, days=65)
    referred(episode, 70)
    assert fired_v2(episode, profile=profile) == {"R2"}


# -- R4: injections only -------------------------------------------------------------


def test_an_rfa_before_the_referral_is_another_treatment_and_answers_r4(profile):
    episode = loop_episode()
    b.record(episode, cmd.PerformIntervention, b.rfa(), days=30)
    b.record(
        episode,
        cmd.RecordOutcome,
        b.outcome(score=38, follows_version=episode.version),
        days=72,
    )
    referred(episode, 75)
    # R7: an RFA without blocks; R3: no care; R1 and R2: no generator
    assert fired_v2(episode, profile=profile) == {"R1", "R2", "R3", "R7"}


def test_a_plan_that_finds_no_regenerative_option_indicated_leaves_r4(profile):
    episode = loop_episode()
    items = [{"kind": "intervention", "detail": "lumbar ESI"}]
    plan = b.plan(regenerative_option="not_indicated", items=items)
    b.record(episode, cmd.PlanTreatment, plan, days=20)
    referred(episode, 70)
    assert fired_v2(episode, profile=profile) == {"R1", "R2", "R3", "R4"}


def test_a_plan_that_offered_a_regenerative_option_answers_r4(profile):
    episode = loop_episode()
    plan = b.plan(regenerative_option="offered_declined")
    b.record(episode, cmd.PlanTreatment, plan, days=20)
    referred(episode, 70)
    assert fired_v2(episode, profile=profile) == {"R1", "R2", "R3"}


def test_a_surgery_referral_with_no_injection_before_it_is_not_r4(profile):
    episode = b.opened_episode()
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=2)
    referred(episode, 10)
    assert fired_v2(episode, profile=profile) == {"R2", "R3"}


# -- R3: documented conservative care, counted inclusively ------------------------------


def cared_for(days: int):
    """The worked-up loop with exactly `days` days of care before the referral."""
    episode = loop_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=20)
    start = date(2026, 3, 10)
    end = start + timedelta(days=days - 1)
    care = b.conservative_care(started_on=start, ended_on=end)
    b.record(episode, cmd.RecordConservativeCare, care, days=65)
    return referred(episode, 70)


def test_41_days_of_care_is_premature(profile):
    assert fired_v2(cared_for(41), profile=profile) == {"R3"}


def test_42_days_of_care_counted_inclusively_is_enough(profile):
    assert fired_v2(cared_for(42), profile=profile) == set()
