"""The DOMAIN v2 definitions the physician feed's summaries rely on, tested directly."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain import commands as cmd
from domain import events as ev
from projections.base import State
from projections.clinical.definitions import (
    baselines,
    documented_care_days,
    identifications,
    improved,
    months_before,
    reference_scores,
    standing_flags,
    worsened,
)
from projections.clinical.facts import CLINICAL_EVENTS, opened_state, recorded
from projections.clinical.parameters import (
    MCID,
    NHS_BLOCKS,
    PAYER_BLOCKS,
    Evidence,
)
from tests.support import builders as b

PAYER = Evidence(PAYER_BLOCKS)


def facts(episode) -> State:
    """The episode's clinical facts after its events."""
    state: State | None = None
    for position, event in enumerate(episode.pending_events, start=1):
        if state is None:
            assert isinstance(event, ev.ReferralReceived)
            state = opened_state(event)
        if isinstance(event, CLINICAL_EVENTS):
            state = recorded(state, event, position)
    assert state is not None
    return state


def identified(episode, evidence: Evidence = PAYER) -> list[tuple[str, int]]:
    return [(i.generator, i.version) for i in identifications(facts(episode), evidence)]


# -- pain generator identified ----------------------------------------------------------


def test_facet_pain_is_identified_by_the_second_positive_block_on_the_payer_profile():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(85), days=5)
    assert identified(episode) == []
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(82), days=12)
    assert identified(episode) == [("facet", 3)]


def test_facet_pain_is_identified_by_one_block_of_50_percent_on_the_nhs_profile():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(55), days=5)
    assert identified(episode, Evidence(NHS_BLOCKS)) == [("facet", 2)]


def test_facet_blocks_must_cover_the_levels_the_naming_diagnostic_gives():
    episode = b.opened_episode()
    exam = b.mri(kind="physical_exam", levels=["L5-S1"], pain_generator="facet")
    b.record(episode, cmd.RecordDiagnostic, exam, days=1)
    elsewhere = b.medial_branch_block(90, pain_generator=None)  # at L4-L5
    for day in (5, 12):
        b.record(episode, cmd.RecordDiagnostic, elsewhere, days=day)
    assert identified(episode) == []


def test_sacroiliac_pain_needs_an_si_joint_block_of_75_percent():
    episode = b.opened_episode()
    block = b.medial_branch_block(
        74, kind="si_joint_block", region="sacroiliac", pain_generator="sacroiliac"
    )
    b.record(episode, cmd.RecordDiagnostic, block, days=5)
    assert identified(episode) == []
    b.record(episode, cmd.RecordDiagnostic, {**block, "relief_percent": 75}, days=9)
    assert identified(episode) == [("sacroiliac", 3)]


def test_radicular_pain_named_by_an_exam_is_identified_by_a_later_emg():
    episode = b.opened_episode()
    exam = b.mri(kind="physical_exam", pain_generator="radicular")
    b.record(episode, cmd.RecordDiagnostic, exam, days=1)
    assert identified(episode) == []
    emg = b.mri(kind="emg_ncs", pain_generator="radicular")
    b.record(episode, cmd.RecordDiagnostic, emg, days=8)
    assert identified(episode) == [("radicular", 3)]


def test_an_emg_does_not_confirm_discogenic_pain():
    episode = b.opened_episode()
    emg = b.mri(kind="emg_ncs", pain_generator="discogenic")
    b.record(episode, cmd.RecordDiagnostic, emg, days=8)
    assert identified(episode) == []


def test_nonspecific_pain_is_never_identified_whatever_backs_it():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="nonspecific"), 8)
    assert identified(episode) == []


def test_a_late_recorded_block_identifies_from_its_own_clinical_time():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(90), days=12)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(90), days=5)
    [found] = identifications(facts(episode), PAYER)
    assert (found.generator, found.at, found.version) == ("facet", b.at(12), 2)


# -- red flags standing -----------------------------------------------------------------


