"""The episode as a reader sees it: the fold of its events (domain.reading)."""

from __future__ import annotations

import pytest

from domain import commands as cmd
from domain.reading import Assignee
from domain.values import (
    DiagnosticKind,
    EpisodeStatus,
    PainGenerator,
    RedFlag,
    ReferralSource,
    Service,
)
from tests.support import builders as b
from tests.support.commands import COMMANDS


def recorded(episode, command_type, body: dict, days: float = 1):
    return b.record(episode, command_type, body, days=days)


def test_first_referral_opens_an_episode_for_the_patient():
    reading = b.read(b.opened_episode())

    assert reading.version == 1
    assert reading.patient_id == "pt-0001"
    assert reading.referrer.role is ReferralSource.PRIMARY_CARE
    assert reading.opened_at == b.at(0)
    assert reading.pathway == [Service.SPINE_SURGERY]
    assert reading.status is EpisodeStatus.OPEN
    assert [e.type for e in reading.entries] == ["ReferralReceived"]


@pytest.mark.parametrize("case", COMMANDS, ids=lambda c: c.id)
def test_each_event_reads_as_an_entry_with_its_actor_and_clinical_time(case):
    episode = b.opened_episode()

    b.record(episode, case.command, case.body(), days=3, actor=b.CLINICIAN)

    reading = b.read(episode)
    entry = reading.entries[-1]
    assert (reading.version, entry.version) == (2, 2)
    assert entry.type == case.event.__name__
    assert entry.actor == b.CLINICIAN
    assert entry.occurred_at == b.at(3)
    assert entry.recorded_at.tzinfo is not None


def test_a_later_referral_extends_the_pathway_in_order():
    episode = b.opened_episode()
    recorded(episode, cmd.ReceiveReferral, b.further_referral())
    recorded(
        episode,
        cmd.ReceiveReferral,
        b.further_referral(receiving_service="spine_surgery"),
    )
    reading = b.read(episode)
    assert reading.pathway == [
        Service.SPINE_SURGERY,
        Service.PAIN_MEDICINE,
        Service.SPINE_SURGERY,
    ]
    assert reading.entries[1].data["patient_id"] == "pt-0001"


def test_the_reading_names_every_referrer_of_the_episode():
    episode = b.opened_episode()
    recorded(episode, cmd.ReceiveReferral, b.further_referral())

    assert b.read(episode).referrer_ids() == {"dr-pc-1", "dr-ss-1"}


def test_red_flags_from_the_referral_and_screens_accumulate_once_each():
    episode = b.opened_episode(red_flags=["cauda_equina"])
    recorded(
        episode,
        cmd.ScreenRedFlags,
        b.screening(flags=["cauda_equina", "infection"]),
    )
    reading = b.read(episode)
    assert reading.red_flags == [RedFlag.CAUDA_EQUINA, RedFlag.INFECTION]
    assert reading.screened


def test_a_diagnostic_naming_a_pain_generator_identifies_it():
    episode = b.opened_episode()
    recorded(episode, cmd.RecordDiagnostic, b.mri())
    assert b.read(episode).pain_generators == []
    recorded(episode, cmd.RecordDiagnostic, b.medial_branch_block(relief=85))
    reading = b.read(episode)
    assert reading.pain_generators == [PainGenerator.FACET]
    assert reading.entries[-1].data["kind"] is DiagnosticKind.MEDIAL_BRANCH_BLOCK


def test_a_section_lists_the_entries_of_its_event_type_in_version_order():
    episode = b.opened_episode()
    recorded(episode, cmd.RecordDiagnostic, b.mri(), days=2)
    recorded(episode, cmd.PerformIntervention, b.esi(), days=3)
    recorded(episode, cmd.RecordDiagnostic, b.medial_branch_block(), days=1)

    diagnostics = b.read(episode).section("diagnostics")

    assert [(e.version, e.type) for e in diagnostics] == [
        (2, "DiagnosticCompleted"),
        (4, "DiagnosticCompleted"),
    ]


def test_assigning_a_clinician_sets_the_assignee():
    episode = b.opened_episode()
    recorded(episode, cmd.AssignClinician, b.assignment())
    assert b.read(episode).assignee == Assignee("clin-ana", "Ana Clinician")


def test_closing_an_episode_records_the_reason():
    episode = b.opened_episode()
    recorded(episode, cmd.CloseEpisode, b.closure(reason="surgery"))
    reading = b.read(episode)
    assert reading.status is EpisodeStatus.CLOSED
    assert reading.closure_reason.value == "surgery"


def test_a_follow_up_outcome_names_the_treatment_it_measures():
    episode = b.opened_episode()
    recorded(episode, cmd.AdministerBiologic, b.prp())
    recorded(episode, cmd.RecordOutcome, b.outcome(follows_version=2), days=45)
    assert b.read(episode).entries[-1].data["follows_version"] == 2
