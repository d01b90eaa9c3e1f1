"""The referral-loop audit projection: the issue's scenarios, re-evaluation, its rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    UUIDAsHex,
)

from domain import commands as cmd
from domain import events as ev
from domain.events import EpisodeEvent
from domain.transcodings import register_domain_transcodings
from projections.base import Change, Projection, Put, Remove, State, Table
from projections.referral_audit import (
    EPISODES,
    FINDINGS,
    RULES_V1,
    SURGEONS,
    ReferralAuditProjectionV1,
    audit_rules,
    due_findings,
    evaluate,
)
from tests.support import builders as b
from tests.support.fold import apply_changes, project
from tests.unit.audit_support import EMERGENCY, audit


def rules_of(row: dict) -> set[str]:
    return {finding["rule"] for finding in row["findings"]}


def handle_all(
    projection: Projection,
    events: Iterable[EpisodeEvent],
    state: State | None = None,
    first_position: int = 1,
) -> tuple[State | None, list[Change]]:
    """One episode's events through a projection's handler: last state, every change."""
    changes: list[Change] = []
    for position, event in enumerate(events, start=first_position):
        if type(event) in projection.handles:
            handled = projection.handle(state, event, position)
            state = handled.state
            changes.extend(handled.changes)
    return state, changes


def seed_pipeline(conservative_care: bool = False):
    """Primary care -> surgeon -> pain medicine for insurer-mandated ESIs -> surgery."""
    episode = b.opened_episode(insurance_mandated=True)
    b.record(episode, cmd.ReceiveReferral, b.further_referral(), days=7)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=42)
    if conservative_care:
        care = b.conservative_care(started_on=date(2026, 3, 3), ended_on=None)
        b.record(episode, cmd.RecordConservativeCare, care, days=60)
    return b.record(episode, cmd.ReferToSurgery, b.surgery_referral(), days=70)


def flipped_pathway():
    """Primary care -> pain medicine: screen, MRI, blocks, a plan, PRP, outcomes, a note."""
    episode = b.opened_episode(receiving_service="pain_medicine")
    b.record(episode, cmd.ScreenRedFlags, b.screening(), days=1)
    b.record(episode, cmd.RecordDiagnostic, b.mri(), days=5)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(85), days=12)
    b.record(episode, cmd.RecordDiagnostic, b.medial_branch_block(90), days=19)
    b.record(episode, cmd.PlanTreatment, b.plan(), days=21)
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=22)
    b.record(episode, cmd.RecordOutcome, b.outcome(score=46), days=27)
    b.record(episode, cmd.AdministerBiologic, b.prp(), days=28)
    prp = episode.version
    return b.record(
        episode,
        cmd.RecordOutcome,
        b.outcome(score=30, follows_version=prp),
        days=28 + 42,
    )


def cauda_equina(referral_hours: float):
    """The emergency department refers saddle anaesthesia; a surgeon is called."""
    episode = b.opened_episode(
        referrer=EMERGENCY,
        receiving_service="spine_surgery",
        red_flags=["cauda_equina"],
    )
    screen = b.screening(flags=["cauda_equina"], disposition="emergency_referral")
    b.record(episode, cmd.ScreenRedFlags, screen, hours=0.5)
    referral = b.surgery_referral(
        urgency="emergent",
        intent="decompression",
        indication="red_flag",
        justification="cauda equina syndrome: emergency decompression",
    )
    return b.record(episode, cmd.ReferToSurgery, referral, hours=referral_hours)


# -- the scenarios -----------------------------------------------------------


def test_the_seed_pipeline_is_flagged_r1_r2_and_r4_without_conservative_care():
    row = audit(seed_pipeline())

    # R3 (no conservative care at all), R6 and R8 (two ESIs with no outcome before or
    # after them) and R10 (no consult note to primary care) fire too.
    assert rules_of(row) == {"R1", "R2", "R3", "R4", "R6", "R8", "R10"}
    assert row["pathway"] == [
        "primary_care",
        "spine_surgery",
        "pain_medicine",
        "spine_surgery",
    ]


def test_the_seed_pipeline_with_conservative_care_is_flagged_r1_and_r2_but_not_r4():
    fired = rules_of(audit(seed_pipeline(conservative_care=True)))

    # the 8 weeks of care answer R3 as well as R4; the ESIs and the note still count
    assert fired == {"R1", "R2", "R6", "R8", "R10"}


def test_the_flipped_pathway_has_no_high_or_critical_finding():
    row = audit(flipped_pathway())

    # nor any other: the consult note, sent late, still clears R10 under rule set v1
    assert rules_of(row) == set()
    assert row["pathway"] == ["primary_care", "pain_medicine"]
    assert row["metrics"]["pain_generators"] == ["facet"]


def test_cauda_equina_referred_emergently_in_time_is_exempt_and_meets_r9():
    row = audit(cauda_equina(referral_hours=2))

    assert row["red_flag_exempt"] is True
    assert rules_of(row) == set()


def test_cauda_equina_referred_late_is_a_critical_r9_and_still_exempt_from_r1_to_r4():
    row = audit(cauda_equina(referral_hours=6))

    [r9] = [f for f in row["findings"] if f["rule"] == "R9"]
    assert (r9["severity"], r9["at_version"]) == ("critical", 1)
    assert rules_of(row) == {"R9"}


# -- re-evaluation and clinical time ---------------------------------------------------


def test_a_consult_note_recorded_later_removes_the_open_loop_finding():
    # given an episode whose open loop is in the view
    projection = ReferralAuditProjectionV1()
    episode = b.opened_episode()
    state, changes = handle_all(projection, episode.collect_events())
    views = apply_changes({}, projection, changes)
    assert [row["rule"] for row in views[FINDINGS.name].values()] == ["R10"]
    # when the consult note arrives
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=20)
    _, changes = handle_all(projection, episode.collect_events(), state, 2)
    apply_changes(views, projection, changes)
    # then
    assert views[FINDINGS.name] == {}


def test_an_mri_recorded_after_the_referral_but_done_before_it_clears_r2():
    episode = b.record(
        b.opened_episode(), cmd.ReferToSurgery, b.surgery_referral(), days=60
    )
    # R3 (no conservative care) and R10 (no consult note) stand throughout
    assert rules_of(audit(episode)) == {"R2", "R3", "R10"}

    b.record(episode, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=30)

    assert rules_of(audit(episode)) == {"R3", "R10"}


def test_an_esi_recorded_late_but_given_before_the_surgery_referral_closes_the_loop():
    episode = b.record(
        b.opened_episode(), cmd.ReferToSurgery, b.surgery_referral(), days=60
    )
    assert rules_of(audit(episode)) == {"R2", "R3", "R10"}

    b.record(episode, cmd.PerformIntervention, b.esi(), days=20)

    # the ESI also makes the referral injections-only (R4) and has no baseline (R8)
    assert rules_of(audit(episode)) == {"R1", "R2", "R3", "R4", "R8", "R10"}
    assert audit(episode)["pathway"] == [
        "primary_care",
        "spine_surgery",
        "pain_medicine",
        "spine_surgery",
    ]


# -- the projection's rows and changes ---------------------------------------------------


def changes_of(episode, projection=None) -> list:
    _, changes = handle_all(
        projection or ReferralAuditProjectionV1(), episode.pending_events
    )
    return changes


def test_each_event_replaces_the_episode_row_and_all_of_its_findings():
    episode = seed_pipeline()
    events = list(episode.pending_events)
    projection = ReferralAuditProjectionV1()
    state, _ = handle_all(projection, events[:-1])

    changes = projection.handle(state, events[-1], 99).changes

    episode_id = str(episode.id)
    assert isinstance(changes[0], Put) and changes[0].table == EPISODES.name
    assert changes[1] == Remove(FINDINGS.name, {"episode_id": episode_id})
    assert {c.table for c in changes[2:-1]} == {FINDINGS.name}
    assert changes[-1] == Put(
        SURGEONS.name, {"episode_id": episode_id, "surgeon_id": "dr-ss-1"}
    )


def test_the_episode_row_records_the_rule_set_and_the_last_event_seen():
    episode = seed_pipeline()

    views = project(ReferralAuditProjectionV1(audit_rules("nhs", version=1)), episode)

    [row] = views[EPISODES.name].values()
    assert (row["rules_version"], row["rules_profile"]) == (1, "nhs")
    assert (row["version"], row["position"]) == (5, 5)
    assert (row["referrer_id"], row["referrer_role"]) == ("dr-pc-1", "primary_care")
    assert (row["surgeon_ids"], row["status"]) == (["dr-ss-1"], "open")


def puts(episode, table: Table) -> list[dict]:
    """The rows the projection wrote to `table`, as it wrote them (not as stored)."""
    _, changes = handle_all(ReferralAuditProjectionV1(), episode.pending_events)
    return [c.row for c in changes if isinstance(c, Put) and c.table == table.name]


def test_finding_rows_carry_the_columns_the_list_filters_need():
    r1 = next(row for row in puts(seed_pipeline(), FINDINGS) if row["rule"] == "R1")

    assert r1["referrer_id"] == "dr-pc-1"
    assert r1["surgeon_id"] == "dr-ss-1"
    assert r1["opened_at"] == b.at(0)
    assert r1["occurred_at"] == b.at(70)
    assert set(r1) == {column.name for column in FINDINGS.columns}


def test_every_row_has_exactly_the_columns_of_its_table():
    episode = seed_pipeline()

    for table in ReferralAuditProjectionV1.tables:
        rows = puts(episode, table)
        assert rows
        for row in rows:
            assert set(row) == {column.name for column in table.columns}


def test_replaying_the_same_events_gives_the_same_changes():
    episode = flipped_pathway()

    assert changes_of(episode) == changes_of(episode)


def test_a_redelivered_event_changes_nothing():
    events = list(seed_pipeline().pending_events)
    projection = ReferralAuditProjectionV1()
    state, _ = handle_all(projection, events)

    handled = projection.handle(state, events[2], 3)

    assert (handled.state, handled.changes) == (state, ())


def test_handling_an_event_leaves_the_given_state_untouched():
    events = list(seed_pipeline().pending_events)
    projection = ReferralAuditProjectionV1()
    state, _ = handle_all(projection, events[:-1])
    before = repr(state)

    projection.handle(state, events[-1], 5)

    assert repr(state) == before


def test_an_episode_must_open_with_a_referral():
    events = list(seed_pipeline().pending_events)

    with pytest.raises(ValueError, match="has no opening referral"):
        ReferralAuditProjectionV1().handle(None, events[1], 2)


def test_the_state_holds_only_values_the_engine_can_store():
    stored = (str, int, bool, type(None), datetime, date, Decimal, UUID)

    def check(value):
        if isinstance(value, dict):
            assert all(isinstance(key, str) for key in value)
            for item in value.values():
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)
        else:
            assert isinstance(value, stored), repr(value)

    state, _ = handle_all(ReferralAuditProjectionV1(), flipped_pathway().pending_events)
    check(state)


def test_the_state_survives_the_stores_transcoder_unchanged():
    # given the transcoder CareEpisodes registers (the engine stores states with it)
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_domain_transcodings(transcoder)
    state, _ = handle_all(ReferralAuditProjectionV1(), flipped_pathway().pending_events)
    # when
    restored = transcoder.decode(transcoder.encode(state))
    # then
    assert restored == state
    assert evaluate(restored, RULES_V1) == evaluate(state, RULES_V1)


def test_clinician_assignment_is_not_audited():
    assert ev.ClinicianAssigned not in ReferralAuditProjectionV1.handles


def test_due_findings_keeps_definite_findings_and_those_past_their_deadline():
    state, _ = handle_all(
        ReferralAuditProjectionV1(), b.opened_episode().pending_events
    )
    [r10] = evaluate(state, RULES_V1)

    assert due_findings([r10], b.at(13)) == []
    assert due_findings([r10], b.at(14)) == [r10]


def test_an_unknown_block_profile_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="not one of: nhs, payer"):
        audit_rules("medicare", version=1)
