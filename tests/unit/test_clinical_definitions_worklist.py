"""The DOMAIN v2 definitions the worklist relies on: pain generator identified, red
flag standing (flag runs), and the first treatment."""

from __future__ import annotations

from typing import Any

import pytest

from domain import commands as cmd
from domain.episode import CareEpisode
from projections.base import State
from projections.clinical.definitions import first_treatment, flag_runs, identifications
from projections.clinical.facts import opened_state, recorded
from projections.clinical.parameters import NHS_BLOCKS, PAYER_BLOCKS, Evidence
from tests.support import builders as b

PAYER = Evidence(PAYER_BLOCKS)
NHS = Evidence(NHS_BLOCKS)


def facts(episode: CareEpisode) -> State:
    events = list(episode.pending_events)
    state = opened_state(events[0])  # type: ignore[arg-type]
    for position, event in enumerate(events, start=1):
        if type(event).__name__ != "ClinicianAssigned":
            state = recorded(state, event, position)  # type: ignore[arg-type]
    return state


def with_diagnostics(*diagnostics: dict[str, Any]) -> State:
    episode = b.opened_episode()
    for day, diagnostic in enumerate(diagnostics, start=1):
        b.record(episode, cmd.RecordDiagnostic, diagnostic, days=day)
    return facts(episode)


def found(state: State, evidence: Evidence = PAYER) -> list[tuple[str, int]]:
    return [(i.generator, i.version) for i in identifications(state, evidence)]


@pytest.mark.parametrize("kind", ["mri", "ct"])
@pytest.mark.parametrize("generator", ["discogenic", "radicular", "stenosis"])
def test_imaging_naming_a_structural_generator_identifies_it(kind, generator):
    state = with_diagnostics(b.mri(kind=kind, pain_generator=generator))
    assert found(state) == [(generator, 2)]


def test_emg_ncs_confirms_radicular_pain_but_not_stenosis():
    state = with_diagnostics(
        b.mri(kind="emg_ncs", pain_generator="radicular"),
        b.mri(kind="emg_ncs", pain_generator="stenosis"),
    )
    assert found(state) == [("radicular", 2)]


def test_an_exam_naming_radicular_pain_counts_once_imaging_confirms_it():
    state = with_diagnostics(
        b.mri(kind="physical_exam", pain_generator="radicular"),
        b.mri(pain_generator="radicular"),
    )
    assert found(state) == [("radicular", 3)]


@pytest.mark.parametrize("kind", ["physical_exam", "xray"])
def test_an_exam_or_xray_alone_identifies_no_structural_generator(kind):
    assert found(with_diagnostics(b.mri(kind=kind, pain_generator="discogenic"))) == []


def test_an_exam_may_identify_myofascial_pain_on_its_own():
    state = with_diagnostics(b.mri(kind="physical_exam", pain_generator="myofascial"))
    assert found(state) == [("myofascial", 2)]


def test_nonspecific_pain_is_never_an_identification():
    assert found(with_diagnostics(b.mri(pain_generator="nonspecific"))) == []


def test_facet_pain_needs_two_blocks_of_80_percent_on_the_payer_profile():
    one = with_diagnostics(b.medial_branch_block(85), b.medial_branch_block(70))
    two = with_diagnostics(b.medial_branch_block(85), b.medial_branch_block(80))
    assert (found(one), found(two)) == ([], [("facet", 3)])


def test_facet_pain_needs_one_block_of_50_percent_on_the_nhs_profile():
    state = with_diagnostics(b.medial_branch_block(55))
    assert found(state, NHS) == [("facet", 2)]


def test_facet_blocks_must_cover_the_named_levels():
    state = with_diagnostics(
        b.mri(pain_generator="facet", levels=["L4-L5", "L5-S1"]),
        b.medial_branch_block(90, levels=["L4-L5"], pain_generator=None),
        b.medial_branch_block(90, levels=["L4-L5"], pain_generator=None),
    )
    assert found(state) == []


def test_sacroiliac_pain_needs_an_si_joint_block_of_75_percent():
    block = {
        **b.medial_branch_block(80),
        "kind": "si_joint_block",
        "region": "sacroiliac",
    }
    weak = {**block, "relief_percent": 70, "pain_generator": "sacroiliac"}
    assert found(with_diagnostics(weak)) == []
    assert found(with_diagnostics({**block, "pain_generator": "sacroiliac"})) == [
        ("sacroiliac", 2)
    ]


def test_an_identification_counts_from_its_first_moment_in_clinical_time():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="stenosis"), days=9)
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="stenosis"), days=3)
    [identified] = identifications(facts(episode), PAYER)
    assert (identified.at, identified.version) == (b.at(3), 3)


def runs(episode: CareEpisode) -> list[tuple[str, int, int | None]]:
    return [
        (r.flag, r.start["version"], r.end["version"] if r.end else None)
        for r in flag_runs(facts(episode))
    ]


def test_a_referral_flag_stands_until_a_screening_that_does_not_list_it():
    episode = b.opened_episode(red_flags=["infection", "fracture"])
    b.record(episode, cmd.ScreenRedFlags, b.screening(flags=["fracture"]), days=1)
    assert runs(episode) == [("fracture", 1, None), ("infection", 1, 2)]


def test_a_late_recorded_screening_ends_a_flag_where_it_happened():
    episode = b.opened_episode()
    b.record(episode, cmd.ScreenRedFlags, b.screening(flags=["infection"]), days=5)
    b.record(episode, cmd.ScreenRedFlags, b.screening(), days=8)
    b.record(episode, cmd.ScreenRedFlags, b.screening(flags=["infection"]), days=2)
    assert runs(episode) == [("infection", 4, 3)]


def test_the_first_treatment_is_the_earliest_intervention_or_biologic_in_clinical_time():
    episode = b.opened_episode()
    b.record(episode, cmd.RecordConservativeCare, b.conservative_care(), days=1)
    b.record(episode, cmd.AdministerBiologic, b.prp(), days=9)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=4)
    first = first_treatment(facts(episode))
    assert first is not None and first["version"] == 4