def test_a_referral_flag_stands_until_a_screen_rules_it_out():
    episode = b.opened_episode(red_flags=["infection"])
    b.record(episode, cmd.ScreenRedFlags, b.screening(), days=1)
    state = facts(episode)
    assert standing_flags(state, (b.at(0, 12), 99)) == {"infection"}
    assert standing_flags(state, (b.at(1), 2)) == set()


def test_a_screen_listing_a_flag_keeps_it_standing():
    episode = b.opened_episode(red_flags=["infection"])
    b.record(episode, cmd.ScreenRedFlags, b.screening(flags=["infection"]), days=1)
    assert standing_flags(facts(episode), (b.at(30), 99)) == {"infection"}


# -- documented conservative care -------------------------------------------------------


def test_overlapping_courses_count_each_day_once():
    episode = b.opened_episode()
    for start, end in (
        (date(2026, 3, 3), date(2026, 3, 16)),
        (date(2026, 3, 10), date(2026, 3, 23)),
    ):
        course = b.conservative_care(started_on=start, ended_on=end)
        b.record(episode, cmd.RecordConservativeCare, course, days=30)
    assert documented_care_days(facts(episode), date(2026, 4, 30)) == 21


def test_a_planned_end_documents_nothing_past_the_day_in_question():
    episode = b.opened_episode()
    course = b.conservative_care(started_on=date(2026, 3, 3), ended_on=date(2026, 5, 1))
    b.record(episode, cmd.RecordConservativeCare, course, days=1)
    # recorded as happening on 3 March: only that day is documented
    assert documented_care_days(facts(episode), date(2026, 4, 30)) == 1


def test_a_course_started_and_ended_on_one_day_is_one_day():
    episode = b.opened_episode()
    course = b.conservative_care(started_on=date(2026, 3, 3), ended_on=date(2026, 3, 3))
    b.record(episode, cmd.RecordConservativeCare, course, days=2)
    assert documented_care_days(facts(episode), date(2026, 3, 20)) == 1


# -- months -------------------------------------------------------------------------------


def test_six_calendar_months_before_the_first_of_march_is_the_first_of_september():
    assert months_before(date(2026, 3, 1), 6) == date(2025, 9, 1)


def test_a_day_the_earlier_month_lacks_becomes_its_last_day():
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)


# -- outcome references and meaningful change ---------------------------------------------


def test_the_baseline_is_the_first_score_before_any_treatment():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordOutcome, b.outcome(score=Decimal(50)), days=1)
    b.record(episode, cmd.RecordOutcome, b.outcome(score=Decimal(48)), days=2)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=3)
    assert baselines(facts(episode))["odi"]["version"] == 2


def test_without_a_baseline_the_reference_is_the_first_score():
    episode = b.opened_episode()
    b.record(episode, cmd.PerformIntervention, b.esi(), days=1)
    b.record(episode, cmd.RecordOutcome, b.outcome(score=Decimal(40)), days=20)
    b.record(episode, cmd.RecordOutcome, b.outcome(score=Decimal(30)), days=40)
    state = facts(episode)
    assert baselines(state) == {}
    assert reference_scores(state)["odi"]["version"] == 3


def test_relief_has_neither_baseline_nor_reference():
    episode = b.opened_episode()
    relief = b.outcome(instrument="relief_percent", score=Decimal(60))
    b.record(episode, cmd.RecordOutcome, relief, days=1)
    assert reference_scores(facts(episode)) == {}


def test_a_change_of_30_percent_is_meaningful_below_the_points_threshold():
    assert improved(Decimal(20), Decimal(14), MCID["odi"])
    assert not improved(Decimal(20), Decimal(15), MCID["odi"])


def test_promis_physical_function_improves_upwards_and_worsens_downwards():
    assert improved(Decimal(38), Decimal(43), MCID["promis_pf"])
    assert worsened(Decimal(43), Decimal(38), MCID["promis_pf"])
    assert not worsened(Decimal(38), Decimal(43), MCID["promis_pf"])


def test_a_worsening_of_30_percent_is_meaningful():
    assert worsened(Decimal(20), Decimal(26), MCID["odi"])
    assert not worsened(Decimal(20), Decimal(25), MCID["odi"])
