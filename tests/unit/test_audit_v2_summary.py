"""Rule set v2 summary from maintained totals; metrics computed by hand on a small set."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain import commands as cmd
from tests.support import builders as b
from tests.unit import test_audit_v2_deadline_rules as deadline
from tests.unit import test_audit_v2_treatment_rules as treatment
from tests.unit.audit_support import (
    audit_rows_v2,
    audit_v2,
    fired_v2,
    loop_episode,
    referred,
    summary_v2,
    worked_up,
)


def measured(episode, day: float, instrument: str, score: int, follows=None):
    body = b.outcome(
        instrument=instrument, score=Decimal(score), follows_version=follows
    )
    return b.record(episode, cmd.RecordOutcome, body, days=day)


def radicular(odi: int, *later: tuple[float, int], surgery_day: float | None = None):
    """A radicular episode with an ODI baseline on day 1 and later ODI scores."""
    episode = b.opened_episode(presentation="radicular")
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=1)
    measured(episode, 1, "odi", odi)
    for day, score in later:
        measured(episode, day, "odi", score)
    if surgery_day is not None:
        referred(episode, surgery_day)
    return episode


# -- metrics of one episode ---------------------------------------------------------------


def test_a_relapse_by_6_months_is_no_meaningful_change_at_6_months():
    episode = radicular(50, (60, 30), (170, 48))
    metrics = audit_v2(episode, now=b.at(400))["metrics"]
    assert metrics["meaningful_change_3_months"] is True
    assert metrics["meaningful_change_6_months"] is False


def test_a_share_is_not_judged_before_its_horizon():
    metrics = audit_v2(radicular(50, (60, 30)), now=b.at(100))["metrics"]
    assert metrics["meaningful_change_3_months"] is True
    assert metrics["meaningful_change_6_months"] is None


def test_a_surgery_referral_on_day_250_does_not_clear_severe_radicular_without_surgery():
    metrics = audit_v2(radicular(50, surgery_day=250), now=b.at(400))["metrics"]
    assert metrics["severe_radicular_without_surgery"] is True


def test_a_surgery_referral_on_day_100_clears_it():
    metrics = audit_v2(radicular(50, surgery_day=100), now=b.at(400))["metrics"]
    assert metrics["severe_radicular_without_surgery"] is False


def test_a_moderate_baseline_is_not_severe():
    metrics = audit_v2(radicular(40), now=b.at(400))["metrics"]
    assert metrics["severe_radicular_without_surgery"] is False


# -- metrics across a small set, by hand --------------------------------------------------


def small_set():
    """Five episodes whose shares and medians are worked out by hand below."""
    return [
        # A: baseline 50, 30 on day 60, relapsed to 48 by day 170; no surgery
        radicular(50, (60, 30), (170, 48)),
        # B: baseline 60, 40 on day 80 and still 40 at day 182; no surgery
        radicular(60, (80, 40)),
        # C: severe baseline, no change, referred to surgery on day 250 (late)
        radicular(55, (100, 52), surgery_day=250),
        # D: severe baseline, referred to surgery on day 30
        radicular(70, surgery_day=30),
        # E: axial, no baseline: not eligible for any share
        b.opened_episode(presentation="axial"),
    ]


def test_the_shares_of_the_small_set_are_those_worked_out_by_hand():
    summary = summary_v2(*small_set(), now=b.at(400))
    change = summary.metrics.meaningful_change
    # 3 months: A (30 v 50) and B (40 v 60) improved; C (52 v 55), D no; E no baseline
    assert (change["3_months"].count, change["3_months"].eligible) == (2, 4)
    # 6 months: A relapsed (48), B held (40): only B
    assert (change["6_months"].count, change["6_months"].eligible) == (1, 4)
    severe = summary.metrics.severe_radicular_without_surgery
    # eligible: the 4 radicular episodes; A is severe (50) with no change by day
    # 182; C's day-250 referral is too late; B changed; D was referred on day 30
    assert (severe.count, severe.eligible, severe.rate) == (2, 4, 0.5)


def test_the_medians_of_the_small_set_are_those_worked_out_by_hand():
    metrics = summary_v2(*small_set(), now=b.at(400)).metrics
    assert metrics.median_days_to_surgery_referral == 140.0  # 30 and 250
    assert metrics.median_conservative_care_weeks == 0.0
    assert metrics.median_injections_before_surgery_referral == 0.0


def test_shares_count_only_episodes_whose_horizon_has_passed():
    summary = summary_v2(*small_set(), now=b.at(120))
    assert summary.metrics.meaningful_change["3_months"].eligible == 4
    assert summary.metrics.meaningful_change["6_months"].eligible == 0
    assert summary.metrics.severe_radicular_without_surgery.eligible == 0


# -- the totals equal a count of the due findings -----------------------------------------


def mixed_set():
    first = treatment.measured_esis(treatment.noted(), [10, 60, 120, 180])
    return [
        referred(loop_episode(), 70),
        referred(worked_up(loop_episode()), 70),
        deadline.infection(None),
        deadline.cauda_equina(6),
        deadline.noted_on(None),
        deadline.noted_on(30),
        treatment.esi_followed_on(None),
        first,
        treatment.measured_esis(treatment.second_episode(200), [240]),
    ]


def brute_force(episodes, now):
    """What the summary must say, counted from the due findings of every row."""
    rows = audit_rows_v2(*episodes, now=now).values()
    flagged, findings = Counter(), Counter()
    for row in rows:
        for finding in row["findings"]:
            for key in _keys(finding):
                findings[key] += 1
        for key in {k for f in row["findings"] for k in _keys(f)}:
            flagged[key] += 1
    return len(rows), flagged, findings


def _keys(f):
    keys = [("any",), ("rule", f["rule"]), ("severity", f["severity"]),
            ("referrer", f["referrer_id"])]  # fmt: skip
    return keys + ([("surgeon", f["surgeon_id"])] if f["surgeon_id"] else [])


@pytest.mark.parametrize(
    "now",
    [
        b.at(1, hours=5),  # infection's deadline (day 1 + 6 h) still ahead, today
        b.at(1, hours=9),  # passed, today
        b.at(15),  # R10 deadlines (day 14) passed yesterday
        b.at(40),  # next month
        b.at(67),  # R8 of the ESI on day 10: due on day 66
        b.at(400),  # next year
    ],
)
def test_the_summary_from_totals_equals_a_count_of_the_due_findings(now):
    episodes = mixed_set()
    summary = summary_v2(*episodes, now=now)
    total, flagged, findings = brute_force(episodes, now)
    assert summary.episodes == total
    assert (summary.flagged, summary.by_severity[0].key) == (
        flagged[("any",)],
        "critical",
    )
    for count in summary.by_rule:
        rule = count.key.split()[0]
        assert (count.flagged, count.findings) == (
            flagged[("rule", rule)],
            findings[("rule", rule)],
        ), rule
    for count in summary.by_severity:
        key = ("severity", count.key)
        assert (count.flagged, count.findings) == (flagged[key], findings[key])
    for group, kind in (
        (summary.by_referrer, "referrer"),
        (summary.by_surgeon, "surgeon"),
    ):
        for count in group:
            key = (kind, count.key)
            assert (count.flagged, count.findings) == (flagged[key], findings[key])


def test_an_r5_finding_counts_its_episode_at_once_and_only_once():
    first = treatment.measured_esis(treatment.noted(), [10, 60, 120, 180])
    later = treatment.second_episode(200)
    b.record(later, cmd.RecordOutcome, b.outcome(score=46), days=239)
    b.record(later, cmd.PerformIntervention, b.esi(), days=240)  # R5; R8 due day 296
    for day, medium in ((250, 0), (300, 1)):
        summary = summary_v2(first, later, now=b.at(day))
        severity = {c.key: c.flagged for c in summary.by_severity}
        [referrer] = summary.by_referrer
        assert (summary.flagged, severity["high"], severity["medium"]) == (1, 1, medium)
        assert (referrer.flagged, referrer.findings) == (1, 1 + medium)


# -- 8. attribution ------------------------------------------------------------------------


def test_only_r1_to_r4_and_r9_are_counted_against_surgeons():
    episodes = [
        referred(loop_episode(), 70),  # R1-R4 on dr-ss-1
        deadline.cauda_equina(6),  # R9 on dr-ss-9
        referred(treatment.repeated(None), 120, surgeon={"id": "dr-ss-3", "name": "S"}),
    ]
    surgeons = {c.key: c for c in summary_v2(*episodes).by_surgeon}
    assert {k: (c.episodes, c.flagged) for k, c in surgeons.items()} == {
        "dr-ss-1": (1, 1),
        "dr-ss-3": (1, 1),
        "dr-ss-9": (1, 1),
    }
    # dr-ss-3's episode has R6 and R8 (not the surgeon's) and R1-R4 (the surgeon's)
    assert {r: n for r, n in surgeons["dr-ss-3"].by_rule.items() if n} == {
        "R1": 1, "R2": 1, "R3": 1, "R4": 1,
    }  # fmt: skip
    assert fired_v2(episodes[2]) == {"R1", "R2", "R3", "R4", "R6", "R8"}


def test_r10_is_counted_against_the_referrer_of_its_own_referral():
    episode = deadline.noted_on(2)
    later = b.further_referral(referrer=deadline.PC2, receiving_service="pain_medicine")
    b.record(episode, cmd.ReceiveReferral, later, days=20)
    referrers = {c.key: c for c in summary_v2(episode).by_referrer}
    assert {
        k: (c.episodes, c.flagged, c.by_rule["R10"]) for k, c in referrers.items()
    } == {
        "dr-pc-1": (1, 0, 0),
        "dr-pc-2": (1, 1, 1),
    }


def test_red_flag_exempt_episodes_are_counted():
    assert summary_v2(deadline.cauda_equina(2)).red_flag_exempt == 1


def test_care_days_metric_counts_documented_care_up_to_the_referral():
    episode = loop_episode()
    start = date(2026, 3, 10)
    care = b.conservative_care(started_on=start, ended_on=start + timedelta(days=27))
    b.record(episode, cmd.RecordConservativeCare, care, days=60)
    referred(episode, 70)
    assert audit_v2(episode)["metrics"]["conservative_care_weeks"] == 4.0
