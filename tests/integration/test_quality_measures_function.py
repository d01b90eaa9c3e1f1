"""FS-CHG on SQLite and PostgreSQL: intake ODI within 14 days, discharge ODI in the
30 days before closure, the MCID (10 points or 30 %), and the exclusions."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from domain import commands as cmd
from tests.integration.measures_support import (  # noqa: F401
    Practice,
    practice_fixture,
    roles,
)
from tests.support import builders as b

FS = "FS-CHG"


def odi(score: float) -> dict:
    return b.outcome(instrument="odi", score=Decimal(str(score)))


def closed_course(
    practice: Practice,
    patient: str,
    intake: tuple[float, float] | None = (2, 46),
    discharge: tuple[float, float] | None = (80, 30),
    closed_on: float = 90,
) -> UUID:
    """An episode with an intake and a discharge ODI (day, score), then closed."""
    ep = practice.open(patient_id=patient)
    for point in (intake, discharge):
        if point is not None:
            practice.do(ep, cmd.RecordOutcome, odi(point[1]), days=point[0])
    practice.do(ep, cmd.CloseEpisode, b.closure(), days=closed_on)
    return ep


def test_an_odi_improved_by_the_mcid_at_discharge_is_in_the_numerator(
    practice: Practice,
):
    ep = closed_course(practice, "pt-a")
    row = practice.decision(FS, ep)
    assert (row["status"], row["exclusion"]) == ("numerator", None)
    assert roles(row) == [
        ("opening", 1),
        ("closure", 4),
        ("intake", 2),
        ("discharge", 3),
    ]
    assert row["anchor_at"] == b.at(90)
    assert "ODI 46 -> 30" in row["reason"]


def test_ten_points_or_thirty_percent_meet_the_mcid_and_less_does_not(
    practice: Practice,
):
    points = closed_course(practice, "pt-a", intake=(2, 60), discharge=(80, 50))
    percent = closed_course(practice, "pt-b", intake=(2, 30), discharge=(80, 21))
    short = closed_course(practice, "pt-c", intake=(2, 28), discharge=(80, 20))
    worse = closed_course(practice, "pt-d", intake=(2, 40), discharge=(80, 50))
    assert practice.decided(FS) == {
        points: ("numerator", None),
        percent: ("numerator", None),
        short: ("denominator", None),
        worse: ("denominator", None),
    }


def test_the_intake_odi_must_come_within_14_days_of_opening(practice: Practice):
    day_14 = closed_course(practice, "pt-a", intake=(14.5, 46))
    day_15 = closed_course(practice, "pt-b", intake=(15, 46))
    none = closed_course(practice, "pt-c", intake=None)
    assert practice.decided(FS) == {
        day_14: ("numerator", None),
        day_15: ("not_eligible", None),
        none: ("not_eligible", None),
    }


def test_the_discharge_odi_must_come_in_the_30_days_before_closure(
    practice: Practice,
):
    day_30 = closed_course(practice, "pt-a", discharge=(60, 30), closed_on=90)
    day_31 = closed_course(practice, "pt-b", discharge=(59, 30), closed_on=90)
    same_day = closed_course(practice, "pt-c", discharge=(90, 30), closed_on=90)
    assert practice.decided(FS) == {
        day_30: ("numerator", None),
        day_31: ("denominator", None),
        same_day: ("numerator", None),
    }
    assert "no ODI after intake" in practice.decision(FS, day_31)["reason"]


def test_the_intake_score_is_not_its_own_discharge_score(practice: Practice):
    ep = closed_course(practice, "pt-a", intake=(10, 46), discharge=None, closed_on=20)
    assert practice.decided(FS) == {ep: ("denominator", None)}


def test_episodes_closed_within_14_days_are_excluded(practice: Practice):
    day_14 = closed_course(practice, "pt-a", discharge=(10, 30), closed_on=14)
    day_15 = closed_course(practice, "pt-b", discharge=(10, 30), closed_on=15)
    assert practice.decided(FS) == {
        day_14: ("excluded", "closed_within_14_days"),
        day_15: ("numerator", None),
    }


def test_a_red_flag_exempt_surgery_referral_excludes_and_urgency_alone_does_not(
    practice: Practice,
):
    urgent = b.surgery_referral(urgency="urgent", indication="red_flag")
    exempt = practice.open(patient_id="pt-a", red_flags=["cauda_equina"])
    practice.do(exempt, cmd.RecordOutcome, odi(46), days=1)
    practice.do(exempt, cmd.ReferToSurgery, urgent, days=1, hours=1)
    practice.do(exempt, cmd.CloseEpisode, b.closure(reason="surgery"), days=40)
    plain = practice.open(patient_id="pt-b")
    practice.do(plain, cmd.RecordOutcome, odi(46), days=1)
    practice.do(plain, cmd.ReferToSurgery, urgent, days=1, hours=1)
    practice.do(plain, cmd.CloseEpisode, b.closure(reason="surgery"), days=40)
    assert practice.decided(FS) == {
        exempt: ("excluded", "red_flag_exempt_surgery"),
        plain: ("denominator", None),
    }
    assert roles(practice.decision(FS, exempt)) == [
        ("opening", 1),
        ("closure", 4),
        ("intake", 2),
        ("surgery_referral", 3),
        ("red_flag", 1),
    ]


def test_an_open_episode_is_not_in_the_denominator_until_it_closes(
    practice: Practice,
):
    ep = practice.open()
    practice.do(ep, cmd.RecordOutcome, odi(46), days=2)
    assert practice.decided(FS) == {ep: ("not_eligible", None)}
    practice.do(ep, cmd.RecordOutcome, odi(20), days=60)
    practice.do(ep, cmd.CloseEpisode, b.closure(), days=61)
    assert practice.decided(FS) == {ep: ("numerator", None)}
    assert practice.matches_a_fold()


def test_an_amended_discharge_score_is_judged_as_corrected_and_named(
    practice: Practice,
):
    ep = practice.open()
    practice.do(ep, cmd.RecordOutcome, odi(46), days=2)
    discharge = practice.do(ep, cmd.RecordOutcome, odi(30), days=80)
    correction = {
        "amends_version": discharge,
        "fields": {"score": 40},
        "reason": "score transcribed wrongly",
    }
    amendment = practice.do(ep, cmd.AmendEvent, correction, days=85)
    practice.do(ep, cmd.CloseEpisode, b.closure(), days=90)
    row = practice.decision(FS, ep)
    assert (row["status"], row["exclusion"]) == ("denominator", None)
    assert "ODI 46 -> 40" in row["reason"]
    [entry] = [e for e in row["deciding"] if e["role"] == "discharge"]
    assert (entry["version"], entry["amended_by"]["version"]) == (3, amendment)
    assert practice.matches_a_fold()
