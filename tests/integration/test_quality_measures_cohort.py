"""A small practice counted by hand, on SQLite and PostgreSQL: the view's rates per
measure, per referrer and per period are the hand counts.

T0 is Monday 2 March 2026, 09:00 UTC; every patient is 35-49 with axial low
back pain unless said otherwise; dr-1 and dr-2 are the opening referrers.

| ep | by   | opened | events (day after T0)                        | LBP-IMG  | FS-CHG       | PROM-REG | ESI-RESP |
|----|------|--------|----------------------------------------------|----------|--------------|----------|----------|
| A  | dr-1 | d0     | ODI 50 d2, ODI 30 d60, closed d70            | num      | num (-20)    | n/e      | -        |
| B  | dr-1 | d0     | MRI d5, ODI 50 d2, ODI 45 d60, closed d70    | den      | den (-5)     | n/e      | -        |
| C  | dr-2 | d0     | fracture on the referral                     | excluded | n/e (open)   | n/e      | -        |
| D  | dr-2 | d30    | ODI 40 d31, closed d40 (day 10)              | num      | excluded     | n/e      | -        |
| E  | dr-2 | d0     | age 76+                                      | n/e      | n/e (open)   | n/e      | -        |
| F  | dr-1 | d0     | ODI 60 d2, ESI d10, NRS d100, NRS d375       | num      | n/e (open)   | num      | -        |
| G  | dr-2 | d0     | ESI d5, relief 60 % d20, ESI d40             | num      | n/e (open)   | den      | num      |
| H  | dr-1 | d0     | ESI d5, ESI d40                              | num      | n/e (open)   | den      | den      |
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from domain import commands as cmd
from projections.quality_measures import MeasuresSummary, Rate
from tests.integration.measures_support import (  # noqa: F401
    LATER,
    Practice,
    practice_fixture,
)
from tests.support import builders as b

Figures = tuple[int, int, int, int, int, float | None]
"""(numerator, denominator, excluded, not eligible, pending, rate)."""


def odi(score: int) -> dict:
    return b.outcome(instrument="odi", score=score)


def nrs(score: int) -> dict:
    return b.outcome(instrument="nrs_pain", score=score)


def cohort(practice: Practice) -> dict[str, UUID]:
    """The eight episodes of the table above."""
    dr1 = {"id": "dr-1", "name": "Dr One", "role": "primary_care"}
    dr2 = {"id": "dr-2", "name": "Dr Two", "role": "primary_care"}
    do = practice.do
    a = practice.open(patient_id="pt-a", referrer=dr1)
    do(a, cmd.RecordOutcome, odi(50), days=2)
    do(a, cmd.RecordOutcome, odi(30), days=60)
    do(a, cmd.CloseEpisode, b.closure(), days=70)
    b_ = practice.open(patient_id="pt-b", referrer=dr1)
    do(b_, cmd.RecordOutcome, odi(50), days=2)
    do(b_, cmd.RecordDiagnostic, b.mri(), days=5)
    do(b_, cmd.RecordOutcome, odi(45), days=60)
    do(b_, cmd.CloseEpisode, b.closure(), days=70)
    c = practice.open(patient_id="pt-c", referrer=dr2, red_flags=["fracture"])
    d = practice.open(patient_id="pt-d", referrer=dr2, days=30)
    do(d, cmd.RecordOutcome, odi(40), days=31)
    do(d, cmd.CloseEpisode, b.closure(), days=40)
    e = practice.open(patient_id="pt-e", referrer=dr2, age_band="76+")
    f = practice.open(patient_id="pt-f", referrer=dr1)
    do(f, cmd.RecordOutcome, odi(60), days=2)
    do(f, cmd.PerformIntervention, b.esi(), days=10)
    do(f, cmd.RecordOutcome, nrs(4), days=100)
    do(f, cmd.RecordOutcome, nrs(3), days=375)
    g = practice.open(patient_id="pt-g", referrer=dr2)
    first = do(g, cmd.PerformIntervention, b.esi(), days=5)
    relief = b.outcome(instrument="relief_percent", score=60, follows_version=first)
    do(g, cmd.RecordOutcome, relief, days=20)
    do(g, cmd.PerformIntervention, b.esi(), days=40)
    h = practice.open(patient_id="pt-h", referrer=dr1)
    do(h, cmd.PerformIntervention, b.esi(), days=5)
    do(h, cmd.PerformIntervention, b.esi(), days=40)
    return {"A": a, "B": b_, "C": c, "D": d, "E": e, "F": f, "G": g, "H": h}


def figures(rate: Rate) -> Figures:
    return (
        rate.numerator,
        rate.denominator,
        rate.excluded,
        rate.not_eligible,
        rate.pending,
        rate.rate,
    )


def report(
    summary: MeasuresSummary, measure: str
) -> tuple[Figures, dict[str, Figures], dict[str, Figures]]:
    """(overall, per referrer, per period) figures of one measure."""
    [found] = [m for m in summary.measures if m.measure == measure]
    return (
        figures(found.overall),
        {r.key: figures(r) for r in found.by_referrer},
        {r.key: figures(r) for r in found.by_period},
    )


@pytest.fixture(name="counted")
def counted_fixture(practice: Practice) -> tuple[Practice, dict[str, UUID]]:
    return practice, cohort(practice)


def test_lbp_img_rates_are_the_hand_counts(counted):
    practice, _ = counted
    assert report(practice.summary(), "LBP-IMG") == (
        (5, 6, 1, 1, 0, 0.8333),
        {"dr-1": (3, 4, 0, 0, 0, 0.75), "dr-2": (2, 2, 1, 1, 0, 1.0)},
        {"2026-03": (4, 5, 1, 1, 0, 0.8), "2026-04": (1, 1, 0, 0, 0, 1.0)},
    )


def test_fs_chg_rates_are_the_hand_counts(counted):
    practice, _ = counted
    assert report(practice.summary(), "FS-CHG") == (
        (1, 2, 1, 5, 0, 0.5),
        {"dr-1": (1, 2, 0, 2, 0, 0.5), "dr-2": (0, 0, 1, 3, 0, None)},
        # Closed episodes count in their closing month, open ones in their opening.
        {
            "2026-03": (0, 0, 0, 5, 0, None),
            "2026-04": (0, 0, 1, 0, 0, None),
            "2026-05": (1, 2, 0, 0, 0, 0.5),
        },
    )


def test_prom_reg_rates_are_the_hand_counts_once_the_year_is_over(counted):
    practice, _ = counted
    assert report(practice.summary(), "PROM-REG") == (
        (1, 3, 0, 5, 0, 0.3333),
        {"dr-1": (1, 2, 0, 2, 0, 0.5), "dr-2": (0, 1, 0, 3, 0, 0.0)},
        # Episodes with no index treatment count in their opening month.
        {"2026-03": (1, 3, 0, 4, 0, 0.3333), "2026-04": (0, 0, 0, 1, 0, None)},
    )


def test_prom_reg_counts_unfinished_windows_as_too_young_before_they_close(counted):
    practice, _ = counted
    now = b.at(200)
    overall, _, _ = report(practice.summary(now), "PROM-REG")
    # F met every point already; G and H may still get theirs.
    assert overall == (1, 1, 2, 5, 0, 1.0)
    [measure] = practice.summary(now, measures=("PROM-REG",)).measures
    assert measure.overall.exclusions == {"younger_than_window": 2}


def test_esi_resp_rates_are_the_hand_counts(counted):
    practice, _ = counted
    assert report(practice.summary(), "ESI-RESP") == (
        (1, 2, 0, 0, 0, 0.5),
        {"dr-1": (0, 1, 0, 0, 0, 0.0), "dr-2": (1, 1, 0, 0, 0, 1.0)},
        {"2026-04": (1, 2, 0, 0, 0, 0.5)},
    )


def test_lbp_img_is_pending_for_the_april_episode_on_its_28th_day(counted):
    practice, episodes = counted
    now = b.at(58)  # D opened on day 30: day 28 after it is still running
    overall, _, by_period = report(practice.summary(now), "LBP-IMG")
    assert overall == (4, 5, 1, 1, 1, 0.8)
    assert by_period["2026-04"] == (0, 0, 0, 0, 1, None)
    assert practice.decision("LBP-IMG", episodes["D"], now)["status"] == "pending"


def test_filters_narrow_the_rates_to_a_referrer_and_a_window(counted):
    practice, _ = counted
    overall, by_referrer, _ = report(
        practice.summary(referrer_id="dr-2", occurred_from=b.at(20)), "LBP-IMG"
    )
    assert overall == (1, 1, 0, 0, 0, 1.0)  # D alone
    assert list(by_referrer) == ["dr-2"]
    until_april = practice.summary(occurred_to=datetime(2026, 4, 1, tzinfo=UTC))
    assert report(until_april, "LBP-IMG")[0] == (4, 5, 1, 1, 0, 0.8)


def test_the_per_quarter_and_per_year_groups_add_the_months_up(counted):
    practice, _ = counted
    _, _, quarters = report(practice.summary(period="quarter"), "FS-CHG")
    assert quarters == {
        "2026-Q1": (0, 0, 0, 5, 0, None),
        "2026-Q2": (1, 2, 1, 0, 0, 0.5),
    }
    _, _, years = report(practice.summary(period="year"), "LBP-IMG")
    assert years == {"2026": (5, 6, 1, 1, 0, 0.8333)}


def test_the_read_model_equals_a_rebuild_from_the_events(counted):
    practice, _ = counted
    assert practice.matches_a_fold()
