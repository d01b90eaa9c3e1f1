"""Rule set v2, R9-R11: escalation of a standing red flag, the consult note, closure."""

from __future__ import annotations

import pytest

from domain import commands as cmd
from tests.support import builders as b
from tests.unit.audit_support import (
    EMERGENCY,
    PROFILES,
    audit_v2,
    findings_v2,
    fired_v2,
    referred,
)

PC2 = {"id": "dr-pc-2", "name": "Dr Second", "role": "primary_care"}


@pytest.fixture(params=PROFILES)
def profile(request) -> str:
    return request.param


def infection(answer: str | None, after_hours: float = 3, ruled_out_hours=None):
    """The emergency department refers; a screen finds infection on day 1."""
    episode = b.opened_episode(referrer=EMERGENCY, receiving_service="spine_surgery")
    screen = b.screening(flags=["infection"], disposition="urgent_imaging")
    b.record(episode, cmd.ScreenRedFlags, screen, days=1)
    if answer is not None:
        body = b.mri(kind=answer, findings="L4-L5 discitis")
        b.record(episode, cmd.RecordDiagnostic, body, days=1, hours=after_hours)
    if ruled_out_hours is not None:
        b.record(
            episode, cmd.ScreenRedFlags, b.screening(), days=1, hours=ruled_out_hours
        )
    return episode


def cauda_equina(referral_hours: float | None, urgency: str = "emergent"):
    episode = b.opened_episode(referrer=EMERGENCY, red_flags=["cauda_equina"])
    if referral_hours is not None:
        body = b.surgery_referral(
            urgency=urgency, intent="decompression", indication="red_flag",
            surgeon={"id": "dr-ss-9", "name": "Dr On Call"},
            justification="cauda equina syndrome: emergency decompression",
        )  # fmt: skip
        b.record(episode, cmd.ReferToSurgery, body, hours=referral_hours)
    return episode


# -- 5. infection needs MRI or CT --------------------------------------------------------


def test_infection_answered_by_an_xray_within_6_hours_is_r9(profile):
    [r9] = findings_v2(infection("xray"), "R9", profile=profile)
    assert fired_v2(infection("xray"), profile=profile) == {"R9"}
    assert r9["severity"] == "critical" and r9["surgeon_id"] is None


def test_infection_answered_by_an_mri_within_6_hours_is_not_r9(profile):
    assert fired_v2(infection("mri"), profile=profile) == set()


def test_infection_answered_by_a_ct_after_7_hours_is_a_definite_r9(profile):
    [r9] = findings_v2(infection("ct", after_hours=7), "R9", profile=profile)
    assert r9["fires_at"] is None and "came 7 h later" in r9["detail"]


def test_infection_ruled_out_before_the_deadline_asks_for_no_imaging(profile):
    assert fired_v2(infection(None, ruled_out_hours=5), profile=profile) == set()


def test_infection_unanswered_counts_only_once_6_hours_have_passed(profile):
    episode = infection(None)
    assert fired_v2(episode, now=b.at(1, hours=5), profile=profile) == set()
    assert fired_v2(episode, now=b.at(1, hours=7), profile=profile) == {"R9"}


# -- R9 cauda equina, charged to the surgeon of the late referral ----------------------------


def test_cauda_equina_referred_emergently_in_time_is_exempt_and_clean(profile):
    row = audit_v2(cauda_equina(2), profile=profile)
    assert row["findings"] == [] and row["red_flag_exempt"] is True


def test_cauda_equina_referred_after_6_hours_is_r9_charged_to_that_surgeon(profile):
    row = audit_v2(cauda_equina(6), profile=profile)
    [r9] = row["findings"]
    assert (r9["rule"], r9["surgeon_id"]) == ("R9", "dr-ss-9")
    assert row["surgery_referrals"][0]["findings"] == ["R9"]


def test_an_urgent_referral_is_not_the_emergent_one_cauda_equina_needs(profile):
    # exempt from R1-R4 (urgent while the flag stands), but no emergent referral
    row = audit_v2(cauda_equina(1, urgency="urgent"), profile=profile)
    assert {f["rule"] for f in row["findings"]} == {"R9"}
    assert row["red_flag_exempt"] is True


def test_a_transfer_closure_is_no_emergent_referral(profile):
    episode = cauda_equina(None)
    b.record(episode, cmd.CloseEpisode, b.closure(reason="transferred"), hours=1)
    [r9] = findings_v2(episode, "R9", profile=profile)
    assert fired_v2(episode, profile=profile) == {"R9"} and r9["surgeon_id"] is None


# -- 6. a late consult note does not clear R10 ----------------------------------------------


def noted_on(day: float | None):
    episode = b.opened_episode(receiving_service="pain_medicine")
    if day is not None:
        b.record(episode, cmd.SendConsultNote, b.consult_note(), days=day)
    return episode


def test_a_consult_note_on_day_14_clears_r10(profile):
    assert fired_v2(noted_on(14), profile=profile) == set()


def test_a_consult_note_on_day_30_makes_r10_definite_and_says_when(profile):
    [r10] = findings_v2(noted_on(30), "R10", profile=profile)
    assert r10["fires_at"] is None
    assert "got its consult note on 2026-04-01" in r10["detail"]


def test_no_consult_note_counts_only_after_14_days(profile):
    episode = noted_on(None)
    assert fired_v2(episode, now=b.at(13), profile=profile) == set()
    assert fired_v2(episode, now=b.at(15), profile=profile) == {"R10"}


def test_r10_is_charged_to_the_referrer_of_its_referral(profile):
    episode = noted_on(2)
    later = b.further_referral(referrer=PC2, receiving_service="pain_medicine")
    b.record(episode, cmd.ReceiveReferral, later, days=20)
    [r10] = findings_v2(episode, "R10", profile=profile)
    assert (r10["referrer_id"], r10["surgeon_id"]) == ("dr-pc-2", None)


# -- R11 ----------------------------------------------------------------------------------


def test_an_episode_closed_for_surgery_without_a_surgery_referral_is_r11(profile):
    episode = noted_on(2)
    b.record(episode, cmd.CloseEpisode, b.closure(reason="surgery"), days=40)
    assert fired_v2(episode, profile=profile) == {"R11"}


def test_an_episode_closed_for_surgery_after_a_referral_is_not_r11(profile):
    episode = noted_on(2)
    urgent = {"urgency": "urgent", "indication": "progressive_deficit"}
    b.record(
        episode,
        cmd.ScreenRedFlags,
        b.screening(flags=["progressive_neuro_deficit"]),
        days=3,
    )
    referred(episode, 4, **urgent)
    b.record(episode, cmd.CloseEpisode, b.closure(reason="surgery"), days=40)
    assert fired_v2(episode, profile=profile) == set()


def test_an_episode_closed_as_resolved_without_a_referral_is_not_r11(profile):
    episode = noted_on(2)
    b.record(episode, cmd.CloseEpisode, b.closure(reason="resolved"), days=40)
    assert fired_v2(episode, profile=profile) == set()
