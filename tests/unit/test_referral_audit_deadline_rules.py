"""Referral-loop audit R9-R10: escalating red flags within hours, closing loops within days."""

from __future__ import annotations

import pytest

from domain import commands as cmd
from tests.support import builders as b
from tests.unit.audit_support import EMERGENCY, audit, findings, fired


def cauda_equina_episode():
    """The emergency department refers a patient with saddle anaesthesia."""
    return b.opened_episode(
        referrer=EMERGENCY,
        receiving_service="spine_surgery",
        reason="saddle anaesthesia and urinary retention",
        red_flags=["cauda_equina"],
    )


def referred(episode, hours: float, urgency: str = "emergent"):
    body = b.surgery_referral(
        urgency=urgency,
        intent="decompression",
        indication="red_flag",
        justification="cauda equina syndrome: emergency decompression",
    )
    return b.record(episode, cmd.ReferToSurgery, body, hours=hours)


def screened(episode, flags: list[str], days: float = 1):
    return b.record(episode, cmd.ScreenRedFlags, b.screening(flags=flags), days=days)


def imaged(episode, days: float = 1, hours: float = 0):
    return b.record(episode, cmd.RecordDiagnostic, b.mri(), days=days, hours=hours)


# -- R9 red_flag_escalation_late --------------------------------------------------


def test_r9_is_not_fired_by_an_emergent_referral_4_hours_after_cauda_equina():
    assert findings(referred(cauda_equina_episode(), hours=4), "R9") == []


def test_r9_fires_critical_when_the_emergent_referral_came_after_4_hours():
    episode = referred(cauda_equina_episode(), hours=5)

    [finding] = findings(episode, "R9", now=b.at(0, hours=5))

    assert (finding["severity"], finding["at_version"]) == ("critical", 1)
    assert "came 5 h later, not within 4 h" in finding["detail"]


def test_r9_without_a_referral_is_due_only_when_4_hours_have_passed():
    episode = cauda_equina_episode()

    assert findings(episode, "R9", now=b.at(0, hours=3.9)) == []
    assert fired(episode, now=b.at(0, hours=4)) == {"R9"}


def test_r9_an_urgent_referral_does_not_answer_cauda_equina():
    episode = referred(cauda_equina_episode(), hours=1, urgency="urgent")

    # the urgent red-flag referral is exempt from R1-R4; the emergency department
    # is owed no consult note
    assert fired(episode) == {"R9"}


def test_r9_times_cauda_equina_from_the_screen_that_found_it():
    episode = screened(b.opened_episode(), ["cauda_equina"], days=2)
    referred(episode, hours=48 + 3)

    assert findings(episode, "R9") == []


@pytest.mark.parametrize(("imaging_hours", "fires"), [(6, False), (7, True)])
def test_r9_infection_needs_imaging_within_6_hours(imaging_hours, fires):
    episode = screened(b.opened_episode(), ["infection"], days=1)
    imaged(episode, days=1, hours=imaging_hours)

    assert fired(episode) == ({"R9", "R10"} if fires else {"R10"})


def test_r9_reports_each_red_flag_found_on_one_screen():
    episode = screened(b.opened_episode(), ["cauda_equina", "infection"])

    row = audit(episode)

    assert sorted((f["rule"], f["at_version"]) for f in row["findings"]) == [
        ("R10", 1),
        ("R9", 2),
        ("R9", 2),
    ]


def test_r9_ignores_red_flags_it_has_no_deadline_for():
    episode = screened(b.opened_episode(), ["fracture", "malignancy"])

    assert findings(episode, "R9") == []


# -- R10 referral_loop_open -------------------------------------------------------


def noted(episode, days: float, to: str = "dr-pc-1"):
    body = b.consult_note(to_physician_id=to)
    return b.record(episode, cmd.SendConsultNote, body, days=days)


def test_r10_a_consult_note_on_day_14_closes_the_loop():
    assert findings(noted(b.opened_episode(), days=14), "R10") == []


def test_r10_without_a_note_is_due_once_14_days_have_passed():
    episode = b.opened_episode()

    assert findings(episode, "R10", now=b.at(14, hours=-1)) == []
    [finding] = findings(episode, "R10", now=b.at(14))
    assert (finding["at_version"], finding["severity"]) == (1, "medium")


def test_r10_a_note_sent_late_still_clears_it():
    # the issue: "a consult note sent clears R10"
    assert findings(noted(b.opened_episode(), days=20), "R10") == []


def test_r10_a_note_to_another_physician_does_not_close_the_loop():
    assert fired(noted(b.opened_episode(), days=5, to="dr-other")) == {"R10"}


@pytest.mark.parametrize(("role", "fires"), [("concierge", True), ("self", False)])
def test_r10_applies_to_primary_care_and_concierge_referrals(role, fires):
    referrer = {"id": "dr-pc-1", "name": "Dr Referrer", "role": role}
    episode = b.opened_episode(referrer=referrer)

    assert fired(episode) == ({"R10"} if fires else set())


def test_r10_a_later_primary_care_referral_needs_its_own_note():
    episode = noted(b.opened_episode(), days=5)
    b.record(
        episode,
        cmd.ReceiveReferral,
        b.further_referral(
            referrer={"id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"}
        ),
        days=30,
    )

    assert [f["at_version"] for f in findings(episode, "R10")] == [3]
