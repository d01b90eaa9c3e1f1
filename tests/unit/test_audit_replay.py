"""Audit replays in memory: the row at a version or under another rule set, the
timeline of findings, and the evidence packet's findings (pure functions)."""

from __future__ import annotations

import pytest

from domain import commands as cmd
from domain.errors import EpisodeNotFound
from projections.referral_audit import RULES_V1, audit_rules
from projections.referral_audit.evidence import rests_on
from projections.referral_audit.replay import (
    Cut,
    audit_timeline,
    replay_audit,
    replay_rules,
)
from tests.support import builders as b
from tests.unit import test_audit_v2_summary as scenarios
from tests.unit import test_audit_v2_treatment_rules as treatment
from tests.unit.audit_support import (
    LATER,
    audit,
    audit_rows_v2,
    loop_episode,
    referred,
)


@pytest.fixture(params=["payer", "nhs"])
def profile(request) -> str:
    return request.param


def events_of(*episodes):
    """Every pending event of in-memory episodes, numbered in that order."""
    pairs = []
    for episode in episodes:
        pairs += list(episode.pending_events)
    return [(n, event) for n, event in enumerate(pairs, start=1)]


def keys(row) -> set[tuple[str, int]]:
    return {(f["rule"], f["at_version"]) for f in row["findings"]}


# -- the row ----------------------------------------------------------------------


def test_the_replay_of_every_scenario_equals_the_projections_row(profile):
    episodes = [*scenarios.mixed_set(), *scenarios.small_set()]
    rows = audit_rows_v2(*episodes, profile=profile)
    events = events_of(*episodes)
    rules = audit_rules(profile)
    for episode in episodes:
        replayed = replay_audit(events, episode.id, rules).audit_row(LATER)
        assert replayed == rows[str(episode.id)]


def test_a_replay_at_a_version_judges_only_the_events_up_to_it():
    episode = referred(loop_episode(), 60)
    events = events_of(episode)
    at = {v: replay_audit(events, episode.id, cut=Cut(version=v)) for v in (1, 2, 7)}
    assert keys(at[1].audit_row(LATER)) == {("R10", 1)}
    assert keys(at[2].audit_row(LATER)) == set()
    assert keys(at[7].audit_row(LATER)) == {("R1", 7), ("R2", 7), ("R3", 7), ("R4", 7)}
    assert [r.version for r in at.values()] == [1, 2, 7]


def test_a_pending_deadline_is_shown_apart_until_the_reader_passes_it():
    episode = b.opened_episode()
    replay = replay_audit(events_of(episode), episode.id)
    before = b.at(13)
    assert replay.audit_row(before)["findings"] == []
    assert [f["rule"] for f in replay.pending(before)] == ["R10"]
    assert keys(replay.audit_row(b.at(15))) == {("R10", 1)}


def test_r5_counts_the_sessions_of_the_patients_other_episodes():
    first = treatment.measured_esis(treatment.noted(), [10, 60, 120, 180])
    later = treatment.measured_esis(treatment.second_episode(200), [240])
    events = events_of(first, later)
    row = replay_audit(events, later.id).audit_row(LATER)
    assert {f["rule"] for f in row["findings"]} == {"R5"}
    assert row == audit_rows_v2(first, later)[str(later.id)]


def test_rule_set_v1_replays_as_the_v1_projection_judged():
    episode = referred(loop_episode(), 60)
    replayed = replay_audit(events_of(episode), episode.id, RULES_V1).audit_row(LATER)
    assert replayed == {
        **audit(episode),
        "rules_profile": "payer",
        "surgery_referrals": [],
    }
    assert replayed["rules_version"] == 1


def facet_loop():
    """The loop to a surgeon after an MRI naming facet pain and one 85 % medial
    branch block, an RFA between: facet pain is identified on the NHS profile (one
    block of at least 50 %) but not on the payer's (two of at least 80 %)."""
    episode = loop_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="facet"), days=20)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(85), days=25)
    b.record(episode, cmd.RecordOutcome, b.outcome(score=44), days=26)
    b.record(episode, cmd.PerformIntervention, b.rfa(), days=30)
    rfa = episode.version
    follow = b.outcome(score=40, follows_version=rfa)
    b.record(episode, cmd.RecordOutcome, follow, days=72)
    return referred(episode, 80), rfa


def test_the_other_block_profile_changes_exactly_the_block_dependent_findings():
    episode, rfa = facet_loop()
    events = events_of(episode)
    surgery = episode.version
    payer = keys(
        replay_audit(events, episode.id, replay_rules(2, "payer")).audit_row(LATER)
    )
    nhs = keys(
        replay_audit(events, episode.id, replay_rules(2, "nhs")).audit_row(LATER)
    )
    # R7: the RFA lacks the payer's second block; R1 and R2: facet pain is not
    # identified without it. R3 and R4 do not depend on blocks.
    assert payer - nhs == {("R1", surgery), ("R2", surgery), ("R7", rfa)}
    assert nhs - payer == set()
    assert payer & nhs == {("R3", surgery)}


