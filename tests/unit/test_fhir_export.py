"""The FHIR mapping (projections.fhir_export): pure, from an episode's events."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from domain import commands as cmd
from domain.values import Instrument
from projections.fhir_export import OUTCOME_CODES, episode_bundle, episode_resources
from tests.support import builders as b
from tests.unit.fhir_support import demo_plan, fold, validate_bundle

BASE = "https://care.example.org/fhir"


def by_type(resources, kind):
    return [r for r in resources if r["resourceType"] == kind]


@pytest.mark.parametrize(
    "pathway",
    ["flipped", "broken_pipeline", "red_flag", "conservative", "late_recording"],
)
def test_a_demo_pathway_exports_to_a_bundle_that_validates(pathway):
    reading = fold(demo_plan(pathway))
    validate_bundle(episode_bundle(reading, BASE))


def test_the_flipped_pathway_maps_each_event_to_its_resources():
    reading = fold(demo_plan("flipped"))
    resources = episode_resources(reading)
    events = Counter(e.type for e in reading.entries)
    counts = Counter(r["resourceType"] for r in resources)
    assert counts == {
        "EpisodeOfCare": 1,
        "ServiceRequest": events["ReferralReceived"] + events["SurgeryReferred"],
        "Task": events["ReferralReceived"] + events["SurgeryReferred"],
        "Observation": events["RedFlagsScreened"]
        + events["DiagnosticCompleted"]
        + events["OutcomeRecorded"],
        "DiagnosticReport": events["DiagnosticCompleted"],
        "Procedure": events["BiologicAdministered"]
        + events["InterventionPerformed"]
        + events["ConservativeCareRecorded"],
        "MedicationAdministration": events["BiologicAdministered"],
        "CarePlan": events["TreatmentPlanned"],
        "Communication": events["ConsultNoteSent"],
        "Provenance": reading.version,
    }


def test_the_broken_pathway_exports_its_surgery_referral_with_the_surgeon_as_performer():
    reading = fold(demo_plan("broken_pipeline"))
    bundle = episode_bundle(reading, BASE)
    validate_bundle(bundle)
    surgery = next(e for e in reading.entries if e.type == "SurgeryReferred")
    request = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["id"] == f"{reading.episode_id}-{surgery.version}"
        and e["resource"]["resourceType"] == "ServiceRequest"
    )
    assert request["performer"][0]["identifier"]["value"] == surgery.data["surgeon"].id
    assert request["priority"] == "routine"  # an elective referral


def open_with_note_later():
    episode = b.opened_episode()
    b.record(episode, cmd.ScreenRedFlags, b.screening(), days=1)
    return episode


def task_of(resources, version=1):
    return next(
        t for t in by_type(resources, "Task") if t["id"].endswith(f"-{version}")
    )


def test_a_referral_task_is_in_progress_until_a_consult_note_reaches_the_referrer():
    episode = open_with_note_later()
    # a note to someone else does not close the loop
    b.record(episode, cmd.SendConsultNote, b.consult_note(to_physician_id="dr-x"), 2)
    assert task_of(episode_resources(b.read(episode)))["status"] == "in-progress"
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=3)
    task = task_of(episode_resources(b.read(episode)))
    assert task["status"] == "completed"
    note = f"{episode.id}-4"
    assert task["output"][0]["valueReference"] == {"reference": f"Communication/{note}"}
    assert task["lastModified"] == task["meta"]["lastUpdated"]


def test_a_referral_task_fails_when_the_episode_closes_before_any_consult_note():
    episode = open_with_note_later()
    b.record(episode, cmd.CloseEpisode, b.closure(), days=3)
    resources = episode_resources(b.read(episode))
    task = task_of(resources)
    assert task["status"] == "failed"
    assert "without a consult note to dr-pc-1" in task["statusReason"]["text"]
    [care] = by_type(resources, "EpisodeOfCare")
    assert care["status"] == "finished"
    assert [h["status"] for h in care["statusHistory"]] == ["active", "finished"]


def test_the_consult_note_that_closes_a_loop_is_based_on_its_referral():
    episode = open_with_note_later()
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=3)
    [note] = by_type(episode_resources(b.read(episode)), "Communication")
    assert note["basedOn"] == [{"reference": f"ServiceRequest/{episode.id}-1"}]
    assert note["recipient"][0]["identifier"]["value"] == "dr-pc-1"


@pytest.mark.parametrize(
    ("instrument", "loinc"),
    [
        ("nrs_pain", "72514-3"),
        ("odi", "97909-6"),
        ("promis_pf", "71959-1"),
        ("promis_pi", "71961-7"),
        ("relief_percent", None),
    ],
)
def test_an_outcome_is_coded_by_loinc_where_a_code_exists(instrument, loinc):
    episode = open_with_note_later()
    score = Decimal(5) if instrument == "nrs_pain" else Decimal(40)
    body = b.outcome(instrument=instrument, score=score)
    b.record(episode, cmd.RecordOutcome, body, days=2)
    outcome = by_type(episode_resources(b.read(episode)), "Observation")[-1]
    systems = {c["system"]: c["code"] for c in outcome["code"]["coding"]}
    assert systems.get("http://loinc.org") == loinc
    assert systems["urn:care-episodes:cs:instrument"] == instrument
    assert outcome["valueQuantity"]["value"] == int(score)
    assert outcome["category"][0]["coding"][0]["code"] == "survey"


def test_the_loinc_table_covers_every_instrument():
    assert set(OUTCOME_CODES) == set(Instrument)


def test_an_outcome_names_the_treatment_it_measures():
    episode = open_with_note_later()
    b.record(episode, cmd.AdministerBiologic, b.prp(), days=5)
    b.record(episode, cmd.RecordOutcome, b.outcome(follows_version=3), days=47)
    resources = episode_resources(b.read(episode))
    outcome = by_type(resources, "Observation")[-1]
    assert outcome["partOf"] == [{"reference": f"Procedure/{episode.id}-3"}]
    [given] = by_type(resources, "MedicationAdministration")
    assert given["contained"][0]["batch"]["lotNumber"] == "PRP-2026-0412"
    assert given["dosage"]["dose"]["value"] == 4.5


def test_patients_are_referenced_by_identifier_only():
    reading = fold(demo_plan("flipped"))
    bundle = episode_bundle(reading, BASE)
    text = str(bundle)
    assert "Patient/" not in text
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert "Patient" not in kinds
    [care] = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["id"] == str(reading.episode_id)
    ]
    assert care["patient"] == {
        "type": "Patient",
        "identifier": {
            "system": "urn:care-episodes:id:patient",
            "value": reading.patient_id,
        },
    }


def test_every_event_has_a_provenance_with_its_author_and_recorded_time():
    reading = fold(demo_plan("flipped"))
    provenances = by_type(episode_resources(reading), "Provenance")
    assert [p["id"] for p in provenances] == [
        f"{reading.episode_id}-{e.version}" for e in reading.entries
    ]
    for provenance, entry in zip(provenances, reading.entries, strict=True):
        assert provenance["recorded"] == entry.recorded_at.isoformat()
        assert provenance["agent"][0]["who"]["identifier"]["value"] == (
            entry.actor.principal_id
        )
        assert provenance["target"], entry.type


def test_a_bundle_entry_full_url_is_rooted_at_the_base_and_matches_the_resource():
    bundle = episode_bundle(fold(demo_plan("conservative")), BASE + "/")
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{BASE}/{resource['resourceType']}/{resource['id']}"
