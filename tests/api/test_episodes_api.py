"""The HTTP contract for episode commands and reads (DESIGN.md §4), on both backends."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError

from tests.support import builders as b
from tests.support.commands import COMMANDS
from tests.support.http import assert_problem, auth, json_body


def test_a_full_episode_goes_through_every_command_and_reads_back(api):
    # given an episode opened by a service
    episode_id = api.open()
    # when every command is posted, one day apart
    versions = []
    for day, case in enumerate(COMMANDS, start=1):
        response = api.command(episode_id, case.path, days=day)
        assert response.status_code == 201, (case.path, response.text)
        assert response.headers["etag"] == f'"{day + 1}"'
        versions.append(response.json()["version"])
    # then the state holds every entry, typed as sent
    response = api.get(f"/episodes/{episode_id}")
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{len(COMMANDS) + 1}"'
    state = response.json()
    assert versions == list(range(2, len(COMMANDS) + 2))
    assert state["status"] == "closed" and state["closure_reason"] == "resolved"
    assert state["pathway"] == ["spine_surgery", "pain_medicine"]
    assert state["biologics"][0]["volume_ml"] == 4.5
    assert state["biologics"][0]["lot_number"] == "PRP-2026-0412"
    assert state["outcomes"][0]["score"] == 46
    assert state["diagnostics"][0]["actor"] == {
        "principal_id": "clin-ana",
        "role": "clinician",
    }
    assert state["assignee"] == {
        "clinician_id": "clin-ana",
        "clinician_name": "Ana Clinician",
    }
    assert state["conservative_care"][0]["started_on"] == "2026-03-03"
    for name in (
        "treatment_plans",
        "interventions",
        "surgery_referrals",
        "consult_notes",
    ):
        assert len(state[name]) == 1, name


def test_opening_an_episode_answers_201_with_location_etag_and_position(api):
    response = api.client.post(
        "/episodes", json=json_body(b.referral(), 0), headers=auth("service")
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/episodes/{body['episode_id']}"
    assert response.headers["etag"] == '"1"'
    assert body["version"] == 1 and body["position"] >= 1


def test_a_command_with_a_current_if_match_is_applied(api):
    episode_id = api.open()
    response = api.command(episode_id, "diagnostics", headers={"If-Match": '"1"'})
    assert response.status_code == 201
    assert response.headers["etag"] == '"2"'


def test_a_command_with_a_stale_if_match_is_refused_with_412(api):
    episode_id = api.open()
    api.command(episode_id, "diagnostics")
    response = api.command(episode_id, "outcomes", headers={"If-Match": '"1"'})
    body = assert_problem(response, 412, "version-mismatch", "is at version 2")
    assert body["current_version"] == 2
    assert response.headers["etag"] == '"2"'
    assert len(api.get(f"/episodes/{episode_id}/history").json()["items"]) == 2


def test_a_malformed_if_match_is_refused_with_422_naming_the_header(api):
    episode_id = api.open()
    response = api.command(episode_id, "diagnostics", headers={"If-Match": "yesterday"})
    body = assert_problem(response, 422, "invalid-if-match")
    assert body["errors"] == [
        {
            "field": "If-Match",
            "in": "header",
            "message": 'not an episode ETag such as "3"',
        }
    ]


def test_an_idempotent_retry_answers_the_original_result_and_records_nothing(api):
    episode_id = api.open()
    first = api.command(episode_id, "diagnostics", headers={"Idempotency-Key": "mri-1"})
    again = api.command(episode_id, "diagnostics", headers={"Idempotency-Key": "mri-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    history = api.get(f"/episodes/{episode_id}/history").json()["items"]
    assert [item["type"] for item in history] == [
        "ReferralReceived",
        "DiagnosticCompleted",
    ]
    assert history[1]["idempotency_key"] == "mri-1"


def test_an_idempotency_key_reused_with_another_body_is_refused_with_422(api):
    episode_id = api.open()
    api.command(episode_id, "diagnostics", headers={"Idempotency-Key": "mri-1"})
    response = api.command(
        episode_id,
        "diagnostics",
        b.mri(levels=["L5-S1"]),
        headers={"Idempotency-Key": "mri-1"},
    )
    assert_problem(response, 422, "idempotency-key-reused", "'mri-1'")


def test_an_idempotent_open_retried_answers_the_same_episode(api):
    headers = {**auth("service"), "Idempotency-Key": "open-77"}
    first = api.client.post(
        "/episodes", json=json_body(b.referral(), 0), headers=headers
    )
    again = api.client.post(
        "/episodes", json=json_body(b.referral(), 0), headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()


def test_an_unknown_episode_is_404(api):
    missing = uuid4()
    assert_problem(
        api.get(f"/episodes/{missing}"), 404, "episode-not-found", str(missing)
    )
    assert_problem(api.get(f"/episodes/{missing}/history"), 404, "episode-not-found")
    assert_problem(api.command(missing, "diagnostics"), 404, "episode-not-found")


def test_a_broken_rule_is_409_with_the_domains_sentence(api):
    episode_id = api.open()
    api.command(episode_id, "closure")
    response = api.command(episode_id, "diagnostics", days=2)
    assert_problem(response, 409, "rule-violated", f"episode {episode_id} is closed")


def test_a_score_out_of_range_is_422_naming_the_field(api):
    episode_id = api.open()
    response = api.command(
        episode_id, "outcomes", b.outcome(instrument="nrs_pain", score=11)
    )
    body = assert_problem(
        response, 422, "invalid-request", "nrs_pain score must be from 0 to 10"
    )
    assert body["field"] == "score"
    assert [(e["field"], e["in"]) for e in body["errors"]] == [("score", "body")]


def test_an_occurred_at_in_the_future_is_422(api):
    episode_id = api.open()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = api.client.post(
        f"/episodes/{episode_id}/diagnostics",
        json={**json_body(b.mri()), "occurred_at": future},
        headers=auth("clinician"),
    )
    body = assert_problem(response, 422, "invalid-request", "is in the future")
    assert [(e["field"], e["in"]) for e in body["errors"]] == [("occurred_at", "body")]


@pytest.mark.parametrize(
    ("moment", "detail"),
    [
        ("0001-01-01T01:00:00+14:00", "out of range once converted to UTC"),
        ("1899-12-31T23:59:00+00:00", "is not between 1900 and 9000"),
        ("0001-01-01T00:00:00+00:00", "is not between 1900 and 9000"),
    ],
)
def test_an_occurred_at_before_1900_is_422_and_records_nothing(api, moment, detail):
    # year 1 with a positive offset cannot even be converted to UTC: taken, it
    # would fail every reader of the event
    episode_id = api.open()
    response = api.client.post(
        f"/episodes/{episode_id}/diagnostics",
        json={**json_body(b.mri()), "occurred_at": moment},
        headers=auth("clinician"),
    )
    body = assert_problem(response, 422, "invalid-request", detail)
    assert [(e["field"], e["in"]) for e in body["errors"]] == [("occurred_at", "body")]
    history = api.client.get(f"/episodes/{episode_id}/history", headers=auth("auditor"))
    assert [item["version"] for item in history.json()["items"]] == [1]


def test_an_unknown_enum_value_is_422_listing_the_allowed_values(api):
    episode_id = api.open()
    response = api.command(episode_id, "interventions", b.esi(procedure="laser"))
    body = assert_problem(response, 422, "invalid-request", "procedure")
    [error] = body["errors"]
    assert error["field"] == "procedure"
    assert "radiofrequency_ablation" in error["allowed"]


def test_a_missing_or_unknown_field_is_422_naming_it(api):
    episode_id = api.open()
    body = json_body(b.prp())
    del body["lot_number"]
    body["colour"] = "red"
    response = api.client.post(
        f"/episodes/{episode_id}/biologics", json=body, headers=auth("clinician")
    )
    problem = assert_problem(response, 422, "invalid-request")
    assert {e["field"] for e in problem["errors"]} == {"lot_number", "colour"}


def test_a_nested_field_error_names_its_path(api):
    response = api.client.post(
        "/episodes",
        json=json_body(
            b.referral(referrer={"id": "x", "name": "X", "role": "insurer"}), 0
        ),
        headers=auth("service"),
    )
    problem = assert_problem(response, 422, "invalid-request", "referrer.role")
    assert "primary_care" in problem["errors"][0]["allowed"]


def test_an_occurred_at_without_offset_is_422(api):
    episode_id = api.open()
    response = api.client.post(
        f"/episodes/{episode_id}/diagnostics",
        json={**json_body(b.mri()), "occurred_at": "2026-03-05T09:00:00"},
        headers=auth("clinician"),
    )
    assert_problem(response, 422, "invalid-request", "occurred_at")


def test_malformed_json_is_422(api):
    response = api.client.post(
        "/episodes",
        content=b'{"patient_id": ',
        headers={**auth("service"), "content-type": "application/json"},
    )
    assert_problem(response, 422, "invalid-request", "not valid JSON")


def test_a_body_over_64_kib_is_413(api):
    episode_id = api.open()
    body = json_body(b.mri(findings="x" * 70_000))
    response = api.client.post(
        f"/episodes/{episode_id}/diagnostics", json=body, headers=auth("clinician")
    )
    assert_problem(response, 413, "body-too-large", "64 KiB")


def test_a_body_that_is_not_json_is_415(api):
    response = api.client.post(
        "/episodes",
        content=b"patient_id=1",
        headers={
            **auth("service"),
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    assert_problem(response, 415, "unsupported-media-type")


def test_an_unexpected_error_is_a_500_problem_whose_request_id_is_logged(
    api, monkeypatch, caplog
):
    episode_id = api.open()

    def broken(*_args, **_kwargs):
        raise RuntimeError("SELECT secret FROM stored_events -- boom")

    monkeypatch.setattr(api.client.app.state.container.episodes, "get_episode", broken)
    with caplog.at_level(logging.ERROR, logger="care.api"):
        response = api.get(f"/episodes/{episode_id}")
    body = assert_problem(
        response, 500, "internal-error", body_id := response.headers["x-request-id"]
    )
    assert "SELECT" not in response.text and "Traceback" not in response.text
    assert body["request_id"] == body_id
    assert any(body_id in record.getMessage() for record in caplog.records)


def test_the_episode_at_a_version_is_as_it_stood(api):
    episode_id = api.open()
    api.command(episode_id, "diagnostics")
    api.command(episode_id, "closure", days=2)
    response = api.get(f"/episodes/{episode_id}", params={"version": 2})
    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'
    assert response.json()["status"] == "open"
    assert_problem(
        api.get(f"/episodes/{episode_id}", params={"version": 9}),
        404,
        "episode-not-found",
    )
    assert_problem(
        api.get(f"/episodes/{episode_id}", params={"version": 0}),
        422,
        "invalid-request",
    )


def test_the_episode_as_of_an_instant_is_the_record_as_it_stood_then(api):
    episode_id = api.open()
    api.command(episode_id, "diagnostics")
    items = api.get(f"/episodes/{episode_id}/history").json()["items"]
    first, second = (datetime.fromisoformat(i["recorded_at"]) for i in items)
    between = first + (second - first) / 2
    response = api.get(f"/episodes/{episode_id}?as_of={quote(between.isoformat())}")
    assert response.status_code == 200 and response.json()["version"] == 1
    before = (first - timedelta(days=1)).isoformat()
    assert_problem(
        api.get(f"/episodes/{episode_id}?as_of={quote(before)}"),
        404,
        "episode-not-found",
        "had not been recorded",
    )
    both = api.get(
        f"/episodes/{episode_id}", params={"version": 1, "as_of": between.isoformat()}
    )
    assert_problem(both, 422, "invalid-request", "not both")


def test_the_history_shows_metadata_positions_and_chained_hashes(api):
    episode_id = api.open()
    second = api.command(episode_id, "diagnostics", days=3).json()
    response = api.get(f"/episodes/{episode_id}/history")
    assert response.headers["etag"] == '"2"'
    history = response.json()
    assert history["next_cursor"] is None
    opened, diagnostic = history["items"]
    assert (opened["version"], opened["type"]) == (1, "ReferralReceived")
    assert diagnostic["position"] == second["position"] > opened["position"]
    assert diagnostic["occurred_at"] == b.at(3).isoformat().replace("+00:00", "Z")
    assert diagnostic["actor"] == {"principal_id": "clin-ana", "role": "clinician"}
    assert diagnostic["data"]["kind"] == "mri" and diagnostic["data"]["levels"] == [
        "L4-L5"
    ]
    assert datetime.fromisoformat(diagnostic["recorded_at"]) >= datetime.fromisoformat(
        opened["recorded_at"]
    )
    assert len(diagnostic["chain_hash"]) == 64


def test_the_history_pages_by_cursor(api):
    episode_id = api.open()
    for day in range(1, 5):
        api.command(episode_id, "outcomes", days=day)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"after": cursor} if cursor else {})}
        page = api.get(f"/episodes/{episode_id}/history", params=params).json()
        seen += [item["version"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [1, 2, 3, 4, 5]
    bad = api.get(f"/episodes/{episode_id}/history", params={"after": "bm9wZQ"})
    assert_problem(bad, 422, "invalid-cursor")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_answer_without_credentials(api, path):
    assert api.client.get(path).status_code == 200


def test_an_unknown_route_is_a_404_problem(api):
    assert_problem(api.client.get("/nowhere"), 404, "not-found")


def test_the_openapi_document_describes_every_command_with_its_schemas(api):
    document = api.client.get("/openapi.json").json()
    for case in COMMANDS:
        operation = document["paths"][f"/episodes/{{episode_id}}/{case.path}"]["post"]
        assert operation["summary"] and operation["description"]
        assert "requestBody" in operation
        assert "201" in operation["responses"]
    get_episode = document["paths"]["/episodes/{episode_id}"]["get"]
    assert {p["name"] for p in get_episode["parameters"]} >= {
        "episode_id",
        "version",
        "as_of",
    }
    assert "EpisodePublic" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            success = next(
                v for k, v in operation["responses"].items() if k.startswith("2")
            )
            if path == "/metrics":  # Prometheus text, not JSON
                assert set(success["content"]) == {"text/plain"}
                continue
            if path.endswith("/feed/stream"):  # Server-Sent Events
                assert set(success["content"]) == {"text/event-stream"}
                continue
            content = success.get("content", {})
            # Only an answer with nothing to say has no body (204, a 202 to poll).
            assert content or success is operation["responses"].get(
                "204", operation["responses"].get("202")
            ), (method, path)
            if "application/json" in content:
                schema = content["application/json"]["schema"]
                assert "$ref" in schema, (method, path)
            assert operation.get("description") or operation.get("summary"), (
                method,
                path,
            )
    assert api.client.get("/docs").status_code == 200


def test_an_unreachable_store_is_a_503_problem_with_retry_after(api, monkeypatch):
    episode_id = api.open()

    def unreachable(*_args, **_kwargs):
        raise OperationalError("connection to server at 10.0.0.5 failed")

    container = api.client.app.state.container
    monkeypatch.setattr(container.episodes, "get_episode", unreachable)
    response = api.get(f"/episodes/{episode_id}")
    assert_problem(response, 503, "store-unavailable")
    assert response.headers["retry-after"] == "1" and "10.0.0.5" not in response.text
    monkeypatch.setattr(container.episodes.recorder, "max_notification_id", unreachable)
    assert_problem(api.client.get("/readyz"), 503, "store-unavailable")


def test_history_pages_read_only_their_own_versions(api):
    episode_id = api.open()
    for day in range(1, 8):
        api.command(episode_id, "diagnostics", days=day)
    first = api.get(f"/episodes/{episode_id}/history", params={"limit": 3})
    assert first.headers["etag"] == '"8"'
    page = first.json()
    assert [i["version"] for i in page["items"]] == [1, 2, 3]
    rest = api.get(
        f"/episodes/{episode_id}/history",
        params={"limit": 10, "after": page["next_cursor"]},
    ).json()
    assert [i["version"] for i in rest["items"]] == [4, 5, 6, 7, 8]
    assert rest["next_cursor"] is None


def _revalidate(api, url: str, tag: str, role: str = "auditor"):
    return api.client.get(url, headers={**auth(role), "If-None-Match": tag})


@pytest.mark.parametrize("url", ["/episodes/{id}", "/episodes/{id}/fhir"])
def test_revalidating_the_head_answers_304_while_it_is_current_and_the_new_state_after(
    api, url
):
    # given an episode at version 2, read once
    episode_id = api.open()
    api.command(episode_id, "diagnostics", b.mri())
    url = url.format(id=episode_id)
    assert api.get(url).headers["etag"] == '"2"'

    # when its reader revalidates the copy: 304, the same tag, no body
    current = _revalidate(api, url, '"2"')
    assert (current.status_code, current.headers["etag"], current.content) == (
        304,
        '"2"',
        b"",
    )
    # (a weak tag, and a list holding the tag, are the same copy)
    assert _revalidate(api, url, 'W/"9", W/"2"').status_code == 304

    # then after another event the same copy is stale: the new state, tagged 3
    api.command(episode_id, "outcomes")
    stale = _revalidate(api, url, '"2"')
    assert (stale.status_code, stale.headers["etag"]) == (200, '"3"')
    assert _revalidate(api, url, "*").status_code == 304


def _fold_fails(api, monkeypatch) -> None:
    """Make the application's fold of an episode fail until monkeypatch.undo()."""

    def not_folded(*args, **kwargs):
        raise AssertionError("a current copy's revalidation folded the episode")

    episodes = api.client.app.state.container.episodes
    monkeypatch.setattr(episodes, "get_episode", not_folded)


