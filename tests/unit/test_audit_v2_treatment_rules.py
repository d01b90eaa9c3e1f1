"""Rule set v2, R5-R8: ESIs counted by session, R5 across a patient's episodes."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain import commands as cmd
from domain.episode import CareEpisode
from domain.values import Envelope
from tests.support import builders as b
from tests.unit.audit_support import PROFILES, audit_rows_v2, audit_v2, fired_v2


@pytest.fixture(params=PROFILES)
def profile(request) -> str:
    return request.param


def rules_of(row: dict) -> set[str]:
    return {f["rule"] for f in row["findings"]}


def measured_esis(episode, days: list[float], levels_per_session: int = 1):
    """ESI sessions on these days, each with a baseline before it and a 6-week
    follow-up of 60 % relief, so only the rule under test can fire."""
    b.record(episode, cmd.RecordOutcome, b.outcome(score=46), days=days[0] - 1)
    for day in days:
        first = None
        for level in range(levels_per_session):
            body = b.esi(levels=[("L4-L5", "L5-S1", "L3-L4")[level]])
            b.record(episode, cmd.PerformIntervention, body, days=day, hours=level)
            first = first or episode.version
        relief = b.outcome(instrument="relief_percent", score=60, follows_version=first)
        b.record(episode, cmd.RecordOutcome, relief, days=day + 42)
    return episode


def noted(**overrides):
    """An episode whose primary-care referrer got a consult note (no R10)."""
    episode = b.opened_episode(**overrides)
    return b.record(episode, cmd.SendConsultNote, b.consult_note(), days=1)


def second_episode(opened_days: float, patient_id: str = "pt-0001"):
    """Another episode of a patient, opened `opened_days` after T0."""
    opening = cmd.OpenEpisode(
        occurred_at=b.at(opened_days), **b.referral(patient_id=patient_id)
    )
    episode = CareEpisode.open(
        uuid4(), Envelope(b.SERVICE, now=b.at(opened_days)), opening
    )
    return b.record(
        episode, cmd.SendConsultNote, b.consult_note(), days=opened_days + 1
    )


# -- 9. same-day levels are one session ------------------------------------------------


def test_four_sessions_of_two_levels_each_are_within_the_limit(profile):
    episode = measured_esis(noted(), [10, 60, 120, 180], levels_per_session=2)
    assert fired_v2(episode, profile=profile) == set()


def test_a_fifth_session_within_365_days_is_r5(profile):
    episode = measured_esis(noted(), [10, 60, 120, 180, 240])
    row = audit_v2(episode, profile=profile)
    [r5] = [f for f in row["findings"] if f["rule"] == "R5"]
    assert rules_of(row) == {"R5"} and r5["scope"] == "patient"
    assert "number 5" in r5["detail"] and str(episode.id) in r5["detail"]


def test_a_fifth_session_366_days_after_the_first_is_within_the_limit(profile):
    episode = measured_esis(noted(), [10, 60, 120, 180, 375])
    assert fired_v2(episode, profile=profile) == set()


def test_sessions_in_different_region_groups_are_counted_apart(profile):
    episode = measured_esis(noted(), [10, 60, 120, 180])
    b.record(episode, cmd.PerformIntervention, b.esi(region="cervical"), days=240)
    cervical = episode.version
    relief = b.outcome(instrument="relief_percent", score=70, follows_version=cervical)
    b.record(episode, cmd.RecordOutcome, relief, days=282)
    assert fired_v2(episode, profile=profile) == set()


def test_a_same_day_second_level_is_not_a_repeat(profile):
    episode = noted()
    b.record(episode, cmd.RecordOutcome, b.outcome(score=46), days=5)
    b.record(episode, cmd.PerformIntervention, b.esi(levels=["L4-L5"]), days=10)
    b.record(
        episode, cmd.PerformIntervention, b.esi(levels=["L5-S1"]), days=10, hours=1
    )
    follow = b.outcome(score=40, follows_version=episode.version)
    b.record(episode, cmd.RecordOutcome, follow, days=52)
    # R8 follows the session up as one: an outcome naming either level counts
    assert fired_v2(episode, profile=profile) == set()


# -- R5 across a patient's episodes ------------------------------------------------------


def test_a_fifth_session_in_a_second_episode_of_the_patient_is_r5(profile):
    first = measured_esis(noted(), [10, 60, 120, 180])
    later = measured_esis(second_episode(200), [240])
    rows = audit_rows_v2(first, later, profile=profile)
    [r5] = rows[str(later.id)]["findings"]
    assert rules_of(rows[str(first.id)]) == set()
    assert (r5["rule"], r5["scope"], r5["referrer_id"]) == ("R5", "patient", "dr-pc-1")
    # the finding names the sessions it counts, those of the earlier episode too
    assert f"episode {first.id}, v4" in r5["detail"]
    assert f"episode {later.id}, v4" in r5["detail"]


def test_another_patients_sessions_are_not_counted(profile):
    first = measured_esis(noted(), [10, 60, 120, 180])
    other = measured_esis(second_episode(200, patient_id="pt-0002"), [240])
    rows = audit_rows_v2(first, other, profile=profile)
    assert rules_of(rows[str(first.id)]) == set()
    assert rules_of(rows[str(other.id)]) == set()


def test_two_episodes_with_esis_on_one_day_hold_one_session(profile):
    first = measured_esis(noted(), [10, 60, 120, 180])
    later = second_episode(170)
    b.record(later, cmd.RecordOutcome, b.outcome(score=46), days=172)
    same_day = b.esi(levels=["L3-L4"])
    b.record(later, cmd.PerformIntervention, same_day, days=180, hours=3)
    follow = b.outcome(
        instrument="relief_percent", score=60, follows_version=later.version
    )
    b.record(later, cmd.RecordOutcome, follow, days=222)
    rows = audit_rows_v2(first, later, profile=profile)
    assert all(rules_of(row) == set() for row in rows.values())


# -- R6 ----------------------------------------------------------------------------------


def repeated(relief: int | None):
    episode = noted()
    b.record(episode, cmd.RecordOutcome, b.outcome(score=46), days=5)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=10)
    first = episode.version
    if relief is not None:
        score = b.outcome(
            instrument="relief_percent", score=relief, follows_version=first
        )
        b.record(episode, cmd.RecordOutcome, score, days=52)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=60)
    follow = b.outcome(
        instrument="relief_percent", score=70, follows_version=episode.version
    )
    return b.record(episode, cmd.RecordOutcome, follow, days=102)


def test_a_repeat_session_after_49_percent_relief_is_r6(profile):
    assert fired_v2(repeated(49), profile=profile) == {"R6"}


def test_a_repeat_session_after_50_percent_relief_is_not(profile):
    assert fired_v2(repeated(50), profile=profile) == set()


def test_a_repeat_session_with_no_outcome_after_the_first_is_r6_and_r8(profile):
    # the first ESI has no follow-up in weeks 4-8 either
    assert fired_v2(repeated(None), profile=profile) == {"R6", "R8"}


# -- R7 ----------------------------------------------------------------------------------


def rfa_after(*blocks: tuple[float, int]):
    episode = noted()
    b.record(episode, cmd.RecordOutcome, b.outcome(score=46), days=2)
    for day, relief in blocks:
        body = b.medial_branch_block(relief)
        b.record(episode, cmd.RecordDiagnostic, body, days=day)
    b.record(episode, cmd.PerformIntervention, b.rfa(), days=250)
    follow = b.outcome(score=30, follows_version=episode.version)
    return b.record(episode, cmd.RecordOutcome, follow, days=292)


def test_an_rfa_after_one_block_of_85_percent_is_r7_on_the_payer_profile_only():
    episode = rfa_after((100, 85))
    assert fired_v2(episode, profile="payer") == {"R7"}
    assert fired_v2(episode, profile="nhs") == set()


def test_an_rfa_after_two_blocks_of_85_percent_passes_both_profiles(profile):
    assert fired_v2(rfa_after((90, 85), (100, 85)), profile=profile) == set()


def test_a_block_older_than_six_calendar_months_does_not_confirm_on_the_nhs_profile():
    # the RFA is on 2026-11-07; the block of 2026-05-06 is a day too old
    old = rfa_after((65, 85))
    recent = rfa_after((66, 85))
    assert fired_v2(old, profile="nhs") == {"R7"}
    assert fired_v2(recent, profile="nhs") == set()


# -- R8 ----------------------------------------------------------------------------------


def esi_followed_on(day: float | None, baseline: bool = True):
    episode = noted()
    if baseline:
        b.record(episode, cmd.RecordOutcome, b.outcome(score=46), days=5)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=10)
    if day is not None:
        follow = b.outcome(score=40, follows_version=episode.version)
        b.record(episode, cmd.RecordOutcome, follow, days=day)
    return episode


def test_a_follow_up_at_eight_weeks_is_in_time(profile):
    assert fired_v2(esi_followed_on(10 + 56), profile=profile) == set()


def test_a_follow_up_after_eight_weeks_is_r8(profile):
    assert fired_v2(esi_followed_on(10 + 57), profile=profile) == {"R8"}


def test_a_missing_follow_up_counts_only_once_eight_weeks_have_passed(profile):
    episode = esi_followed_on(None)
    assert fired_v2(episode, now=b.at(10 + 55), profile=profile) == set()
    assert fired_v2(episode, now=b.at(10 + 57), profile=profile) == {"R8"}


def test_a_treatment_with_no_baseline_before_it_is_r8(profile):
    assert fired_v2(esi_followed_on(50, baseline=False), profile=profile) == {"R8"}
