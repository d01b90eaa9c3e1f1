"""Referral-loop audit R5-R8: how injections, RFA and biologics were given and measured."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import commands as cmd
from projections.referral_audit import (
    FINDINGS,
    ReferralAuditProjectionV1,
    audit_rules,
)
from tests.support import builders as b
from tests.support.fold import project
from tests.unit.audit_support import findings, fired

NHS = audit_rules("nhs", version=1)
# Every episode here is a primary-care referral with no consult note (R10) and no
# outcome before its first treatment (R8) unless a test records one.


def finding_rows(episode, rule: str) -> list[dict]:
    views = project(ReferralAuditProjectionV1(), episode)
    return [row for row in views[FINDINGS.name].values() if row["rule"] == rule]


def given(episode, command: type, body: dict, days: float) -> int:
    """Record a command and answer the version of its event."""
    b.record(episode, command, body, days=days)
    return episode.version


def measured(episode, follows: int | None, days: float, **overrides) -> int:
    body = b.outcome(follows_version=follows, **overrides)
    return given(episode, cmd.RecordOutcome, body, days)


def esis_on(*days: int, region: str = "lumbar"):
    levels = ["C6-C7"] if region == "cervical" else ["L5-S1"]
    episode = b.opened_episode()
    for when in days:
        b.record(
            episode,
            cmd.PerformIntervention,
            b.esi(region=region, levels=levels),
            days=when,
        )
    return episode


# -- R5 esi_frequency_exceeded ----------------------------------------------------


def test_r5_fires_on_the_fifth_lumbar_esi_within_365_days():
    [finding] = findings(esis_on(0, 60, 120, 180, 240), "R5")

    assert finding["at_version"] == 6
    assert "is number 5 within 365 days" in finding["detail"]


def test_r5_allows_four_esis_in_one_region_within_365_days():
    assert findings(esis_on(0, 60, 120, 180), "R5") == []


@pytest.mark.parametrize(("fifth", "fires"), [(364, True), (365, False)])
def test_r5_the_window_rolls_an_esi_out_after_365_days(fifth, fires):
    episode = esis_on(0, 90, 180, 270, fifth)

    assert fired(episode) == (
        {"R5", "R6", "R8", "R10"} if fires else {"R6", "R8", "R10"}
    )


def test_r5_counts_each_region_separately():
    episode = esis_on(0, 30, 60)
    for when in (90, 120):
        b.record(
            episode,
            cmd.PerformIntervention,
            b.esi(region="cervical", levels=["C6-C7"]),
            days=when,
        )

    assert findings(episode, "R5") == []


def test_r5_flags_every_esi_over_the_limit():
    finding_versions = [
        f["at_version"] for f in findings(esis_on(*range(0, 60, 10)), "R5")
    ]

    assert finding_versions == [6, 7]


# -- R6 repeat_esi_without_response -----------------------------------------------


def test_r6_fires_on_a_repeat_esi_with_no_outcome_after_the_first():
    [finding] = findings(esis_on(10, 40), "R6")

    assert finding["at_version"] == 3
    assert "with no outcome recorded after it" in finding["detail"]


@pytest.mark.parametrize(("relief", "fires"), [(49, True), (50, False)])
def test_r6_a_repeat_needs_50_percent_relief_from_the_first(relief, fires):
    episode = b.opened_episode()
    first = given(episode, cmd.PerformIntervention, b.esi(), 10)
    measured(episode, first, 24, instrument="relief_percent", score=relief)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=40)

    assert fired(episode) == ({"R6", "R8", "R10"} if fires else {"R8", "R10"})


@pytest.mark.parametrize(("nrs_after", "fires"), [(5, True), (4, False)])
def test_r6_reads_relief_as_the_fall_in_pain_from_the_last_nrs_before(nrs_after, fires):
    # given NRS 8 before the first ESI
    episode = b.opened_episode()
    measured(episode, None, 5, instrument="nrs_pain", score=8)
    first = given(episode, cmd.PerformIntervention, b.esi(), 10)
    # when NRS 5 (37.5 % relief) or 4 (50 %) follows it, and the ESI is repeated
    measured(episode, first, 24, instrument="nrs_pain", score=nrs_after)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=40)
    # then
    assert fired(episode) == ({"R6", "R8", "R10"} if fires else {"R8", "R10"})


def test_r6_an_outcome_recorded_after_the_repeat_does_not_count():
    episode = b.opened_episode()
    first = given(episode, cmd.PerformIntervention, b.esi(), 10)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=40)
    measured(episode, first, 45, instrument="relief_percent", score=80)

    assert fired(episode) == {"R6", "R8", "R10"}


def test_r6_judges_relief_as_it_stood_when_the_esi_was_repeated():
    episode = b.opened_episode()
    first = given(episode, cmd.PerformIntervention, b.esi(), 10)
    measured(episode, first, 24, instrument="relief_percent", score=30)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=40)
    measured(episode, first, 45, instrument="relief_percent", score=80)

    assert fired(episode) == {"R6", "R8", "R10"}


def test_r6_a_function_score_after_the_first_esi_is_an_outcome_but_not_relief():
    episode = b.opened_episode()
    first = given(episode, cmd.PerformIntervention, b.esi(), 10)
    measured(episode, first, 24, instrument="odi", score=44)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=40)

    assert findings(episode, "R6") == []


def test_r6_esis_in_different_regions_are_not_repeats():
    episode = esis_on(10)
    b.record(
        episode,
        cmd.PerformIntervention,
        b.esi(region="cervical", levels=["C6-C7"]),
        days=40,
    )

    assert findings(episode, "R6") == []


# -- R7 rfa_without_confirmed_block -----------------------------------------------


def blocks_then_rfa(*reliefs: int, days_before: int = 20, at_levels="L4-L5", **rfa):
    episode = b.opened_episode()
    for index, relief in enumerate(reliefs):
        block = b.medial_branch_block(relief, levels=[at_levels])
        b.record(episode, cmd.RecordDiagnostic, block, days=1 + index)
    return b.record(
        episode, cmd.PerformIntervention, b.rfa(**rfa), days=1 + days_before
    )


def test_r7_payer_profile_accepts_two_blocks_of_at_least_80_percent_at_the_levels():
    assert findings(blocks_then_rfa(80, 85), "R7") == []


def test_r7_payer_profile_fires_after_a_single_block():
    [finding] = findings(blocks_then_rfa(90), "R7")

    assert "had 1 of the 2 medial_branch_block(s)" in finding["detail"]
    assert "payer profile" in finding["detail"]


def test_r7_payer_profile_fires_when_a_block_gave_79_percent():
    assert fired(blocks_then_rfa(90, 79)) == {"R7", "R8", "R10"}


def test_r7_fires_when_the_blocks_were_at_other_levels():
    assert fired(blocks_then_rfa(90, 90, at_levels="L3-L4")) == {"R7", "R8", "R10"}


def test_r7_a_block_after_the_rfa_does_not_count():
    episode = blocks_then_rfa(90)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(90), days=30)

    assert fired(episode) == {"R7", "R8", "R10"}


def test_r7_a_medial_branch_block_does_not_confirm_a_sacroiliac_rfa():
    episode = blocks_then_rfa(
        90, 90, at_levels="S1", region="sacroiliac", levels=["S1"]
    )

    assert fired(episode) == {"R7", "R8", "R10"}


@pytest.mark.parametrize(("relief", "fires"), [(49, True), (50, False)])
def test_r7_nhs_profile_accepts_one_block_of_at_least_50_percent(relief, fires):
    episode = blocks_then_rfa(relief)

    assert fired(episode, rules=NHS) == (
        {"R7", "R8", "R10"} if fires else {"R8", "R10"}
    )


@pytest.mark.parametrize(("days_before", "fires"), [(182, False), (183, True)])
def test_r7_nhs_profile_needs_the_block_within_6_months(days_before, fires):
    episode = blocks_then_rfa(60, days_before=days_before)

    assert fired(episode, rules=NHS) == (
        {"R7", "R8", "R10"} if fires else {"R8", "R10"}
    )


# -- R8 outcome_not_measured ------------------------------------------------------


def esi_with_baseline(days: float = 10):
    episode = b.opened_episode()
    measured(episode, None, days - 1)
    return episode, given(episode, cmd.PerformIntervention, b.esi(), days)


@pytest.mark.parametrize("follow_up_day", [28, 42, 56])
def test_r8_is_not_fired_by_a_follow_up_in_weeks_4_to_8(follow_up_day):
    episode, esi = esi_with_baseline()
    measured(episode, esi, 10 + follow_up_day, score=30)

    assert findings(episode, "R8") == []


def test_r8_fires_at_once_on_an_intervention_with_no_baseline_outcome():
    episode = esis_on(10)
    measured(episode, 2, 52, score=30)

    [finding] = findings(episode, "R8", now=b.at(11))

    assert finding["detail"].endswith("has no baseline outcome before it")


def test_r8_an_outcome_following_the_treatment_is_not_its_baseline():
    episode = esis_on(10)
    measured(episode, 2, 10, instrument="relief_percent", score=90)

    [finding] = findings(episode, "R8")

    assert finding["detail"].endswith("has no baseline outcome before it")


def test_r8_a_follow_up_at_day_27_only_fires_once_week_8_has_passed():
    episode, esi = esi_with_baseline()
    measured(episode, esi, 10 + 27, score=30)

    assert findings(episode, "R8", now=b.at(10 + 56, hours=-1)) == []
    assert fired(episode, now=b.at(10 + 56)) == {"R8", "R10"}


def test_r8_a_follow_up_at_day_57_makes_the_finding_definite():
    episode, esi = esi_with_baseline()
    measured(episode, esi, 10 + 57, score=30)

    [row] = finding_rows(episode, "R8")

    assert row["fires_at"] is None
    assert "followed up only after weeks 4-8" in row["detail"]


def test_r8_without_a_follow_up_is_due_when_week_8_ends():
    episode, _ = esi_with_baseline()

    [row] = finding_rows(episode, "R8")

    assert row["fires_at"] == b.at(10) + timedelta(weeks=8)


def test_r8_an_outcome_that_names_no_treatment_is_not_a_follow_up():
    episode, _ = esi_with_baseline()
    measured(episode, None, 10 + 42, score=30)

    assert fired(episode) == {"R8", "R10"}


def test_r8_measures_biologics_too():
    episode = b.opened_episode()
    b.record(episode, cmd.AdministerBiologic, b.prp(), days=10)

    [finding] = findings(episode, "R8")

    assert finding["detail"].startswith("prp on")
