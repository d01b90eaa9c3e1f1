"""GET /episodes/{id}/fhir: the episode as a FHIR R4 Bundle, read as the JSON read is."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from uuid import uuid4

from tests.support.commands import COMMANDS
from tests.support.http import assert_problem
from tests.unit.fhir_support import validate_bundle


def full_episode(api) -> str:
    """An episode with one event of every command, in the table's order."""
    episode_id = api.open()
    for day, case in enumerate(COMMANDS, start=1):
        response = api.command(episode_id, case.path, days=day)
        assert response.status_code == 201, response.text
    return episode_id


def kinds(bundle) -> Counter:
    return Counter(e["resource"]["resourceType"] for e in bundle["entry"])


def test_an_episode_reads_as_a_bundle_that_validates_with_every_resource_type(api):
    episode_id = full_episode(api)
    response = api.get(f"/episodes/{episode_id}/fhir", role="clinician")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    assert response.headers["etag"] == f'"{len(COMMANDS) + 1}"'
    bundle = response.json()
    validate_bundle(bundle)
    assert kinds(bundle) == {
        "EpisodeOfCare": 1,
        "ServiceRequest": 3,  # the opening, a further referral, the surgery referral
        "Task": 3,
        "Observation": 3,  # the screen, the MRI, the outcome
        "DiagnosticReport": 1,
        "Procedure": 3,  # conservative care, the injection, the biologic
        "MedicationAdministration": 1,
        "CarePlan": 1,
        "Communication": 1,
        "Provenance": len(COMMANDS) + 1,
    }
    base = str(api.client.base_url).rstrip("/")
    first = bundle["entry"][0]
    assert first["fullUrl"] == f"{base}/fhir/EpisodeOfCare/{episode_id}"
    assert first["resource"]["status"] == "finished"


def test_a_version_reads_the_bundle_as_the_episode_stood_then(api):
    episode_id = full_episode(api)
    response = api.get(f"/episodes/{episode_id}/fhir", params={"version": 1})
    assert response.headers["etag"] == '"1"'
    bundle = response.json()
    validate_bundle(bundle)
    assert kinds(bundle) == {
        "EpisodeOfCare": 1,
        "ServiceRequest": 1,
        "Task": 1,
        "Provenance": 1,
    }
    [care] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["id"] == episode_id
    ]
    assert care["status"] == "active"


def test_as_of_reads_the_bundle_as_the_store_held_it_at_that_instant(api):
    episode_id = api.open()
    api.command(episode_id, "diagnostics", days=1)
    between = datetime.now(UTC)
    time.sleep(0.01)
    api.command(episode_id, "closure", days=2)
    then = api.get(
        f"/episodes/{episode_id}/fhir", params={"as_of": between.isoformat()}
    )
    assert then.status_code == 200 and then.headers["etag"] == '"2"'
    validate_bundle(then.json())
    now = api.get(f"/episodes/{episode_id}/fhir")
    assert now.headers["etag"] == '"3"'
    # the same version of the episode always gives the same Bundle
    again = api.get(f"/episodes/{episode_id}/fhir", params={"version": 2})
    assert again.json() == then.json()


def test_version_and_as_of_together_are_refused(api):
    episode_id = api.open()
    response = api.get(
        f"/episodes/{episode_id}/fhir",
        params={"version": 1, "as_of": datetime.now(UTC).isoformat()},
    )
    assert_problem(response, 422, "invalid-request", "not both")


def test_an_unknown_episode_is_404(api):
    response = api.get(f"/episodes/{uuid4()}/fhir", role="clinician")
    assert_problem(response, 404, "episode-not-found")


def test_a_physician_reads_only_the_bundles_of_episodes_it_referred(api):
    episode_id = api.open()
    assert api.get(f"/episodes/{episode_id}/fhir", role="physician").status_code == 200
    refused = api.get(f"/episodes/{episode_id}/fhir", role="other_physician")
    assert_problem(refused, 403, "forbidden")
    assert "pt-0001" not in refused.text


def test_each_read_of_a_bundle_lands_in_the_access_log(api):
    episode_id = api.open()
    response = api.get(f"/episodes/{episode_id}/fhir", role="physician")
    api.get(f"/episodes/{episode_id}/fhir", role="other_physician")
    log = api.get("/audit/access-log", params={"episode_id": episode_id}).json()
    entries = sorted(log["items"], key=lambda e: e["id"])
    assert [(e["principal_id"], e["outcome"]) for e in entries] == [
        ("phys-1", "disclosed"),
        ("phys-2", "denied"),
    ]
    assert entries[0]["action"] == "GET /episodes/{episode_id}/fhir"
    assert entries[0]["request_id"] == response.headers["x-request-id"]


def test_if_none_match_with_the_version_answers_304(api):
    episode_id = api.open()
    response = api.client.get(
        f"/episodes/{episode_id}/fhir",
        headers={
            "Authorization": "Bearer tok-auditor-0123456789",
            "If-None-Match": '"1"',
        },
    )
    assert response.status_code == 304
