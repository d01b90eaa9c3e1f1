"""Referral-loop audit R3-R4: premature and injections-only surgery referrals."""

from __future__ import annotations

import pytest

from domain import commands as cmd
from tests.support import builders as b
from tests.unit.audit_support import (
    findings,
    fired,
    red_flag_then_urgent_referral,
    referred,
)


def day(n: int):
    return b.at(n).date()


# -- R3 premature_surgery_referral -----------------------------------------------


def with_care(episode, started: int, ended: int | None, recorded: int, **overrides):
    body = b.conservative_care(
        started_on=day(started),
        ended_on=None if ended is None else day(ended),
        **overrides,
    )
    return b.record(episode, cmd.RecordConservativeCare, body, days=recorded)


def test_r3_fires_after_5_weeks_6_days_of_conservative_care():
    episode = with_care(b.opened_episode(), started=1, ended=42, recorded=42)
    referred(episode, days=50)

    [finding] = findings(episode, "R3")

    assert "after 5 weeks 6 days of documented conservative care" in finding["detail"]


def test_r3_is_not_fired_after_6_weeks_of_conservative_care():
    episode = with_care(b.opened_episode(), started=1, ended=43, recorded=43)
    referred(episode, days=50)

    assert findings(episode, "R3") == []


def test_r3_counts_overlapping_courses_once():
    # given physical therapy for 4 weeks and medication overlapping it by 2 weeks
    episode = with_care(b.opened_episode(), started=1, ended=29, recorded=29)
    with_care(episode, 15, 42, 42, modality="medication")
    # when
    referred(episode, days=50)
    # then 41 distinct days, not 55
    [finding] = findings(episode, "R3")
    assert "5 weeks 6 days" in finding["detail"]


@pytest.mark.parametrize(("recorded", "fires"), [(42, True), (43, False)])
def test_r3_counts_an_open_ended_course_up_to_the_day_it_was_recorded(recorded, fires):
    episode = with_care(b.opened_episode(), started=1, ended=None, recorded=recorded)
    referred(episode, days=50)

    # no imaging before the referral (R2), no consult note to primary care (R10)
    assert fired(episode) == ({"R2", "R3", "R10"} if fires else {"R2", "R10"})


def test_r3_counts_no_care_after_the_referral():
    episode = with_care(b.opened_episode(), started=1, ended=60, recorded=70)
    referred(episode, days=30)

    [finding] = findings(episode, "R3")
    assert "4 weeks 1 day" in finding["detail"]


def test_r3_counts_a_planned_end_date_only_up_to_the_day_the_course_was_recorded():
    episode = with_care(b.opened_episode(), started=1, ended=60, recorded=30)
    referred(episode, days=70)

    [finding] = findings(episode, "R3")
    assert "4 weeks 1 day " in finding["detail"]


def test_r3_is_not_fired_by_an_elective_referral_after_a_red_flag():
    episode = b.opened_episode()
    b.record(episode, cmd.ScreenRedFlags, b.screening(flags=["malignancy"]), days=5)
    referred(episode, days=10)

    assert findings(episode, "R3") == []


def test_r3_fires_when_the_red_flag_was_found_only_after_the_referral():
    episode = referred(b.opened_episode(), days=10)
    b.record(episode, cmd.ScreenRedFlags, b.screening(flags=["fracture"]), days=20)

    assert fired(episode) == {"R2", "R3", "R10"}


def test_r3_is_exempt_once_the_red_flag_brings_an_urgent_surgery_referral():
    episode = referred(b.opened_episode(), days=10)
    red_flag_then_urgent_referral(episode, days=20)

    assert findings(episode, "R3") == []


# -- R4 injections_only_before_surgery ----------------------------------------------


def injected_then_referred(**plan_overrides):
    episode = b.opened_episode()
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    if plan_overrides:
        b.record(episode, cmd.PlanTreatment, b.plan(**plan_overrides), days=20)
    return referred(episode)


def test_r4_fires_when_injections_were_the_only_treatment_before_surgery():
    [finding] = findings(injected_then_referred(), "R4")

    assert finding["severity"] == "medium"
    assert "after 1 injection(s)" in finding["detail"]


def test_r4_is_not_fired_after_a_single_documented_day_of_conservative_care():
    episode = with_care(b.opened_episode(), started=1, ended=2, recorded=2)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    referred(episode)

    assert findings(episode, "R4") == []


@pytest.mark.parametrize(
    ("option", "fires"),
    [("recommended", False), ("offered_declined", False), ("not_indicated", True)],
)
def test_r4_a_plan_opens_the_regenerative_door_only_by_offering_it(option, fires):
    episode = injected_then_referred(regenerative_option=option)

    # an ESI after a surgeon visit, no workup, care or note: R1-R3, R8 and R10 stand
    others = {"R1", "R2", "R3", "R8", "R10"}
    assert fired(episode) == (others | {"R4"} if fires else others)


def test_r4_is_not_fired_after_a_biologic():
    episode = b.opened_episode()
    b.record(episode, cmd.AdministerBiologic, b.prp(), days=10)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    referred(episode)

    assert findings(episode, "R4") == []


def test_r4_is_not_fired_without_any_injection():
    assert findings(referred(b.opened_episode()), "R4") == []


def test_r4_is_exempt_with_a_red_flag_and_an_urgent_surgery_referral():
    episode = injected_then_referred()
    red_flag_then_urgent_referral(episode, days=70)

    assert findings(episode, "R4") == []
