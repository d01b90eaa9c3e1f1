"""The OpenAPI document against the service: what it declares for every operation
(security, summaries, examples, descriptions, problem schemas) and that each
operation answers exactly the statuses it declares. Routes added later are covered
as they appear: the tests walk whatever /openapi.json lists."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any
from uuid import uuid4

import pytest

from tests.api.openapi_support import (
    BODY_METHODS,
    PROBLEM_REF,
    Operation,
    assert_documented,
    operations,
)
from tests.support import builders as b
from tests.support.commands import PATHS, case_at
from tests.support.http import PHYSICIAN_ID, auth, json_body

# The declarations are the same on every backend: one is enough here; the hostile
# corpus and the fuzz run drive both.
pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
UNAUTHENTICATED = {("GET", "/healthz"), ("GET", "/readyz")}
CALLERS = ["service", "clinician", "auditor", "physician", "other_physician"]
ERASED_COMMAND = "test_privacy_api.py (a command on an erased patient's episode)"
# Statuses an operation declares that the generic probes below cannot provoke,
# each with the test that does.
PROVOKED_ELSEWHERE: dict[tuple[str, str], dict[int, str]] = {
    ("GET", "/physicians/{physician_id}/feed/stream"): {
        200: "an endless stream: test_feed_stream.py reads it through uvicorn",
    },
    ("GET", "/fhir/$export"): {429: "test_bulk_export_api.py (too many jobs)"},
    ("GET", "/fhir/$export-status/{job_id}"): {
        200: "test_bulk_export_api.py (a finished job)",
        202: "test_bulk_export_api.py (a running job)",
        500: "test_bulk_export_api.py (a failed job, as FHIR Bulk Data answers it)",
    },
    ("DELETE", "/fhir/$export-status/{job_id}"): {
        202: "test_bulk_export_api.py (a cancelled job)"
    },
    ("GET", "/fhir/$export-files/{job_id}/{file_name}"): {
        200: "test_bulk_export_api.py (a finished job's file)"
    },
    ("POST", "/physicians/{physician_id}/subscriptions/{subscription_id}/resume"): {
        200: "test_webhook_delivery.py (a paused subscription)"
    },
    ("DELETE", "/physicians/{physician_id}/subscriptions/{subscription_id}"): {
        204: "test_webhook_delivery.py (an existing subscription)"
    },
    ("GET", "/episodes/{episode_id}"): {
        410: "test_privacy_api.py (an erased patient's episode)"
    },
    ("GET", "/episodes/{episode_id}/history"): {
        410: "test_privacy_api.py (an erased patient's episode)"
    },
    ("GET", "/audit/referral-loops/{episode_id}"): {
        410: "test_privacy_api.py (an erased patient's episode)"
    },
    ("POST", "/patients/{patient_id}/erasure"): {
        202: "test_privacy_api.py (an erasure a second auditor approves)",
        404: "test_privacy_api.py (a patient the store holds nothing of)",
        409: "test_privacy_api.py (a store that keeps payloads in plain)",
    },
    ("POST", "/episodes/{episode_id}/amendments"): {
        201: "the amendment tests (a body naming an earlier event)",
        409: "the amendment tests (a correction the episode's state refuses)",
        410: ERASED_COMMAND,
    },
    **{
        ("POST", f"/episodes/{{episode_id}}/{path}"): {410: ERASED_COMMAND}
        for path in PATHS.values()
    },
}


@pytest.fixture
def document(api) -> dict[str, Any]:
    return api.client.get("/openapi.json").json()


# -- what the document declares ---------------------------------------------------------


def test_every_operation_but_health_takes_a_bearer_token(document):
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"][
            "description"
        ],
    }
    for op in operations(document):
        if (op.method, op.path) in UNAUTHENTICATED:
            assert not op.secured and 401 not in op.statuses, op
        else:
            assert op.declaration["security"] == [{"bearer": []}], op
            assert 401 in op.statuses, op


def test_every_operation_has_a_summary_written_for_people_and_a_description(
    document,
):
    for op in operations(document):
        summary = op.declaration.get("summary", "")
        words = summary.split()
        # Sentence case, not FastAPI's default of the function name in title
        # case ("Get Episode").
        assert words and words[0][0].isupper(), op
        assert len(words) == 1 or not all(w[0].isupper() for w in words), op
        assert len(op.declaration.get("description", "")) >= 20, op


def test_every_request_body_has_an_example(document):
    schemas = document["components"]["schemas"]
    for op in operations(document):
        body = op.declaration.get("requestBody")
        if body is None:
            continue
        media = body["content"]["application/json"]
        named = schemas[media["schema"]["$ref"].rsplit("/", 1)[-1]]
        assert media.get("example") or media.get("examples") or named.get("examples"), (
            op
        )


def test_every_field_and_parameter_is_described(document):
    for name, schema in document["components"]["schemas"].items():
        for field, declared in schema.get("properties", {}).items():
            assert declared.get("description"), f"{name}.{field}"
    for op in operations(document):
        for parameter in op.declaration.get("parameters", []):
            assert parameter.get("description"), (str(op), parameter["name"])


def test_every_error_is_declared_as_a_problem_document(document):
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    for op in operations(document):
        for code, declared in op.declaration["responses"].items():
            if int(code) >= 400:
                assert declared["content"] == {
                    "application/problem+json": {"schema": {"$ref": PROBLEM_REF}}
                }, (str(op), code)
                assert declared["description"], (str(op), code)


def test_scores_and_decimals_are_typed_as_numbers(document):
    outcome = document["components"]["schemas"]["RecordOutcomeCreate"]
    assert outcome["properties"]["score"]["type"] == "number"
    biologic = document["components"]["schemas"]["AdministerBiologicCreate"]
    assert biologic["properties"]["volume_ml"]["type"] == "number"


# -- what the service answers -----------------------------------------------------------


def test_each_operation_answers_exactly_the_statuses_it_declares(api, document):
    # given every operation of the document, probed in every way a caller can
    # go wrong that needs no scenario of its own
    observed: dict[Operation, set[int]] = defaultdict(set)
    for op in operations(document):
        for response in probes(api, document, op):
            # then every answer is declared, and a problem document if an error
            observed[op].add(assert_documented(response, op))
    # and every declared status was answered (or is proven where named)
    missing = []
    for op in operations(document):
        elsewhere = set(PROVOKED_ELSEWHERE.get((op.method, op.path), {}))
        unanswered = op.statuses - observed[op] - elsewhere
        if unanswered:
            missing.append(f"{op}: declares {sorted(unanswered)}, never answered")
    assert not missing, "\n".join(missing)


def probes(api, document: dict[str, Any], op: Operation) -> list[Any]:
    """Requests for `op`: each role, no token, unknown ids, bad parameters, a bad
    body, conditional headers, a closed episode, and the store away."""
    answers = []
    body = body_for(document, op)

    def send(url: str, headers: dict[str, str]) -> Any:
        return send_to(api, op, url, headers, body)

    if op.secured:
        answers.append(send(url_for(api, op), {}))
    for role in CALLERS if op.secured else [None]:
        headers = auth(role) if role else {}
        answers.append(send(url_for(api, op), headers))
    for role in ("service", "auditor"):
        answers.append(send(url_for(api, op, unknown=True), auth(role)))
        for url in bad_parameters(api, op):
            answers.append(send(url, auth(role)))
        if "If-None-Match" in header_names(op):
            # "*" matches any current representation: 304 once the read has one.
            fresh = {**auth(role), "If-None-Match": "*"}
            answers.append(send(url_for(api, op, caught_up=True), fresh))
    if "If-Match" in header_names(op):
        stale = {**auth("clinician"), "If-Match": '"999"'}
        answers.append(send(url_for(api, op), stale))
    if op.method in BODY_METHODS:
        url = url_for(api, op)
        plain = {**auth("service"), "Content-Type": "text/plain"}
        answers.append(api.client.request(op.method, url, content="{}", headers=plain))
        oversized = json.dumps({"reason": "x" * (65 * 1024)})
        json_headers = {**auth("service"), "Content-Type": "application/json"}
        answers.append(
            api.client.request(op.method, url, content=oversized, headers=json_headers)
        )
        answers.append(
            api.client.request(op.method, url, content="{", headers=json_headers)
        )
    if op.path.startswith("/episodes/{episode_id}/") and op.method == "POST":
        answers.append(on_a_closed_episode(api, op, body))
    answers.append(while_the_store_is_away(api, op, send))
    return answers


def header_names(op: Operation) -> set[str]:
    return {p["name"] for p in op.parameters("header")}


def url_for(
    api, op: Operation, *, unknown: bool = False, caught_up: bool = False
) -> str:
    """The operation's path on a fresh episode the test physician referred, or on
    ids nobody has (`unknown`); `caught_up` waits for the read models to hold it."""
    opened = api.client.post(
        "/episodes", json=json_body(b.referral(), 0), headers=auth("service")
    ).json()
    episode_id = str(uuid4()) if unknown else opened["episode_id"]
    url = op.path.replace("{episode_id}", episode_id)
    url = url.replace("{physician_id}", PHYSICIAN_ID)
    url = url.replace("{file_name}", "Observation.ndjson")
    url = url.replace("{measure}", "unknown-measure" if unknown else "LBP-IMG")
    url = re.sub(r"\{[^}]+\}", lambda _: str(uuid4()), url)
    if caught_up and any(p["name"] == "min_position" for p in op.parameters("query")):
        url += f"?min_position={opened['position']}"
    return url


# Values no parameter accepts all of: non-ASCII text and digits, out-of-range and
# 40-digit numbers, datetimes without an offset or that overflow, an empty value.
BAD_VALUES = [
    "ü",
    "²",
    "-1",
    "9" * 40,
    "2026-01-01T00:00:00",
    "0001-01-01T00:00:00+14:00",
    "",
]


def bad_parameters(api, op: Operation) -> list[str]:
    """URLs with one query or path parameter replaced by a bad value."""
    urls = []
    base = url_for(api, op)
    for parameter in op.parameters("query"):
        for value in BAD_VALUES[:4]:
            urls.append(f"{base}?{parameter['name']}={value}")
    for parameter in op.parameters("path"):
        for value in ("not-an-id", "x" * 300, "ü"):
            urls.append(op.path.replace("{" + parameter["name"] + "}", value))
    return [re.sub(r"\{[^}]+\}", lambda _: str(uuid4()), url) for url in urls]


def send_to(
    api, op: Operation, url: str, headers: dict[str, str], body: dict[str, Any]
) -> Any:
    """`op` at `url` with a valid body where the tests have one."""
    if url.split("?")[0].endswith("/feed/stream"):
        # An id that is no cursor: answered at once, never an endless stream.
        headers = {**headers, "Last-Event-ID": "not-a-cursor"}
    if url.split("?")[0].endswith("/$export"):
        headers = {**headers, "Prefer": "respond-async"}
    if op.method not in BODY_METHODS:
        return api.client.request(op.method, url, headers=headers)
    return api.client.request(op.method, url, json=body, headers=headers)


def body_for(document: dict[str, Any], op: Operation) -> dict[str, Any]:
    """A valid body where the tests have one, else the schema's example."""
    name = op.path.rsplit("/", 1)[-1]
    if op.path == "/episodes":
        return json_body(b.referral(), 0)
    if name in PATHS.values():
        return json_body(case_at(name).body(), 1)
    if name == "subscriptions":
        # Nothing listens there: deliveries fail quietly while the test runs.
        return {"endpoint": "https://127.0.0.1:9/hooks", "secret": SECRET}
    media = op.declaration.get("requestBody", {}).get("content", {})
    ref = media.get("application/json", {}).get("schema", {}).get("$ref", "")
    schema = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return (schema.get("examples") or [{}])[0]


def on_a_closed_episode(api, op: Operation, body: dict[str, Any]) -> Any:
    episode_id = api.open()
    closed = api.command(episode_id, "closure")
    assert closed.status_code == 201, closed.text
    url = op.path.replace("{episode_id}", episode_id)
    return api.client.post(
        url,
        json=body | {"occurred_at": b.at(2).isoformat()},
        headers=auth("clinician"),
    )


def while_the_store_is_away(api, op: Operation, send: Any) -> Any:
    health = api.client.app.state.container.health
    url = url_for(api, op)
    saved_probe, down_until = health.probe, health._down_until

    def unreachable() -> None:
        raise OSError("the store is away")

    health.probe, health._down_until = unreachable, float("inf")
    try:
        return send(url, auth("service"))
    finally:
        health.probe, health._down_until = saved_probe, down_until
