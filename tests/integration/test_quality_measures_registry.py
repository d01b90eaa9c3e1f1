"""PROM-REG on SQLite and PostgreSQL: a baseline before the index treatment, an
outcome 60-120 and one 305-425 days after it; too young until the 1-year window
closes."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from domain import commands as cmd
from tests.integration.measures_support import (  # noqa: F401
    Practice,
    practice_fixture,
    roles,
)
from tests.support import builders as b

REG = "PROM-REG"
INDEX_DAY = 10


def treated(
    practice: Practice,
    patient: str,
    *follow_ups: float,
    baseline: float | None = 5,
    instrument: str = "odi",
) -> UUID:
    """An ESI on day 10 with a baseline and outcomes `follow_ups` days after it."""
    ep = practice.open(patient_id=patient)
    if baseline is not None:
        practice.do(ep, cmd.RecordOutcome, b.outcome(), days=baseline)
    practice.do(ep, cmd.PerformIntervention, b.esi(), days=INDEX_DAY)
    for day in follow_ups:
        body = b.outcome(instrument=instrument, score=30)
        practice.do(ep, cmd.RecordOutcome, body, days=INDEX_DAY + day)
    return ep


def test_a_baseline_and_both_follow_ups_put_the_episode_in_the_numerator(
    practice: Practice,
):
    ep = treated(practice, "pt-a", 90, 365)
    row = practice.decision(REG, ep, now=b.at(INDEX_DAY + 366))
    assert (row["status"], row["due_at"]) == ("numerator", None)
    assert roles(row) == [
        ("opening", 1),
        ("index", 3),
        ("baseline", 2),
        ("90_days", 4),
        ("1_year", 5),
    ]
    assert row["anchor_at"] == b.at(INDEX_DAY)


def test_the_90_day_window_runs_from_day_60_to_day_120(practice: Practice):
    day_59 = treated(practice, "pt-a", 59, 365)
    day_60 = treated(practice, "pt-b", 60, 365)
    day_120 = treated(practice, "pt-c", 120, 365)
    day_121 = treated(practice, "pt-d", 121, 365)
    assert practice.decided(REG) == {
        day_59: ("denominator", None),
        day_60: ("numerator", None),
        day_120: ("numerator", None),
        day_121: ("denominator", None),
    }


def test_the_1_year_window_runs_from_day_305_to_day_425(practice: Practice):
    day_304 = treated(practice, "pt-a", 90, 304)
    day_305 = treated(practice, "pt-b", 90, 305)
    day_425 = treated(practice, "pt-c", 90, 425)
    day_426 = treated(practice, "pt-d", 90, 426)
    assert practice.decided(REG) == {
        day_304: ("denominator", None),
        day_305: ("numerator", None),
        day_425: ("numerator", None),
        day_426: ("denominator", None),
    }


def test_the_baseline_must_come_before_the_index_treatment(practice: Practice):
    same_day = practice.open(patient_id="pt-a")
    practice.do(same_day, cmd.RecordOutcome, b.outcome(), days=INDEX_DAY)
    practice.do(same_day, cmd.PerformIntervention, b.esi(), days=INDEX_DAY, hours=1)
    for day in (90, 365):
        practice.do(same_day, cmd.RecordOutcome, b.outcome(), days=INDEX_DAY + day)
    after = treated(practice, "pt-b", 0.5, 90, 365, baseline=None)
    relief = treated(practice, "pt-c", 90, 365, instrument="relief_percent")
    assert practice.decided(REG) == {
        same_day: ("numerator", None),
        after: ("denominator", None),
        relief: ("denominator", None),
    }
    assert "no baseline" in practice.decision(REG, after)["reason"]


def test_an_episode_is_excluded_as_too_young_until_its_window_closes(
    practice: Practice,
):
    ep = treated(practice, "pt-a", 90)
    due = b.at(INDEX_DAY + 426).replace(hour=0)
    young = practice.decision(REG, ep, now=due - timedelta(microseconds=1))
    assert (young["status"], young["exclusion"]) == ("excluded", "younger_than_window")
    assert (young["due_at"], young["final"]["status"]) == (due, "denominator")
    old = practice.decision(REG, ep, now=due)
    assert (old["status"], old["exclusion"], old["final"]) == (
        "denominator",
        None,
        None,
    )


def test_a_met_numerator_counts_before_the_window_closes(practice: Practice):
    ep = treated(practice, "pt-a", 90, 310)
    assert practice.decided(REG, now=b.at(INDEX_DAY + 311)) == {ep: ("numerator", None)}


def test_the_first_treatment_of_any_kind_is_the_index(practice: Practice):
    none = practice.open(patient_id="pt-a")
    practice.do(none, cmd.RecordConservativeCare, b.conservative_care(), days=45)
    surgery = practice.open(patient_id="pt-b")
    practice.do(surgery, cmd.RecordOutcome, b.outcome(), days=1)
    practice.do(surgery, cmd.ReferToSurgery, b.surgery_referral(), days=2)
    practice.do(surgery, cmd.AdministerBiologic, b.prp(), days=5)
    assert practice.decided(REG, now=b.at(3)) == {
        none: ("not_eligible", None),
        surgery: ("excluded", "younger_than_window"),
    }
    assert roles(practice.decision(REG, surgery)) == [
        ("opening", 1),
        ("index", 3),
        ("baseline", 2),
    ]
