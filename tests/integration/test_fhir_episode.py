"""An episode read back from each store exports to a valid Bundle, amendments shown."""

from __future__ import annotations

from decimal import Decimal

from domain import commands as cmd
from projections.fhir_export import episode_bundle
from tests.support import builders as b
from tests.support.commands import COMMANDS
from tests.unit.fhir_support import validate_bundle

BASE = "https://care.example.org/fhir"


def resources(bundle, kind):
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
    ]


def test_an_episode_with_every_event_read_back_from_the_store_validates(app):
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral())
    episode_id = app.handle(opening, actor=b.SERVICE).episode_id
    for day, case in enumerate(COMMANDS, start=1):
        app.handle(
            b.command(case.command, episode_id, case.body(), day), actor=b.SERVICE
        )
    validate_bundle(episode_bundle(app.get_episode(episode_id), BASE))


def test_an_amended_outcome_shows_the_corrected_score_and_a_provenance_of_the_fix(app):
    # given an outcome recorded with a wrong score, then amended
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral())
    episode_id = app.handle(opening, actor=b.SERVICE).episode_id
    outcome = b.command(cmd.RecordOutcome, episode_id, b.outcome(score=Decimal(46)), 2)
    wrong = app.handle(outcome, actor=b.SERVICE).version
    fix = cmd.AmendEvent(
        episode_id=episode_id,
        occurred_at=b.at(3),
        amends_version=wrong,
        fields={"score": 36},
        reason="transcription error: the form says 36",
    )
    amendment = app.handle(fix, actor=b.CLINICIAN).version
    # when the episode is exported
    bundle = episode_bundle(app.get_episode(episode_id), BASE)
    validate_bundle(bundle)
    # then the Observation holds the corrected score, marked amended, updated then
    [observation] = resources(bundle, "Observation")
    assert observation["valueQuantity"]["value"] == 36
    assert observation["status"] == "amended"
    history = app.get_episode(episode_id).entries
    assert observation["meta"]["lastUpdated"] == history[-1].recorded_at.isoformat()
    # and the amendment's Provenance says what it amends and why
    provenance = next(
        p
        for p in resources(bundle, "Provenance")
        if p["id"] == f"{episode_id}-{amendment}"
    )
    assert provenance["target"] == [{"reference": f"Observation/{episode_id}-{wrong}"}]
    assert provenance["activity"]["coding"][0]["code"] == "UPDATE"
    assert provenance["reason"] == [{"text": "transcription error: the form says 36"}]
    [entity] = provenance["entity"]
    assert entity["role"] == "revision"
    assert entity["what"]["reference"] == f"Provenance/{episode_id}-{wrong}"
    assert "corrects score" in entity["what"]["display"]
    assert provenance["agent"][0]["who"]["identifier"]["value"] == "clin-ana"
    # while the episode as it stood before the amendment shows the original
    before = episode_bundle(app.get_episode(episode_id, version=wrong), BASE)
    [original] = resources(before, "Observation")
    assert (original["valueQuantity"]["value"], original["status"]) == (46, "final")