def test_unknown_rule_sets_are_refused():
    with pytest.raises(ValueError, match="rules version 3"):
        replay_rules(3)
    with pytest.raises(ValueError, match="block profile 'medicare'"):
        replay_rules(2, "medicare")
    assert replay_rules() is replay_rules(2, "payer")


def test_a_version_the_episode_never_had_is_not_found():
    episode = b.opened_episode()
    with pytest.raises(EpisodeNotFound, match="has no version 2"):
        replay_audit(events_of(episode), episode.id, cut=Cut(version=2))


def test_an_instant_before_the_episode_was_recorded_is_not_found():
    episode = b.opened_episode()
    recorded = episode.pending_events[0].timestamp
    with pytest.raises(EpisodeNotFound, match="had not been recorded"):
        replay_audit(events_of(episode), episode.id, cut=Cut(as_of=b.at(-1)))
    replay = replay_audit(events_of(episode), episode.id, cut=Cut(as_of=recorded))
    assert replay.version == 1


# -- the timeline -----------------------------------------------------------------


def changes(steps) -> list[tuple[int, str, set[str], set[str]]]:
    return [
        (
            s.version,
            s.cause,
            {f["rule"] for f in s.appeared},
            {f["rule"] for f in s.cleared},
        )
        for s in steps
    ]


def test_the_timeline_shows_each_finding_appearing_and_clearing():
    episode = referred(loop_episode(), 60)
    steps = audit_timeline(events_of(episode), episode.id)
    assert changes(steps) == [
        (1, "event", {"R10"}, set()),  # a deadline, 14 days on
        (2, "event", set(), {"R10"}),  # the consult note came in time
        (3, "event", set(), set()),
        (4, "event", set(), set()),
        (5, "event", {"R8"}, set()),  # the ESI's follow-up deadline
        (6, "event", set(), {"R8"}),  # measured in its window
        (7, "event", {"R1", "R2", "R3", "R4"}, set()),
    ]
    assert [s.type for s in steps][-1] == "SurgeryReferred"
    assert steps[0].appeared[0]["fires_at"] == b.at(14)


def test_a_late_consult_note_changes_r10_from_pending_to_definite():
    episode = b.opened_episode()
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=30)
    steps = audit_timeline(events_of(episode), episode.id)
    assert changes(steps) == [(1, "event", {"R10"}, set()), (2, "event", set(), set())]
    [changed] = steps[1].changed
    assert changed["rule"] == "R10" and changed["fires_at"] is None
    assert "30.0 days later" in changed["detail"]


def test_an_esi_in_another_episode_of_the_patient_is_a_step_of_its_own():
    first = treatment.measured_esis(treatment.noted(), [10, 60, 120, 180])
    later = treatment.measured_esis(treatment.second_episode(200), [240])
    # the later episode's session lands first; the first episode's are recorded after
    steps = audit_timeline(events_of(later, first), later.id)
    patient = [s for s in steps if s.cause == "patient"]
    assert [({f["rule"] for f in s.appeared}, s.type) for s in patient] == [
        ({"R5"}, None)
    ]
    assert patient[0].version == later.version


def test_the_timeline_under_rule_set_v1_uses_its_rules():
    episode = b.opened_episode()
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=30)
    steps = audit_timeline(events_of(episode), episode.id, RULES_V1)
    # v1: a note sent at any time clears R10
    assert changes(steps) == [
        (1, "event", {"R10"}, set()),
        (2, "event", set(), {"R10"}),
    ]


# -- the evidence -----------------------------------------------------------------


def test_a_finding_rests_on_the_events_it_names():
    episode = referred(loop_episode(), 60)
    replay = replay_audit(events_of(episode), episode.id)
    [r1] = [f for f in replay.findings if f["rule"] == "R1"]
    # v3: the surgeon's referral to pain medicine (both steps); v7: the referral
    assert rests_on(r1, str(episode.id)) == ([3, 7], [])


def test_an_r5_finding_names_the_other_episodes_sessions_it_counts():
    first = treatment.measured_esis(treatment.noted(), [10, 60, 120, 180])
    later = treatment.measured_esis(treatment.second_episode(200), [240])
    replay = replay_audit(events_of(first, later), later.id)
    [r5] = replay.findings
    own, elsewhere = rests_on(r5, str(later.id))
    assert own == [r5["at_version"]]
    assert [e["episode_id"] for e in elsewhere] == [str(first.id)] * 4
