"""Outcome items: the trend against the instrument's reference and its meaningful change."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import commands as cmd
from tests.support import builders as b
from tests.unit.feed_support import after, summaries


def scored(instrument: str, *scores: str | int) -> list[str]:
    """The summaries of these scores of one instrument, a day apart, before any
    treatment."""
    episode = b.opened_episode()
    for day, score in enumerate(scores, start=1):
        body = b.outcome(instrument=instrument, score=Decimal(score))
        b.record(episode, cmd.RecordOutcome, body, days=day)
    return summaries(episode)[1:]


@pytest.mark.parametrize(
    ("instrument", "reference", "score", "expected"),
    [
        # ODI: 10 points or 30 % (Ostelo 2008)
        ("odi", 46, 30, "ODI 46 → 30: meaningful improvement"),
        ("odi", 20, 14, "ODI 20 → 14: meaningful improvement"),
        ("odi", 46, 40, "ODI 46 → 40: no meaningful change"),
        ("odi", 30, 46, "ODI 30 → 46: meaningful worsening"),
        # NRS: 2 points or 30 %
        ("nrs_pain", 7, 4, "NRS 7 → 4: meaningful improvement"),
        ("nrs_pain", 3, 2, "NRS 3 → 2: meaningful improvement"),
        ("nrs_pain", 7, 6, "NRS 7 → 6: no meaningful change"),
        ("nrs_pain", 4, 7, "NRS 4 → 7: meaningful worsening"),
        # PROMIS physical function: higher is better, 5 T-score points
        ("promis_pf", 38, 45, "PROMIS PF 38 → 45: meaningful improvement"),
        ("promis_pf", 45, 42, "PROMIS PF 45 → 42: no meaningful change"),
        ("promis_pf", 45, 38, "PROMIS PF 45 → 38: meaningful worsening"),
        # PROMIS pain interference: lower is better, 5 T-score points
        ("promis_pi", 62, 55, "PROMIS PI 62 → 55: meaningful improvement"),
        ("promis_pi", 60, 57, "PROMIS PI 60 → 57: no meaningful change"),
        ("promis_pi", 55, 62, "PROMIS PI 55 → 62: meaningful worsening"),
    ],
)
def test_a_later_score_is_judged_against_the_instruments_meaningful_change(
    instrument, reference, score, expected
):
    assert scored(instrument, reference, score)[-1] == expected


def test_the_first_score_before_any_treatment_is_the_baseline():
    assert scored("odi", 46) == ["ODI 46: baseline"]


def test_every_later_score_is_compared_with_the_baseline_not_the_previous_score():
    assert scored("odi", 46, 40, 34) == [
        "ODI 46: baseline",
        "ODI 46 → 40: no meaningful change",
        "ODI 46 → 34: meaningful improvement",
    ]


def test_a_fractional_score_is_written_as_scored():
    assert scored("nrs_pain", 7, "4.5")[-1] == "NRS 7 → 4.5: meaningful improvement"


def test_a_first_score_after_a_treatment_is_no_baseline_but_the_reference():
    episode = b.opened_episode()
    b.record(episode, cmd.PerformIntervention, b.esi(), days=5)
    first = b.outcome(instrument="nrs_pain", score=Decimal(6), follows_version=2)
    assert after(episode, cmd.RecordOutcome, first, days=20) == (
        "NRS 6: first score (no baseline before treatment)"
    )
    later = b.outcome(instrument="nrs_pain", score=Decimal(3), follows_version=2)
    assert after(episode, cmd.RecordOutcome, later, days=40) == (
        "NRS 6 → 3: meaningful improvement"
    )


def test_a_late_recorded_score_from_before_treatment_becomes_the_baseline():
    episode = b.opened_episode()
    b.record(episode, cmd.PerformIntervention, b.esi(), days=5)
    b.record(episode, cmd.RecordOutcome, b.outcome(score=Decimal(30)), days=40)
    late = after(episode, cmd.RecordOutcome, b.outcome(score=Decimal(50)), days=2)
    assert late == "ODI 50: baseline"
    assert after(episode, cmd.RecordOutcome, b.outcome(score=Decimal(44)), 60) == (
        "ODI 50 → 44: no meaningful change"
    )


@pytest.mark.parametrize(
    ("relief", "expected"),
    [
        (60, "Relief 60 %: responder"),
        (50, "Relief 50 %: responder"),
        (30, "Relief 30 %: below the 50 % responder threshold"),
    ],
)
def test_relief_is_judged_against_the_50_percent_responder_threshold(relief, expected):
    episode = b.opened_episode()
    b.record(episode, cmd.PerformIntervention, b.esi(), days=5)
    body = b.outcome(
        instrument="relief_percent", score=Decimal(relief), follows_version=2
    )
    assert after(episode, cmd.RecordOutcome, body, days=19) == expected
