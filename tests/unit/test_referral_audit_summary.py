"""Referral-loop audit pathway metrics, the episode row a reader gets, and the summary."""

from __future__ import annotations

import json
from datetime import date

import pytest

from domain import commands as cmd
from projections.referral_audit import (
    EPISODES,
    FINDINGS,
    ReferralAuditProjectionV1,
    audit_row,
    summarize,
)
from tests.support import builders as b
from tests.support.fold import project
from tests.unit.audit_support import EMERGENCY


def episode_row(episode) -> dict:
    [row] = project(ReferralAuditProjectionV1(), episode)[EPISODES.name].values()
    return row


def metrics(episode, now) -> dict:
    views = project(ReferralAuditProjectionV1(), episode)
    [row] = views[EPISODES.name].values()
    return audit_row(row, views[FINDINGS.name].values(), now)["metrics"]


def measured(episode, days: float, instrument: str, score, follows=None):
    body = b.outcome(instrument=instrument, score=score, follows_version=follows)
    return b.record(episode, cmd.RecordOutcome, body, days=days)


def worked_example():
    """A radicular episode: 6 weeks of PT, an MRI, ESIs, a meaningful ODI fall, surgery."""
    episode = b.opened_episode(receiving_service="pain_medicine")
    measured(episode, 5, "odi", 46)
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=10)
    care = b.conservative_care(started_on=date(2026, 3, 3), ended_on=date(2026, 4, 14))
    b.record(episode, cmd.RecordConservativeCare, care, days=43)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=50)
    measured(episode, 92, "odi", 30, follows=episode.version)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=100)
    b.record(episode, cmd.ReferToSurgery, b.surgery_referral(), days=120)
    return b.record(episode, cmd.PerformIntervention, b.esi(), days=130)


# -- pathway metrics ---------------------------------------------------------------


def test_the_metrics_of_a_worked_example():
    assert episode_row(worked_example())["metrics"] == {
        "pain_generators": ["radicular"],
        "days_to_pain_generator": 10.0,
        "surgery_referred": True,
        "days_to_surgery_referral": 120.0,
        "injections": 3,
        "esis": 3,
        "injections_before_surgery_referral": 2,
        "conservative_care_weeks": 6.0,
        "days_to_meaningful_change": 92.0,
        "severe_radicular": False,
    }


def test_a_meaningful_change_on_day_92_was_reached_by_6_months_but_not_by_3():
    seen = metrics(worked_example(), now=b.at(200))

    assert seen["meaningful_change_by_3_months"] is False
    assert seen["meaningful_change_by_6_months"] is True


def test_whether_a_change_was_reached_by_a_horizon_is_unknown_until_it_passes():
    episode = b.opened_episode()
    measured(episode, 1, "odi", 46)

    seen = metrics(episode, now=b.at(60))

    assert seen["meaningful_change_by_3_months"] is None
    assert seen["meaningful_change_by_6_months"] is None


@pytest.mark.parametrize(
    ("instrument", "baseline", "later", "meaningful"),
    [
        ("odi", 46, 36, True),  # 10 points
        ("odi", 46, 37, False),  # 9 points, 20 %
        ("odi", 20, 14, True),  # 6 points but 30 %
        ("nrs_pain", 8, 6, True),  # 2 points
        ("nrs_pain", 8, 7, False),  # 1 point, 12.5 %
        ("nrs_pain", 3, 2, True),  # 1 point but 33 %
        ("promis_pf", 40, 45, True),  # function: higher is better
        ("promis_pf", 40, 44, False),
        ("promis_pi", 60, 55, True),  # interference: lower is better
        ("promis_pi", 60, 65, False),
    ],
)
def test_a_meaningful_change_is_the_mcid_of_its_instrument(
    instrument, baseline, later, meaningful
):
    episode = b.opened_episode()
    measured(episode, 1, instrument, baseline)
    measured(episode, 30, instrument, later)

    reached = episode_row(episode)["metrics"]["days_to_meaningful_change"]

    assert (reached == 30.0) is meaningful


@pytest.mark.parametrize(("relief", "meaningful"), [(50, True), (49, False)])
def test_relief_of_50_percent_is_a_response_without_a_baseline(relief, meaningful):
    episode = measured(b.opened_episode(), 30, "relief_percent", relief)

    reached = episode_row(episode)["metrics"]["days_to_meaningful_change"]

    assert (reached is not None) is meaningful


@pytest.mark.parametrize(("now_day", "expected"), [(181, None), (182, True)])
def test_severe_radicular_pain_without_surgery_counts_after_6_months(now_day, expected):
    episode = measured(b.opened_episode(), 5, "nrs_pain", 8)

    seen = metrics(episode, now=b.at(now_day))

    assert seen["severe_radicular_without_surgery"] is expected


def test_severe_radicular_pain_referred_to_surgery_is_not_counted():
    episode = measured(b.opened_episode(), 5, "odi", 52)
    b.record(episode, cmd.ReferToSurgery, b.surgery_referral(), days=40)

    assert metrics(episode, now=b.at(400))["severe_radicular_without_surgery"] is False