def test_revalidating_the_head_does_not_fold_the_episode(api, monkeypatch):
    # given an episode whose fold would fail if it were made
    episode_id = api.open()
    _fold_fails(api, monkeypatch)
    # when a current copy is revalidated: 304 without reading the events
    response = _revalidate(api, f"/episodes/{episode_id}", '"1"')
    assert response.status_code == 304
    # and the read is in the accounting of disclosures as any read of it is
    monkeypatch.undo()
    body = api.get("/patients/pt-0001/disclosures").json()
    assert [(d["action"], d["episode_ids"]) for d in body["items"]] == [
        ("GET /episodes/{episode_id}", [episode_id])
    ]


def test_revalidation_keeps_the_scope_and_the_404_of_every_read(api):
    # given an episode a physician did not refer, and one that does not exist
    episode_id = api.open()
    missing = f"/episodes/{uuid4()}"
    # then naming any copy ("*") does not get past the scope or the 404
    revalidated = _revalidate(api, f"/episodes/{episode_id}", "*", "other_physician")
    assert_problem(revalidated, 403, "forbidden")
    assert_problem(_revalidate(api, missing, "*", "physician"), 403, "forbidden")
    assert_problem(_revalidate(api, missing, "*"), 404, "episode-not-found")
    # and a version the episode has not reached is not found, whatever is named
    ahead = _revalidate(api, f"/episodes/{episode_id}?version=5", '"5"')
    assert_problem(ahead, 404, "episode-not-found")


def test_revalidating_a_past_version_answers_304_without_a_fold(api, monkeypatch):
    # given an episode at version 3, its version 2 read once
    episode_id = api.open()
    api.command(episode_id, "diagnostics", b.mri())
    api.command(episode_id, "outcomes")
    url = f"/episodes/{episode_id}?version=2"
    assert api.get(url).headers["etag"] == '"2"'
    _fold_fails(api, monkeypatch)
    # then that copy is current though the episode is at 3: a past version never
    # changes, and its revalidation reads none of the events
    assert _revalidate(api, url, '"2"').status_code == 304
    monkeypatch.undo()
    # and a copy of another version gets version 2 in full
    other = _revalidate(api, url, '"3"')
    assert (other.status_code, other.headers["etag"]) == (200, '"2"')
    assert other.json()["version"] == 2
