"""One JSON log line per request: request id, principal, route template, status,
duration; never a token, a patient id or a payload."""

from __future__ import annotations

import io
import json
import logging

import pytest

from infra.logs import configure_logging
from tests.support import builders as b
from tests.support.http import TOKENS, auth, json_body


@pytest.fixture
def log_lines():
    """Lines the service logs while the test runs, as the production format has them."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(json_lines=True, stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.handlers[:] = handlers
    root.setLevel(level)


def requests_of(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("logger") == "care.requests"]


def test_each_request_is_one_json_line_with_its_route_status_and_duration(
    api, log_lines
):
    episode_id = api.open()
    api.get(f"/episodes/{episode_id}", role="auditor")
    api.client.get("/episodes/not-a-uuid", headers=auth("auditor"))
    lines = requests_of(log_lines())
    opened, read, bad = lines[-3:]
    assert opened["route"] == "/episodes" and opened["status"] == 201
    assert opened["principal"] == "svc-intake" and opened["role"] == "service"
    assert read["route"] == "/episodes/{episode_id}" and read["status"] == 200
    assert read["principal"] == "aud-1" and read["method"] == "GET"
    assert bad["status"] == 422
    for line in lines:
        assert line["message"] == "request"
        assert len(line["request_id"]) == 32
        assert isinstance(line["duration_ms"], float)
        assert line["level"] == "info" and line["timestamp"].endswith("Z")


def test_a_callers_request_id_is_echoed_and_logged_a_bad_one_replaced(api, log_lines):
    good = api.client.get("/healthz", headers={"X-Request-ID": "trace-42.a_b"})
    bad = api.client.get("/healthz", headers={"X-Request-ID": "no spaces allowed"})
    assert good.headers["x-request-id"] == "trace-42.a_b"
    assert bad.headers["x-request-id"] != "no spaces allowed"
    ids = [line["request_id"] for line in requests_of(log_lines())[-2:]]
    assert ids == [good.headers["x-request-id"], bad.headers["x-request-id"]]


def test_no_token_patient_id_or_payload_reaches_a_log_line(api, log_lines):
    body = json_body(b.referral(patient_id="pt-hidden-123", reason="secret reason"))
    opened = api.client.post("/episodes", json=body, headers=auth("service")).json()
    api.get(f"/episodes/{opened['episode_id']}")
    api.client.get("/episodes", headers={"Authorization": "Bearer wrong-token"})
    # (the test's own HTTP client logs the URLs it calls: those lines are not the
    # service's)
    service = [line for line in log_lines() if not line["logger"].startswith("httpx")]
    text = "\n".join(json.dumps(line) for line in service)
    assert "pt-hidden-123" not in text and "secret reason" not in text
    assert opened["episode_id"] not in text
    for token in (*TOKENS.values(), "wrong-token"):
        assert token not in text
