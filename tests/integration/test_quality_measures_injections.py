"""ESI-RESP on SQLite and PostgreSQL: each ESI session that repeats an earlier one
within 12 months, and whether the earlier one's relief of >= 50 % was on record
before it; sessions as DOMAIN v2 counts them, across the patient's episodes."""

from __future__ import annotations

from uuid import UUID

from domain import commands as cmd
from tests.integration.measures_support import (  # noqa: F401
    Practice,
    practice_fixture,
    roles,
)
from tests.support import builders as b

ESI = "ESI-RESP"


def relief(percent: float, follows: int) -> dict:
    return b.outcome(
        instrument="relief_percent", score=percent, follows_version=follows
    )


def decided(practice: Practice) -> dict[tuple[UUID, str], tuple[str, str | None]]:
    return {
        (UUID(r["episode_id"]), r["subject"]): (r["status"], r["exclusion"])
        for r in practice.decisions(ESI)
    }


def repeated(practice: Practice, patient: str, percent: float | None) -> UUID:
    """An ESI on day 1, its relief on day 15 (if any), a repeat on day 40."""
    ep = practice.open(patient_id=patient)
    first = practice.do(ep, cmd.PerformIntervention, b.esi(), days=1)
    if percent is not None:
        practice.do(ep, cmd.RecordOutcome, relief(percent, first), days=15)
    practice.do(ep, cmd.PerformIntervention, b.esi(), days=40)
    return ep


def test_a_repeat_after_a_response_of_50_percent_is_in_the_numerator(
    practice: Practice,
):
    responder = repeated(practice, "pt-a", 50)
    partial = repeated(practice, "pt-b", 49)
    unmeasured = repeated(practice, "pt-c", None)
    session = "lumbosacral 2026-04-11"
    assert decided(practice) == {
        (responder, session): ("numerator", None),
        (partial, session): ("denominator", None),
        (unmeasured, session): ("denominator", None),
    }
    assert roles(practice.decision(ESI, responder)) == [
        ("repeat", 4),
        ("previous_session", 2),
        ("relief", 3),
    ]


def test_a_first_session_and_a_same_day_second_level_are_no_repeat(
    practice: Practice,
):
    ep = practice.open()
    practice.do(ep, cmd.PerformIntervention, b.esi(), days=1)
    practice.do(ep, cmd.PerformIntervention, b.esi(levels=["L4-L5"]), days=1, hours=1)
    practice.do(
        ep, cmd.PerformIntervention, b.esi(region="cervical", levels=["C5-C6"]), days=3
    )
    assert decided(practice) == {}


def test_relief_recorded_only_after_the_repeat_does_not_count(practice: Practice):
    ep = practice.open()
    first = practice.do(ep, cmd.PerformIntervention, b.esi(), days=1)
    practice.do(ep, cmd.PerformIntervention, b.esi(), days=40)
    practice.do(ep, cmd.RecordOutcome, relief(80, first), days=41)
    assert decided(practice) == {(ep, "lumbosacral 2026-04-11"): ("denominator", None)}


def test_a_fall_in_nrs_pain_of_half_is_a_response(practice: Practice):
    ep = practice.open()
    practice.do(
        ep, cmd.RecordOutcome, b.outcome(instrument="nrs_pain", score=8), days=0.5
    )
    first = practice.do(ep, cmd.PerformIntervention, b.esi(), days=1)
    nrs = b.outcome(instrument="nrs_pain", score=4, follows_version=first)
    practice.do(ep, cmd.RecordOutcome, nrs, days=14)
    practice.do(ep, cmd.PerformIntervention, b.esi(), days=40)
    assert decided(practice) == {(ep, "lumbosacral 2026-04-11"): ("numerator", None)}


def test_a_repeat_is_one_within_365_days_of_the_previous_session(practice: Practice):
    within = practice.open(patient_id="pt-a")
    practice.do(within, cmd.PerformIntervention, b.esi(), days=1)
    practice.do(within, cmd.PerformIntervention, b.esi(), days=365)
    beyond = practice.open(patient_id="pt-b")
    practice.do(beyond, cmd.PerformIntervention, b.esi(), days=1)
    practice.do(beyond, cmd.PerformIntervention, b.esi(), days=366)
    assert decided(practice) == {
        (within, "lumbosacral 2027-03-02"): ("denominator", None),
        (beyond, "lumbosacral 2027-03-03"): ("not_eligible", None),
    }


def test_the_previous_session_may_be_in_another_episode_of_the_patient(
    practice: Practice,
):
    earlier = practice.open(patient_id="pt-a")
    first = practice.do(earlier, cmd.PerformIntervention, b.esi(), days=1)
    practice.do(earlier, cmd.RecordOutcome, relief(70, first), days=15)
    practice.do(earlier, cmd.CloseEpisode, b.closure(), days=20)
    later = practice.open(patient_id="pt-a", days=60)
    practice.do(later, cmd.PerformIntervention, b.esi(), days=61)
    stranger = practice.open(patient_id="pt-b", days=60)
    practice.do(stranger, cmd.PerformIntervention, b.esi(), days=61)
    assert decided(practice) == {(later, "lumbosacral 2026-05-02"): ("numerator", None)}
    row = practice.decision(ESI, later)
    assert [(e["role"], e["episode_id"]) for e in row["deciding"]] == [
        ("repeat", str(later)),
        ("previous_session", str(earlier)),
        ("relief", str(earlier)),
    ]
    assert practice.matches_a_fold()
