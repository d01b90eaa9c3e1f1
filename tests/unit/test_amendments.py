"""The aggregate's amendment rules, decided in memory (no store): what an
amendment may correct and what it is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain import commands as cmd
from domain import events as ev
from domain.amendments import record_of
from domain.episode import CareEpisode
from domain.errors import InvalidCommand, RuleViolation
from domain.values import Envelope
from tests.support import builders as b


def treated_episode() -> CareEpisode:
    """v1 referral (T0), v2 MRI (day 1), v3 ESI (day 5), v4 NRS outcome on v3 (day 20)."""
    episode = b.opened_episode()
    b.record(episode, cmd.RecordDiagnostic, b.mri(), days=1)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=5)
    body = b.outcome(instrument="nrs_pain", score=3, follows_version=3)
    b.record(episode, cmd.RecordOutcome, body, days=20)
    return episode


def amend(
    episode: CareEpisode, version: int, fields: dict[str, Any]
) -> ev.EventAmended:
    """Decide an amendment of `version` the way the application does: with the
    episode's events folded as they now stand."""
    command = cmd.AmendEvent(
        episode_id=episode.id,
        occurred_at=b.at(30),
        amends_version=version,
        fields=fields,
        reason="the report was misread",
    )
    record = record_of(episode.pending_events)  # type: ignore[arg-type]
    episode.amend(Envelope(b.SERVICE, now=datetime.now(UTC)), command, record)
    amendment = episode.pending_events[-1]
    assert isinstance(amendment, ev.EventAmended)
    return amendment


def refused(error: type[Exception], episode: CareEpisode, version: int, fields):
    """The amendment is refused and the episode records nothing."""
    before = episode.version
    with pytest.raises(error) as caught:
        amend(episode, version, fields)
    assert episode.version == before
    return caught.value


def test_an_amendment_cannot_move_an_event_before_the_episode_opened():
    episode = treated_episode()

    error = refused(RuleViolation, episode, 2, {"occurred_at": b.at(-1).isoformat()})

    assert error.field == "fields.occurred_at"
    assert "before the episode opened" in error.message


def test_the_opening_cannot_be_moved_after_a_later_event():
    episode = treated_episode()

    error = refused(RuleViolation, episode, 1, {"occurred_at": b.at(2).isoformat()})

    assert error.field == "fields.occurred_at"
    assert "after version 2" in error.message


def test_an_outcome_amended_to_follow_no_treatment_is_refused():
    episode = treated_episode()

    # version 2 is an MRI: not an intervention, biologic or conservative care
    error = refused(RuleViolation, episode, 4, {"follows_version": 2})

    assert error.field == "fields.follows_version"
    assert "follows_version 2 is not an intervention" in error.message


def test_an_outcome_amended_to_follow_a_version_the_episode_lacks_is_refused():
    episode = treated_episode()

    error = refused(RuleViolation, episode, 4, {"follows_version": 9})

    assert error.field == "fields.follows_version"


def test_a_treatment_cannot_be_moved_after_the_outcome_that_follows_it():
    episode = treated_episode()

    error = refused(RuleViolation, episode, 3, {"occurred_at": b.at(21).isoformat()})

    assert error.field == "fields.occurred_at"
    assert "after the outcome at version 4" in error.message


def test_an_amendment_of_an_amendment_corrects_the_original():
    episode = treated_episode()
    first = amend(episode, 4, {"score": 4})

    second = amend(episode, first.originator_version, {"score": 5})

    assert first.originator_version == 5
    assert (second.amends_version, second.amends_type) == (4, "OutcomeRecorded")
    assert second.fields == {"score": 5}
    assert second.corrected["score"] == 5
    assert second.corrected["follows_version"] == 3
    assert second.corrected_occurred_at == b.at(20)
    # the original is never edited
    original = episode.pending_events[3]
    assert isinstance(original, ev.OutcomeRecorded)
    assert original.score == 3


@pytest.mark.parametrize("version", [99, 5], ids=["unknown", "not-yet-recorded"])
def test_an_amendment_of_a_version_the_episode_lacks_is_refused(version):
    episode = treated_episode()  # its newest version is 4

    error = refused(RuleViolation, episode, version, {"score": 4})

    assert error.field == "amends_version"
    assert f"no version {version} to amend" in error.message


def test_the_patient_is_not_amendable():
    episode = treated_episode()

    error = refused(InvalidCommand, episode, 1, {"patient_id": "pt-other"})

    assert error.field == "fields.patient_id"


def test_the_referrers_id_is_not_amendable_but_its_name_is():
    episode = treated_episode()
    moved = {"id": "dr-pc-2", "name": "Dr Primary", "role": "primary_care"}

    error = refused(RuleViolation, episode, 1, {"referrer": moved})

    assert error.field == "fields.referrer.id"
    renamed = {"id": "dr-pc-1", "name": "Dr Primary-Care", "role": "primary_care"}
    amendment = amend(episode, 1, {"referrer": renamed})
    assert amendment.corrected["referrer"].name == "Dr Primary-Care"
