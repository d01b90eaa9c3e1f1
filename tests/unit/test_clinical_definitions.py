"""The DOMAIN v2 definitions the audit relies on (projections.clinical.definitions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain import commands as cmd
from projections.base import State
from projections.clinical.definitions import (
    documented_care_days,
    esi_sessions,
    esis_of,
    flag_runs,
    identifications,
    identified_between,
    in_rolling_year,
    meaningful_change_by,
    months_before,
    relief_after,
    standing_flags,
    when,
)
from projections.clinical.facts import opened_state, recorded
from projections.clinical.parameters import (
    MCID,
    NHS_BLOCKS,
    PAYER_BLOCKS,
    Evidence,
    block_profile,
)
from tests.support import builders as b

PAYER = Evidence(PAYER_BLOCKS)
NHS = Evidence(NHS_BLOCKS)


def facts(episode) -> State:
    """The clinical facts of an in-memory episode's events."""
    events = list(episode.pending_events)
    state = opened_state(events[0])
    for position, event in enumerate(events, start=1):
        state = recorded(state, event, position)
    return state


def diagnosed(*bodies: dict) -> State:
    episode = b.opened_episode()
    for day, body in enumerate(bodies, start=1):
        b.record(episode, cmd.RecordDiagnostic, body, days=day)
    return facts(episode)


def generators(state: State, evidence: Evidence = PAYER) -> list[str]:
    return [i.generator for i in identifications(state, evidence)]


# -- months and the rolling year -------------------------------------------------


def test_six_months_before_the_first_of_march_is_the_first_of_september():
    assert months_before(date(2026, 3, 1), 6) == date(2025, 9, 1)


def test_a_day_the_earlier_month_lacks_becomes_its_last_day():
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)


def test_the_rolling_year_is_the_365_days_ending_on_the_day():
    day = date(2026, 12, 31)
    assert in_rolling_year(date(2026, 1, 1), day)
    assert not in_rolling_year(date(2025, 12, 31), day)
    assert not in_rolling_year(date(2027, 1, 1), day)


# -- pain generator identified -----------------------------------------------------


def test_a_physical_exam_alone_identifies_no_radicular_pain():
    exam = b.mri(kind="physical_exam", pain_generator="radicular")
    assert generators(diagnosed(exam)) == []


def test_an_mri_naming_radicular_pain_identifies_it():
    assert generators(diagnosed(b.mri(pain_generator="radicular"))) == ["radicular"]


def test_an_exam_named_radicular_pain_is_identified_when_an_emg_confirms_it():
    exam = b.mri(kind="physical_exam", pain_generator="radicular")
    emg = b.mri(kind="emg_ncs", pain_generator="radicular")
    [found] = identifications(diagnosed(exam, emg), PAYER)
    assert (found.generator, found.version, found.evidence) == ("radicular", 3, (2, 3))


def test_an_mri_that_names_another_generator_confirms_nothing():
    exam = b.mri(kind="physical_exam", pain_generator="stenosis")
    assert generators(diagnosed(exam, b.mri(pain_generator="discogenic"))) == [
        "discogenic"
    ]


def test_a_generator_identified_again_counts_between_two_moments():
    state = diagnosed(
        b.mri(pain_generator="radicular"), b.mri(pain_generator="radicular")
    )
    assert [i.version for i in identifications(state, PAYER)] == [2]
    again = identified_between(state, PAYER, (b.at(1), 2), (b.at(9), 9))
    assert [(i.generator, i.version) for i in again] == [("radicular", 3)]


def test_an_xray_alone_identifies_no_stenosis():
    assert generators(diagnosed(b.mri(kind="xray", pain_generator="stenosis"))) == []


def test_myofascial_pain_may_rest_on_an_examination():
    exam = b.mri(kind="physical_exam", pain_generator="myofascial")
    assert generators(diagnosed(exam)) == ["myofascial"]


def test_nonspecific_pain_is_never_an_identification():
    assert generators(diagnosed(b.mri(pain_generator="nonspecific"))) == []


def test_facet_pain_needs_two_positive_blocks_on_the_payer_profile():
    one = diagnosed(b.medial_branch_block(85))
    two = diagnosed(b.medial_branch_block(85), b.medial_branch_block(90))
    assert generators(one) == [] and generators(two) == ["facet"]


def test_facet_pain_needs_one_block_of_50_percent_on_the_nhs_profile():
    assert generators(diagnosed(b.medial_branch_block(55)), NHS) == ["facet"]
    assert generators(diagnosed(b.medial_branch_block(45)), NHS) == []


def test_facet_blocks_must_cover_the_levels_the_diagnostic_named():
    blocks = [b.medial_branch_block(90, pain_generator=None)] * 2  # at L4-L5
    elsewhere = b.mri(pain_generator="facet", levels=["L3-L4"])
    there = b.mri(pain_generator="facet", levels=["L4-L5"])
    assert generators(diagnosed(elsewhere, *blocks)) == []
    [found] = identifications(diagnosed(there, *blocks), PAYER)
    assert (found.version, found.evidence) == (4, (2, 3, 4))


def test_sacroiliac_pain_needs_an_si_joint_block_of_75_percent():
    block = b.medial_branch_block(kind="si_joint_block", pain_generator="sacroiliac")
    low = {**block, "relief_percent": 70}
    high = {**block, "relief_percent": 75}
    assert generators(diagnosed(low)) == [] and generators(diagnosed(high)) == [
        "sacroiliac"
    ]


def test_an_unknown_block_profile_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match="nhs, payer"):
        block_profile("medicare")


