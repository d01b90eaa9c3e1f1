"""FHIR Bulk Data export over HTTP: kick-off, polling, NDJSON files, filters, cancel."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.support.http import Api, assert_problem, auth
from tests.unit.fhir_support import validate_resource

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def api_settings(api_settings, tmp_path):
    """The API's settings with its export files in the test's own directory (on
    PostgreSQL they would otherwise go to ./var/exports)."""
    return api_settings.model_copy(update={"export_dir": tmp_path / "exports"})


def kick_off(api, role: str = "auditor", **params):
    return api.client.get(
        "/fhir/$export", params=params, headers={**auth(role), **ASYNC}
    )


def finished(api, status_url: str, role: str = "auditor", timeout: float = 30):
    """Poll the status URL until the export is done; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.client.get(status_url, headers=auth(role))
        if response.status_code != 202:
            return response
        assert "x-progress" in response.headers and "retry-after" in response.headers
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.05)


def exported(api, role: str = "auditor", **params) -> dict:
    """The manifest of a finished export, and each file's resources by type."""
    started = kick_off(api, role, **params)
    assert started.status_code == 202, started.text
    done = finished(api, started.headers["content-location"], role)
    assert done.status_code == 200, done.text
    manifest = done.json()
    files = {}
    for item in manifest["output"]:
        response = api.client.get(item["url"], headers=auth(role))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        files[item["type"]] = [json.loads(line) for line in response.text.splitlines()]
    return {"manifest": manifest, "files": files}


def two_episodes(api) -> list[str]:
    first, second = api.open(), api.open(patient_id="pt-0002")
    for path in ("diagnostics", "outcomes", "consult-notes"):
        assert api.command(first, path).status_code == 201
    assert api.command(second, "closure").status_code == 201
    return [first, second]


def test_an_export_answers_202_then_a_manifest_with_one_ndjson_file_per_type(api):
    episodes = two_episodes(api)
    started = kick_off(api)
    assert started.status_code == 202
    assert started.headers["content-location"].startswith(
        f"{api.client.base_url}/fhir/$export-status/"
    )
    assert started.json()["resourceType"] == "OperationOutcome"
    result = exported(api)
    manifest, files = result["manifest"], result["files"]
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert manifest["request"].endswith("/fhir/$export")
    counts = {item["type"]: item["count"] for item in manifest["output"]}
    assert counts == {
        "EpisodeOfCare": 2,
        "ServiceRequest": 2,
        "Task": 2,
        "Observation": 2,  # the diagnostic and the outcome
        "DiagnosticReport": 1,
        "Communication": 1,
        "Provenance": 6,
    }
    assert {t: len(rs) for t, rs in files.items()} == counts
    for kind, resources in files.items():
        for resource in resources:
            assert resource["resourceType"] == kind
            validate_resource(resource)
    assert sorted(r["id"] for r in files["EpisodeOfCare"]) == sorted(episodes)


def test_the_manifest_transaction_time_is_the_newest_event_exported(api):
    episode_id = api.open()
    manifest = exported(api)["manifest"]
    history = api.get(f"/episodes/{episode_id}/history").json()["items"]
    newest = datetime.fromisoformat(history[-1]["recorded_at"])
    assert datetime.fromisoformat(manifest["transactionTime"]) == newest


def test_type_filters_the_files_to_the_types_asked_for(api):
    two_episodes(api)
    files = exported(api, _type="Observation,Communication")["files"]
    assert set(files) == {"Observation", "Communication"}
    files = exported(api, _type=["Task", "Provenance"])["files"]
    assert set(files) == {"Task", "Provenance"}


def test_since_after_every_event_exports_nothing(api):
    two_episodes(api)
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert exported(api, _since=later)["manifest"]["output"] == []


def test_since_before_every_event_exports_everything(api):
    two_episodes(api)
    earlier = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert exported(api, _since=earlier)["files"] == exported(api)["files"]


