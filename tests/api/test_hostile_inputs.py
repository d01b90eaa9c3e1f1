"""Hostile requests, on both backends: huge and deep bodies, NUL bytes, invalid
UTF-8, overlong headers, odd content types, path traversal, and every input that
once answered 500. Each answers the status given, as a problem document the
operation declares, and records nothing."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.openapi_support import assert_documented, operation_of
from tests.support import builders as b
from tests.support.commands import COMMANDS
from tests.support.http import auth, json_body

EPISODE = "{episode}"  # replaced by an episode the test opens
SUPERSCRIPT_TWO = "\u00b2"  # a digit to str.isdigit, not to int() in SQL


def cursor(kind: str, value: str) -> str:
    """A cursor as the lists hand them out, holding `value`."""
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Hostile:
    """One hostile request and the status it must answer."""

    name: str
    method: str
    url: str
    status: int
    slug: str
    headers: dict[str, str | bytes] = field(default_factory=dict)
    body: bytes | None = None
    role: str = "clinician"

    def __str__(self) -> str:
        return self.name


def diagnostic(**overrides: Any) -> bytes:
    return json.dumps({**json_body(b.mri()), **overrides}).encode()


JSON = {"Content-Type": "application/json"}
DIAGNOSTICS = f"/episodes/{EPISODE}/diagnostics"
CORPUS = [
    # -- bodies -------------------------------------------------------------------------
    Hostile("a 10 MiB body", "POST", DIAGNOSTICS, 413, "body-too-large", JSON,
            b'{"findings": "' + b"x" * (10 * 1024 * 1024) + b'"}'),
    Hostile("JSON nested 20 000 deep", "POST", DIAGNOSTICS, 422, "invalid-request",
            JSON, b"[" * 20_000 + b"]" * 20_000),
    Hostile("an object nested 5 000 deep in a field", "POST", DIAGNOSTICS, 422,
            "invalid-request", JSON,
            diagnostic().replace(b'"findings": ', b'"findings": ' + b'{"a": ' * 5000
                                 + b"1" + b"}" * 5000 + b', "x": ')),
    Hostile("a NUL byte in a text field", "POST", DIAGNOSTICS, 422, "invalid-request",
            JSON, diagnostic(findings="disc \u0000 bulge")),
    Hostile("invalid UTF-8 in the body", "POST", DIAGNOSTICS, 422, "invalid-request",
            JSON, diagnostic().replace(b"L4-L5", b"L4-\xff\xfe")),
    Hostile("a lone surrogate escaped in JSON", "POST", DIAGNOSTICS, 422,
            "invalid-request", JSON, diagnostic().replace(b"L4-L5", b"L4-\\ud800")),
    Hostile("a JSON array for an object", "POST", DIAGNOSTICS, 422, "invalid-request",
            JSON, b"[1, 2, 3]"),
    Hostile("an empty body", "POST", DIAGNOSTICS, 422, "invalid-request", JSON, b""),
    Hostile("a number too big for any integer", "POST", f"/episodes/{EPISODE}/outcomes",
            422, "invalid-request", JSON,
            json.dumps({**json_body(b.outcome()), "follows_version": 10**40}).encode()),
    Hostile("NaN for a score", "POST", f"/episodes/{EPISODE}/outcomes", 422,
            "invalid-request", JSON,
            json.dumps(json_body(b.outcome())).replace('"score": 46', '"score": NaN')
            .encode()),
    # -- content types ------------------------------------------------------------------
    Hostile("XML", "POST", DIAGNOSTICS, 415, "unsupported-media-type",
            {"Content-Type": "application/xml"}, b"<diagnostic/>"),
    Hostile("a form", "POST", DIAGNOSTICS, 415, "unsupported-media-type",
            {"Content-Type": "application/x-www-form-urlencoded"}, b"kind=mri"),
    Hostile("multipart", "POST", DIAGNOSTICS, 415, "unsupported-media-type",
            {"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
    Hostile("no content type", "POST", DIAGNOSTICS, 415, "unsupported-media-type",
            {}, diagnostic()),
    Hostile("JSON declared as Latin-1 with invalid UTF-8", "POST", DIAGNOSTICS, 422,
            "invalid-request", {"Content-Type": "application/json; charset=latin-1"},
            diagnostic().replace(b"L4-L5", b"L4-\xe9")),
    # -- headers ------------------------------------------------------------------------
    Hostile("a 60 KiB bearer token", "GET", f"/episodes/{EPISODE}", 401,
            "unauthenticated", {"Authorization": "Bearer " + "t" * 60_000}, role=""),
    Hostile("a token with non-ASCII bytes", "GET", f"/episodes/{EPISODE}", 401,
            "unauthenticated", {"Authorization": "Bearer t\u00f6ken".encode()}, role=""),
    Hostile("a 10 000-character If-Match", "POST", DIAGNOSTICS, 422,
            "invalid-if-match", {**JSON, "If-Match": '"' + "1" * 10_000 + '"'},
            diagnostic()),
    Hostile("a Unicode digit in If-Match", "POST", DIAGNOSTICS, 422, "invalid-if-match",
            {**JSON, "If-Match": '"\u00b2"'.encode()}, diagnostic()),
    Hostile("a 19-digit If-Match", "POST", DIAGNOSTICS, 422, "invalid-if-match",
            {**JSON, "If-Match": '"' + "9" * 19 + '"'}, diagnostic()),
    Hostile("an empty Idempotency-Key", "POST", DIAGNOSTICS, 422, "invalid-request",
            {**JSON, "Idempotency-Key": ""}, diagnostic()),
    Hostile("a 300-character Idempotency-Key", "POST", DIAGNOSTICS, 422,
            "invalid-request", {**JSON, "Idempotency-Key": "k" * 300}, diagnostic()),
    Hostile("a 3 000-character If-None-Match", "GET", f"/episodes/{EPISODE}", 422,
            "invalid-request", {"If-None-Match": '"' + "1" * 3000 + '"'}),
    Hostile("a non-ASCII Last-Event-ID", "GET", "/physicians/dr-pc-1/feed/stream", 422,
            "invalid-cursor", {"Last-Event-ID": "\u00fc".encode()}),
    # -- ids and paths ------------------------------------------------------------------
    # An encoded slash is a slash to the router: these reach no route at all.
    Hostile("path traversal as an episode id", "GET", "/episodes/..%2F..%2Fetc%2Fpasswd",
            404, "not-found"),
    Hostile("path traversal as a physician id", "GET",
            "/physicians/..%2F..%2Fetc%2Fpasswd/feed", 404, "not-found"),
    Hostile("path traversal as an export file", "GET",
            "/fhir/$export-files/0b5e6f1e-3c1a-4d7e-9a55-1f0c2b7d9e41/..%2F..%2Fpasswd",
            404, "not-found", role="service"),
    Hostile("dot segments in an export file", "GET",
            "/fhir/$export-files/0b5e6f1e-3c1a-4d7e-9a55-1f0c2b7d9e41/..passwd",
            422, "invalid-request", role="service"),
    Hostile("a NUL byte in a path id", "GET", "/physicians/dr%00pc/feed", 422,
            "invalid-request"),
    Hostile("invalid UTF-8 in a path id", "GET", "/physicians/dr%FFpc/feed", 422,
            "invalid-request"),
    Hostile("a NUL byte in a query filter", "GET", "/episodes?patient_id=pt%00x", 422,
            "invalid-request"),
    Hostile("invalid UTF-8 in a query filter", "GET", "/episodes?patient_id=%FF%FE",
            422, "invalid-request"),
    # -- the 500s the first fuzzing found -------------------------------------------------
    Hostile("a non-ASCII history cursor", "GET",
            f"/episodes/{EPISODE}/history?after=%C3%BC", 422, "invalid-cursor"),
    Hostile("a non-ASCII audit cursor", "GET", "/audit/referral-loops?after=%C3%BC",
            422, "invalid-cursor", role="auditor"),
    Hostile("a non-ASCII access-log cursor", "GET", "/audit/access-log?after=%C3%BC",
            422, "invalid-cursor", role="auditor"),
    Hostile("a filter time without an offset", "GET",
            "/audit/referral-loops?occurred_from=2026-01-01T00:00:00", 422,
            "invalid-request", role="auditor"),
    Hostile("a time that underflows in UTC", "GET",
            "/audit/access-log?since=0001-01-01T00:00:00%2B14:00", 422,
            "invalid-request", role="auditor"),
    Hostile("a time that overflows in UTC", "GET",
            "/audit/access-log?until=9999-12-31T23:59:59-14:00", 422,
            "invalid-request", role="auditor"),
    Hostile("an as_of that overflows in UTC", "GET",
            f"/episodes/{EPISODE}?as_of=9999-12-31T23:59:59-14:00", 422,
            "invalid-request"),
    Hostile("a 30-digit version", "GET",
            f"/episodes/{EPISODE}?version=999999999999999999999999999999", 422,
            "invalid-request"),
    Hostile("a history cursor holding 40 digits", "GET",
            f"/episodes/{EPISODE}/history?after={cursor('history', '9' * 40)}", 422,
            "invalid-cursor"),
    Hostile("an access-log cursor holding 40 digits", "GET",
            f"/audit/access-log?after={cursor('access', '9' * 40)}", 422,
            "invalid-cursor", role="auditor"),
    Hostile("a feed cursor holding a Unicode digit", "GET",
            "/physicians/dr-pc-1/feed?after=" + cursor("feed", SUPERSCRIPT_TWO), 422,
            "invalid-cursor"),
    Hostile("a search cursor holding a time that overflows", "GET",
            "/episodes?after="
            + cursor("episodes", "9999-12-31T23:59:59-14:00|0b5e6f1e-3c1a-4d7e-9a55-1f0c2b7d9e41"),
            422, "invalid-cursor"),
    Hostile("a 40-digit min_position", "GET", f"/worklist?min_position={'9' * 40}", 422,
            "invalid-request"),
]  # fmt: skip
# The Unicode digit in If-Match, on every command, not only the one above.
CORPUS += [
    Hostile(f"a Unicode digit in If-Match on {case.path}", "POST",
            f"/episodes/{EPISODE}/{case.path}", 422, "invalid-if-match",
            {**JSON, "If-Match": '"\u00b2"'.encode()},
            json.dumps(json_body(case.body())).encode())
    for case in COMMANDS
]  # fmt: skip


@pytest.fixture(scope="module")
def document_cache() -> dict[str, Any]:
    return {}


@pytest.mark.parametrize("hostile", CORPUS, ids=str)
def test_a_hostile_request_answers_a_declared_problem_and_records_nothing(
    api, hostile, document_cache
):
    if "document" not in document_cache:
        document_cache["document"] = api.client.get("/openapi.json").json()
    document = document_cache["document"]
    # given an episode
    episode_id = api.open()
    url = hostile.url.replace(EPISODE, episode_id)
    headers = {**(auth(hostile.role) if hostile.role else {}), **hostile.headers}
    # when the hostile request arrives
    response = api.client.request(
        hostile.method, url, content=hostile.body, headers=headers
    )
    # then it answers its status, as a problem the operation declares
    assert response.status_code == hostile.status, response.text[:500]
    operation = operation_of(document, hostile.method, response.json()["instance"])
    if operation is not None:
        assert_documented(response, operation)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == f"/problems/{hostile.slug}"
    assert "passwd" not in response.text or "root:" not in response.text
    # and nothing was recorded
    history = api.get(f"/episodes/{episode_id}/history").json()["items"]
    assert [item["type"] for item in history] == ["ReferralReceived"]