# -- red flag standing ---------------------------------------------------------------


def screened(*steps: tuple[float, list[str]], referral_flags=()) -> State:
    episode = b.opened_episode(red_flags=list(referral_flags))
    for day, flags in steps:
        b.record(episode, cmd.ScreenRedFlags, b.screening(flags=flags), days=day)
    return facts(episode)


def test_a_referral_flag_stands_until_a_screening_that_does_not_list_it():
    state = screened((2, []), referral_flags=["fracture"])
    [run] = flag_runs(state)
    assert (run.flag, run.start["version"], run.end and run.end["version"]) == (
        "fracture",
        1,
        2,
    )
    assert standing_flags(state, (b.at(1), 9)) == {"fracture"}
    assert standing_flags(state, (b.at(2), 2)) == set()


def test_a_flag_reported_again_after_it_was_ruled_out_stands_anew():
    state = screened((1, ["infection"]), (2, []), (3, ["infection"]))
    assert [
        (r.start["version"], r.end and r.end["version"]) for r in flag_runs(state)
    ] == [
        (2, 3),
        (4, None),
    ]


def test_a_screening_listing_the_flag_confirms_a_referral_suspicion():
    state = screened((2, ["fracture"]), referral_flags=["fracture"])
    [run] = flag_runs(state)
    assert run.start["version"] == 1 and run.end is None


# -- documented conservative care -----------------------------------------------------


def cared(*courses: tuple[float, date, date | None]) -> State:
    episode = b.opened_episode()
    for day, start, end in courses:
        body = b.conservative_care(started_on=start, ended_on=end)
        b.record(episode, cmd.RecordConservativeCare, body, days=day)
    return facts(episode)


def test_a_course_of_one_day_documents_one_day():
    state = cared((10, date(2026, 3, 5), date(2026, 3, 5)))
    assert documented_care_days(state, date(2026, 4, 1)) == 1


def test_overlapping_courses_count_their_days_once():
    state = cared(
        (30, date(2026, 3, 3), date(2026, 3, 12)),
        (30, date(2026, 3, 10), date(2026, 3, 20)),
    )
    assert documented_care_days(state, date(2026, 4, 1)) == 18


def test_a_planned_end_in_the_future_documents_only_up_to_the_recording_day():
    state = cared((9, date(2026, 3, 3), date(2026, 6, 30)))  # recorded 2026-03-11
    assert documented_care_days(state, date(2026, 6, 30)) == 9


def test_care_is_counted_only_up_to_the_day_in_question():
    state = cared((60, date(2026, 3, 3), date(2026, 4, 30)))
    assert documented_care_days(state, date(2026, 3, 12)) == 10


# -- ESI sessions ---------------------------------------------------------------------


def test_two_levels_on_one_day_are_one_session_and_regions_group():
    episode = b.opened_episode()
    b.record(episode, cmd.PerformIntervention, b.esi(levels=["L4-L5"]), days=5)
    b.record(episode, cmd.PerformIntervention, b.esi(levels=["L5-S1"]), days=5, hours=1)
    b.record(
        episode, cmd.PerformIntervention, b.esi(region="sacroiliac"), days=5, hours=2
    )
    b.record(
        episode, cmd.PerformIntervention, b.esi(region="cervical"), days=5, hours=3
    )
    sessions = esi_sessions(esis_of(facts(episode)))
    assert [(s.group, len(s.esis), s.first["version"]) for s in sessions] == [
        ("lumbosacral", 3, 2),
        ("cervical_thoracic", 1, 5),
    ]


# -- outcomes -------------------------------------------------------------------------


def scored(*scores: tuple[float, str, int], treated_on: float | None = None) -> State:
    episode = b.opened_episode()
    for day, instrument, score in scores:
        if treated_on is not None and day > treated_on >= 0:
            b.record(episode, cmd.PerformIntervention, b.esi(), days=treated_on)
            treated_on = -1
        body = b.outcome(instrument=instrument, score=Decimal(score))
        b.record(episode, cmd.RecordOutcome, body, days=day)
    return facts(episode)


def test_meaningful_change_reads_the_latest_outcome_by_the_horizon():
    state = scored((1, "odi", 50), (60, "odi", 30), (85, "odi", 48))
    # improved on day 60, relapsed by day 85: not a meaningful change by day 91
    assert meaningful_change_by(state, b.at(91), MCID, 50) is False
    assert meaningful_change_by(state, b.at(70), MCID, 50) is True


def test_meaningful_change_without_a_baseline_is_not_judged():
    assert meaningful_change_by(scored(), b.at(91), MCID, 50) is None


def test_a_relief_score_of_50_percent_is_a_meaningful_change():
    state = scored((1, "odi", 50), (30, "relief_percent", 50))
    assert meaningful_change_by(state, b.at(91), MCID, 50) is True


def test_the_relief_after_an_esi_is_the_fall_in_nrs_from_before_it():
    episode = b.opened_episode()
    b.record(
        episode, cmd.RecordOutcome, b.outcome(instrument="nrs_pain", score=8), days=1
    )
    b.record(episode, cmd.PerformIntervention, b.esi(), days=2)
    esi = facts(episode)["interventions"][0]
    follow = b.outcome(instrument="nrs_pain", score=6, follows_version=esi["version"])
    b.record(episode, cmd.RecordOutcome, follow, days=20)
    state = facts(episode)
    assert relief_after(state, [esi], (b.at(30), 99)) == Decimal(25)
    assert relief_after(state, [esi], when(esi)) is None