@pytest.mark.parametrize(
    ("params", "headers", "field"),
    [
        ({}, {}, "Prefer"),
        ({"_type": "Patient"}, ASYNC, "_type"),
        ({"_since": "2026-01-01T00:00:00"}, ASYNC, "_since"),
        ({"_outputFormat": "text/csv"}, ASYNC, "_outputFormat"),
        ({"_typeFilter": "Observation?code=x"}, ASYNC, "_typeFilter"),
        ({"patient": "pt-1"}, ASYNC, "patient"),
    ],
)
def test_a_kick_off_wrong_on_its_own_is_422_naming_what(api, params, headers, field):
    response = api.client.get(
        "/fhir/$export", params=params, headers={**auth("auditor"), **headers}
    )
    body = assert_problem(response, 422, "invalid-request")
    assert body["errors"][0]["field"] == field


def test_an_unknown_type_is_refused_listing_the_types_exported(api):
    body = kick_off(api, _type="Observation,Patient").json()
    assert "Patient" in body["detail"]
    assert "EpisodeOfCare" in body["errors"][0]["allowed"]


@pytest.mark.parametrize("role", ["clinician", "physician"])
def test_only_auditors_and_services_may_export(api, role):
    assert_problem(kick_off(api, role), 403, "forbidden")


def test_another_principal_cannot_see_or_download_an_export(api):
    api.open()
    started = kick_off(api, "auditor")
    status_url = started.headers["content-location"]
    manifest = finished(api, status_url).json()
    assert_problem(api.client.get(status_url, headers=auth("service")), 404,
                   "export-not-found")  # fmt: skip
    url = manifest["output"][0]["url"]
    assert api.client.get(url, headers=auth("service")).status_code == 404
    assert api.client.get(url, headers=auth("auditor")).status_code == 200


def test_a_file_download_lands_in_the_access_log_with_the_episodes_it_holds(api):
    episodes = two_episodes(api)
    manifest = exported(api, role="service", _type="EpisodeOfCare")["manifest"]
    job_id = manifest["output"][0]["url"].split("/")[-2]
    log = api.get("/audit/access-log", params={"principal_id": "svc-intake"}).json()
    [entry] = [e for e in log["items"] if job_id in e["action"]]
    assert sorted(entry["episode_ids"]) == sorted(episodes)
    assert entry["outcome"] == "disclosed"


def test_delete_cancels_an_export_and_then_polling_answers_404(api):
    api.open()
    status_url = kick_off(api).headers["content-location"]
    deleted = api.client.delete(status_url, headers=auth("auditor"))
    assert deleted.status_code == 202
    assert_problem(api.client.get(status_url, headers=auth("auditor")), 404,
                   "export-not-found")  # fmt: skip
    again = api.client.delete(status_url, headers=auth("auditor"))
    assert_problem(again, 404, "export-not-found")


def test_delete_of_a_finished_export_removes_its_files(api):
    api.open()
    status_url = kick_off(api).headers["content-location"]
    url = finished(api, status_url).json()["output"][0]["url"]
    assert api.client.delete(status_url, headers=auth("auditor")).status_code == 202
    assert api.client.get(url, headers=auth("auditor")).status_code == 404


@pytest.fixture
def api_without_worker(api_settings):
    """The API with no export worker: every job it accepts stays queued."""
    settings = api_settings.model_copy(update={"exports_in_process": False})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Api(client)


def test_too_many_unfinished_exports_are_429_with_retry_after(api_without_worker):
    api = api_without_worker
    limit = api.client.app.state.settings.export_max_jobs
    for _ in range(limit):
        assert kick_off(api).status_code == 202
    response = kick_off(api)
    assert_problem(response, 429, "too-many-exports")
    assert response.headers["retry-after"]
    # another principal has its own allowance
    assert kick_off(api, "service").status_code == 202
    # a queued job polls as queued
    queued = kick_off(api, "service")
    assert queued.status_code == 202
    polled = api.client.get(queued.headers["content-location"], headers=auth("service"))
    assert (polled.status_code, polled.headers["x-progress"]) == (202, "queued")


def test_an_unknown_job_is_404(api):
    response = api.client.get(
        f"/fhir/$export-status/{uuid4()}", headers=auth("auditor")
    )
    assert_problem(response, 404, "export-not-found")


def test_an_export_that_cannot_be_written_polls_as_500_saying_why(
    api_settings, tmp_path
):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the export directory should be")
    settings = api_settings.model_copy(update={"export_dir": blocked})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        api = Api(client)
        api.open()
        status_url = kick_off(api).headers["content-location"]
        body = assert_problem(finished(api, status_url), 500, "export-failed")
        assert "not-a-directory" in body["detail"]
