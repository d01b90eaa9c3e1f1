"""Amendments, erasure and the accounting of disclosures over HTTP."""

from __future__ import annotations

from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.support import builders as b
from tests.support.commands import PATHS, case_at
from tests.support.http import TOKENS, assert_problem, auth, json_body

APPROVAL = {"Approval": f"Bearer {TOKENS['second_auditor']}"}


def amendment(version: int, **fields):
    return {"amends_version": version, "fields": fields, "reason": "misread report"}


def test_an_amendment_shows_the_corrected_value_beside_the_original(api):
    episode = api.open()
    assert api.command(episode, "diagnostics", b.mri()).status_code == 201
    done = api.command(episode, "amendments", amendment(2, pain_generator="facet"))
    assert done.status_code == 201 and done.json()["version"] == 3
    body = api.get(f"/episodes/{episode}").json()
    [diagnostic] = body["diagnostics"]
    assert diagnostic["pain_generator"] == "facet"
    assert diagnostic["original"]["pain_generator"] is None
    assert diagnostic["amended_by"] == [3]
    assert body["pain_generators"] == ["facet"]
    [amended] = body["amendments"]
    assert (amended["amends_version"], amended["fields"]) == (
        2,
        {"pain_generator": "facet"},
    )
    types = [e["type"] for e in api.get(f"/episodes/{episode}/history").json()["items"]]
    assert types == ["ReferralReceived", "DiagnosticCompleted", "EventAmended"]


def test_an_amended_field_is_checked_as_the_original_command_checks_it(api):
    episode = api.open()
    api.command(episode, "outcomes", b.outcome(instrument="odi", score=40))
    wrong = api.command(episode, "amendments", amendment(2, score=140))
    assert_problem(wrong, 422, "invalid-request", "score")
    unknown = api.command(episode, "amendments", amendment(2, lot_number="A1"))
    assert_problem(unknown, 422, "invalid-request", "has no field lot_number")


def test_an_amendment_cannot_move_an_event_before_the_opening(api):
    episode = api.open()
    api.command(episode, "diagnostics", b.mri())
    early = api.command(
        episode, "amendments", amendment(2, occurred_at=b.at(-3).isoformat())
    )
    assert_problem(early, 409, "rule-violated", "before the episode opened")


def test_an_amendment_names_a_version_the_episode_has(api):
    episode = api.open()
    missing = api.command(episode, "amendments", amendment(9, reason="x"))
    assert_problem(missing, 409, "rule-violated", "no version 9")


def test_erasure_answers_202_and_the_patients_reads_410(api):
    episode = api.open(patient_id="pt-gone")
    response = api.client.post(
        "/patients/pt-gone/erasure",
        json={"reason": "Art. 17 request"},
        headers={**auth("auditor"), **APPROVAL},
    )
    assert response.status_code == 202, response.text
    assert response.json()["episodes"] == [episode]
    assert response.json()["approved_by"] == "aud-2"
    # once the audit has processed the erasure, its row answers 410 too
    head = api.client.app.state.container.episodes.recorder.max_notification_id()
    for url in (
        f"/episodes/{episode}",
        f"/episodes/{episode}/history",
        f"/audit/referral-loops/{episode}?min_position={head}",
    ):
        assert_problem(api.get(url), 410, "patient-data-erased", "erased")
    # the history's 410 still says what happened when: versions, types, times
    gone = api.get(f"/episodes/{episode}/history").json()["events"]
    assert [(e["version"], e["type"], e["content"]) for e in gone] == [
        (1, "ReferralReceived", "erased"),
        (2, "EpisodeErased", "plain"),
    ]
    assert gone[0]["occurred_at"] == b.at(0).isoformat()
    assert all(e["recorded_at"] for e in gone)
    refused = api.command(episode, "diagnostics", b.mri())
    assert_problem(refused, 410, "patient-data-erased")
    # a copy revalidated by its tag, or by any tag, is gone too: 410, never 304
    for url, tag in [
        (f"/episodes/{episode}", '"1"'),
        (f"/episodes/{episode}", '"2"'),
        (f"/episodes/{episode}", "*"),
        (f"/episodes/{episode}?version=1", '"1"'),
    ]:
        revalidated = api.client.get(
            url, headers={**auth("auditor"), "If-None-Match": tag}
        )
        assert_problem(revalidated, 410, "patient-data-erased")
    found = api.get("/episodes", params={"patient_id": "pt-gone"}).json()
    assert found["items"] == []


@pytest.mark.parametrize("path", [*PATHS.values(), "amendments"])
def test_every_command_on_an_erased_patients_episode_answers_410(api, path):
    episode = api.open(patient_id="pt-gone")
    assert api.command(episode, "diagnostics", b.mri()).status_code == 201
    erased = api.client.post(
        "/patients/pt-gone/erasure",
        json={"reason": "Art. 17 request"},
        headers={**auth("auditor"), **APPROVAL},
    )
    assert erased.status_code == 202, erased.text
    body = (
        amendment(2, pain_generator="facet")
        if path == "amendments"
        else case_at(path).body()
    )
    refused = api.command(episode, path, body)
    assert_problem(refused, 410, "patient-data-erased", str(episode))
    # and nothing was recorded: the erasure is the episode's last event
    events = api.client.app.state.container.episodes.records.select_episode_records(
        UUID(episode)
    )
    assert [e.originator_version for e in events] == [1, 2, 3]


def test_erasure_of_a_patient_the_store_holds_nothing_of_answers_404(api):
    response = api.client.post(
        "/patients/pt-never-seen/erasure",
        json={"reason": "Art. 17 request"},
        headers={**auth("auditor"), **APPROVAL},
    )
    assert_problem(response, 404, "episode-not-found", "pt-never-seen")


def test_erasure_where_payloads_are_stored_in_plain_answers_409(api_settings):
    plain = api_settings.model_copy(update={"encrypt_events": False})
    with TestClient(create_app(plain), raise_server_exceptions=False) as client:
        opened = client.post(
            "/episodes",
            json=json_body(b.referral(patient_id="pt-plain"), 0),
            headers=auth("service"),
        )
        assert opened.status_code == 201, opened.text
        response = client.post(
            "/patients/pt-plain/erasure",
            json={"reason": "Art. 17 request"},
            headers={**auth("auditor"), **APPROVAL},
        )
    assert_problem(response, 409, "domain-error", "stored in plain")


def test_erasure_refuses_an_approval_by_the_requester_himself(api):
    api.open(patient_id="pt-stays")
    response = api.client.post(
        "/patients/pt-stays/erasure",
        json={"reason": "x"},
        headers={**auth("auditor"), "Approval": f"Bearer {TOKENS['auditor']}"},
    )
    assert_problem(response, 403, "approval-required", "another auditor")


def test_disclosures_say_who_read_what_when_and_why(api):
    episode = api.open(patient_id="pt-d")
    api.open(patient_id="pt-other")
    api.get(f"/episodes/{episode}", role="clinician")
    api.get(f"/episodes/{episode}/history", role="physician")
    body = api.get("/patients/pt-d/disclosures").json()
    seen = [(d["principal_id"], d["action"], d["purpose"]) for d in body["items"]]
    assert seen == [
        (
            "phys-1",
            "GET /episodes/{episode_id}/history",
            "treatment (the referring physician)",
        ),
        ("clin-ana", "GET /episodes/{episode_id}", "treatment"),
    ]
    assert all(d["episode_ids"] == [episode] for d in body["items"])