def test_severe_axial_pain_is_not_severe_radicular():
    episode = measured(b.opened_episode(presentation="axial"), 5, "nrs_pain", 9)

    assert episode_row(episode)["metrics"]["severe_radicular"] is False


# -- the episode row a reader gets -----------------------------------------------------


def test_the_audit_row_has_the_shape_of_design_section_4():
    views = project(ReferralAuditProjectionV1(), worked_example())
    [row] = views[EPISODES.name].values()

    answer = audit_row(row, views[FINDINGS.name].values(), b.at(400))

    assert set(answer) == {
        "episode_id",
        "patient_id",
        "referrer_id",
        "pathway",
        "findings",
        "rules_version",
        "red_flag_exempt",
        "metrics",
    }
    assert {tuple(f) for f in answer["findings"]} == {
        ("rule", "name", "severity", "at_version", "detail")
    }


# -- the summary --------------------------------------------------------------------


def three_episodes():
    """A surgeon-injection loop, a clean pain-medicine episode, a late cauda equina."""
    loop = b.opened_episode()
    b.record(loop, cmd.ReceiveReferral, b.further_referral(), days=7)
    b.record(loop, cmd.PerformIntervention, b.esi(), days=14)
    b.record(loop, cmd.ReferToSurgery, b.surgery_referral(), days=60)
    clean = b.opened_episode(receiving_service="pain_medicine")
    b.record(clean, cmd.SendConsultNote, b.consult_note(), days=3)
    b.record(clean, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=10)
    late = b.opened_episode(referrer=EMERGENCY, red_flags=["cauda_equina"])
    emergent = b.surgery_referral(
        surgeon={"id": "dr-ss-2", "name": "Dr Second"},
        urgency="emergent",
        indication="red_flag",
    )
    b.record(late, cmd.ReferToSurgery, emergent, hours=6)
    return loop, clean, late


def fired_for(group) -> dict[str, int]:
    """A referrer's or surgeon's flagged episodes by rule, leaving out rules with none."""
    return {rule: count for rule, count in group.by_rule.items() if count}


def summary_at(now):
    views = project(ReferralAuditProjectionV1(), *three_episodes())
    return summarize(views[EPISODES.name].values(), views[FINDINGS.name].values(), now)


def test_the_summary_counts_episodes_flagged_and_exempt():
    summary = summary_at(b.at(100))

    assert (summary.episodes, summary.flagged, summary.red_flag_exempt) == (3, 2, 1)


def test_the_summary_gives_each_rule_its_episodes_findings_and_rate():
    by_rule = {count.key.split()[0]: count for count in summary_at(b.at(100)).by_rule}

    assert list(by_rule) == [f"R{n}" for n in range(1, 11)]
    assert (by_rule["R1"].flagged, by_rule["R1"].rate) == (1, 0.333)
    assert (by_rule["R9"].flagged, by_rule["R9"].findings) == (1, 1)
    # the loop's R1-R4, R8 (its ESI had no baseline) and R10, the late R9
    flagged = {rule for rule, count in by_rule.items() if count.flagged}
    assert flagged == {"R1", "R2", "R3", "R4", "R8", "R9", "R10"}


def test_the_summary_counts_findings_by_severity_most_severe_first():
    by_severity = summary_at(b.at(100)).by_severity

    assert [(s.key, s.findings, s.flagged) for s in by_severity] == [
        ("critical", 1, 1),
        ("high", 3, 1),
        ("medium", 3, 1),
    ]


def test_the_summary_gives_each_referrer_and_surgeon_their_rates():
    summary = summary_at(b.at(100))

    referrers = {group.key: group for group in summary.by_referrer}
    assert (referrers["dr-pc-1"].episodes, referrers["dr-pc-1"].rate) == (2, 0.5)
    assert fired_for(referrers["dr-pc-1"]) == {
        "R1": 1,
        "R2": 1,
        "R3": 1,
        "R4": 1,
        "R8": 1,
        "R10": 1,
    }
    assert fired_for(referrers["dr-ed-1"]) == {"R9": 1}
    assert [(g.key, g.flagged) for g in summary.by_surgeon] == [
        ("dr-ss-1", 1),
        ("dr-ss-2", 1),
    ]


def test_the_summary_does_not_count_a_finding_before_its_deadline():
    by_rule = {count.key.split()[0]: count for count in summary_at(b.at(10)).by_rule}

    assert by_rule["R10"].flagged == 0


def test_the_summary_gives_medians_of_the_pathway_metrics():
    pathway = summary_at(b.at(100)).metrics

    assert pathway.median_days_to_pain_generator == 10.0
    assert pathway.median_injections_before_surgery_referral == 0.5
    assert pathway.meaningful_change["3_months"].eligible == 3


def test_the_summary_reads_as_json_and_as_a_flat_table():
    summary = summary_at(b.at(100))

    json.dumps(summary.as_dict())
    table = summary.table()
    assert sum(1 for row in table if row["section"] == "rule") == 10
    assert {
        "section": "referrer",
        "key": "dr-pc-1",
        "episodes": 2,
        "flagged": 1,
        "findings": 6,
        "rate": 0.5,
        "value": None,
    } in table
