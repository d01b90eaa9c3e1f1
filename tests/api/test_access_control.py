"""Who may do what: every endpoint by every role, physician scoping, the access log."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.values import PrincipalRole
from infra.settings import ConfigurationError, Settings
from infra.tokens import TokenEntry, TokenRegistry, load_token_registry
from tests.support import builders as b
from tests.support.commands import COMMANDS, case_at
from tests.support.http import (
    PHYSICIAN_ID,
    TOKENS,
    assert_problem,
    auth,
    json_body,
    write_tokens_file,
)

ROLES = ["service", "clinician", "auditor", "physician"]
WRITE = {"service": 201, "clinician": 201, "auditor": 403, "physician": 403}
READ = {"service": 200, "clinician": 200, "auditor": 200, "physician": 200}
AUDITOR_ONLY = {"service": 403, "clinician": 403, "auditor": 200, "physician": 403}
STAFF = {"service": 200, "clinician": 200, "auditor": 200, "physician": 403}
SUBSCRIBE = {"service": 201, "clinician": 403, "auditor": 403, "physician": 201}
SUBSCRIBER_404 = {"service": 404, "clinician": 403, "auditor": 403, "physician": 404}
BULK_404 = {"service": 404, "clinician": 403, "auditor": 404, "physician": 403}
SUBSCRIPTION = "/physicians/{physician_id}/subscriptions/{subscription_id}"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# Every endpoint the service has, with what each role gets. An endpoint missing
# here fails the matrix test: a new endpoint must declare who may call it.
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/episodes"): WRITE,
    ("GET", "/episodes"): READ,
    **{("POST", f"/episodes/{{episode_id}}/{case.path}"): WRITE for case in COMMANDS},
    ("GET", "/episodes/{episode_id}"): READ,
    ("GET", "/episodes/{episode_id}/history"): READ,
    ("GET", "/audit/access-log"): AUDITOR_ONLY,
    ("GET", "/audit/referral-loops"): READ,
    ("GET", "/audit/referral-loops/{episode_id}"): READ,
    ("GET", "/audit/referral-loops/{episode_id}/timeline"): READ,
    ("GET", "/audit/referral-loops/{episode_id}/evidence"): READ,
    ("GET", "/audit/referral-loops/summary"): STAFF,
    ("GET", "/worklist"): READ,
    ("GET", "/worklist/summary"): STAFF,
    ("GET", "/projections"): STAFF,
    ("GET", "/metrics"): STAFF,
    # {physician_id} is the test physician: it reads its own feed.
    ("GET", "/physicians/{physician_id}/feed"): READ,
    # Asked with a Last-Event-ID that is no cursor: a role the stream admits is
    # answered 422 at once instead of an endless stream (test_feed_stream.py
    # streams for real, through uvicorn).
    ("GET", "/physicians/{physician_id}/feed/stream"): {r: 422 for r in ROLES},
    # Push subscriptions: made by the physician itself or a service; the ids in
    # the paths are unknown, so roles let through get 404.
    ("POST", "/physicians/{physician_id}/subscriptions"): SUBSCRIBE,
    ("GET", "/physicians/{physician_id}/subscriptions"): READ,
    ("POST", SUBSCRIPTION + "/resume"): SUBSCRIBER_404,
    ("DELETE", SUBSCRIPTION): SUBSCRIBER_404,
    ("GET", "/episodes/{episode_id}/fhir"): READ,
    # Bulk export: auditors and services only; job ids unknown past the kick-off.
    ("GET", "/fhir/$export"): {**BULK_404, "service": 202, "auditor": 202},
    ("GET", "/fhir/$export-status/{job_id}"): BULK_404,
    ("DELETE", "/fhir/$export-status/{job_id}"): BULK_404,
    ("GET", "/fhir/$export-files/{job_id}/{file_name}"): BULK_404,
    # Physicians read the decisions (and counts) of the episodes they referred.
    ("GET", "/quality-measures"): READ,
    ("GET", "/quality-measures/{measure}"): READ,
    ("POST", "/episodes/{episode_id}/amendments"): WRITE,
    ("GET", "/patients/{patient_id}/disclosures"): AUDITOR_ONLY,
    # An auditor asks and a second auditor approves in the same request: without
    # the Approval header even an auditor is refused.
    ("POST", "/patients/{patient_id}/erasure"): {r: 403 for r in ROLES},
}
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}


def call(api, method: str, template: str, headers: dict[str, str]):
    """Call one endpoint on a fresh episode referred by the test physician."""
    opened = api.client.post(
        "/episodes", json=json_body(b.referral(), 0), headers=auth("service")
    ).json()
    url = template.replace("{episode_id}", opened["episode_id"])
    url = url.replace("{physician_id}", PHYSICIAN_ID)
    for unknown in ("{subscription_id}", "{job_id}"):
        url = url.replace(unknown, str(uuid4()))
    url = url.replace("{file_name}", "Observation.ndjson")
    url = url.replace("{measure}", "LBP-IMG")
    url = url.replace("{patient_id}", "pt-0001")
    if url.endswith("/feed/stream"):
        headers = {**headers, "Last-Event-ID": "not-a-cursor"}
    if url.endswith("/fhir/$export"):
        headers = {**headers, "Prefer": "respond-async"}
    if method == "DELETE":
        return api.client.delete(url, headers=headers)
    if method == "POST" and url.endswith("/subscriptions"):
        # Nothing listens there: deliveries fail quietly while the test runs.
        body = {"endpoint": "https://127.0.0.1:9/hooks", "secret": SECRET}
        return api.client.post(url, json=body, headers=headers)
    if url.endswith("/resume"):
        return api.client.post(url, json={}, headers=headers)
    if url.endswith("/amendments"):
        body = {"amends_version": 1, "fields": {"reason": "sciatica"}, "reason": "typo"}
        return api.client.post(url, json=json_body(body, 1), headers=headers)
    if url.endswith("/erasure"):
        return api.client.post(url, json={"reason": "Art. 17"}, headers=headers)
    if method == "GET":
        # Read models answer once they have processed the episode.
        if "/audit/referral" in url:
            wait = {"min_position": opened["position"]}
            api.client.get(url, headers=auth("service"), params=wait)
        return api.client.get(url, headers=headers)
    path = template.rsplit("/", 1)[-1]
    body = b.referral() if template == "/episodes" else case_at(path).body()
    return api.client.post(url, json=json_body(body, 1), headers=headers)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_every_endpoint_answers_each_role_exactly_as_declared(api):
    document = api.client.get("/openapi.json").json()
    endpoints = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    ]
    undeclared = [e for e in endpoints if e not in EXPECTED and e not in PUBLIC]
    assert not undeclared, f"endpoints with no declared access rule: {undeclared}"
    wrong = []
    for method, path in endpoints:
        cases = {"no token": ({}, 401), "bad token": (auth_with("not-a-token"), 401)}
        if (method, path) in PUBLIC:
            cases = {"no token": ({}, 200)}
        else:
            cases.update(
                {role: (auth(role), EXPECTED[(method, path)][role]) for role in ROLES}
            )
        for who, (headers, expected) in cases.items():
            status = call(api, method, path, headers).status_code
            if status != expected:
                wrong.append(f"{method} {path} as {who}: {status}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def auth_with(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("url", ["/episodes/{id}", "/episodes/{id}/history"])
def test_a_physician_may_not_read_an_episode_it_did_not_refer(api, url):
    episode_id = api.open()
    response = api.get(url.format(id=episode_id), role="other_physician")
    body = assert_problem(response, 403, "forbidden")
    # the body echoes only what the caller sent (the path); nothing of the episode
    assert "pt-0001" not in response.text and "dr-pc-1" not in response.text
    assert body["detail"] == "your role does not allow this request"


def test_a_physician_gets_403_not_404_for_an_episode_that_does_not_exist(api):
    response = api.get(f"/episodes/{uuid4()}", role="physician")
    assert_problem(response, 403, "forbidden")


def test_a_physician_reads_an_episode_it_referred_later_in_the_pathway(api):
    episode_id = api.open(
        referrer={"id": "dr-other", "name": "Dr O", "role": "concierge"}
    )
    assert api.get(f"/episodes/{episode_id}", role="physician").status_code == 403
    api.command(
        episode_id,
        "referrals",
        b.further_referral(
            referrer={"id": "dr-pc-1", "name": "Dr P", "role": "primary_care"}
        ),
    )
    assert api.get(f"/episodes/{episode_id}", role="physician").status_code == 200


def test_problems_for_401_and_403_reveal_nothing_about_the_resource(api):
    episode_id = api.open()
    unauthenticated = api.client.get(f"/episodes/{episode_id}")
    assert_problem(unauthenticated, 401, "unauthenticated")
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    assert "pt-0001" not in unauthenticated.text
    forbidden = api.command(episode_id, "diagnostics", role="auditor")
    assert_problem(forbidden, 403, "forbidden")
    assert "pt-0001" not in forbidden.text


# -- the access log ---------------------------------------------------------------------


def log_entries(api, **params):
    response = api.get("/audit/access-log", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.mark.parametrize(
    ("url", "action"),
    [
        ("/episodes/{id}", "GET /episodes/{episode_id}"),
        ("/episodes/{id}?version=1", "GET /episodes/{episode_id}"),
        ("/episodes/{id}/history", "GET /episodes/{episode_id}/history"),
    ],
)
@pytest.mark.parametrize("role", ["clinician", "physician"])
def test_each_read_of_an_episode_lands_in_the_access_log(api, url, action, role):
    episode_id = api.open()
    response = api.get(url.format(id=episode_id), role=role)
    assert response.status_code == 200
    [entry] = log_entries(api, episode_id=episode_id)
    principal = {"clinician": "clin-ana", "physician": "phys-1"}[role]
    assert entry["principal_id"] == principal and entry["role"] == role
    assert entry["episode_ids"] == [episode_id]
    assert entry["action"] == action and entry["outcome"] == "disclosed"
    assert entry["request_id"] == response.headers["x-request-id"]


def test_a_read_as_of_an_instant_lands_in_the_access_log(api):
    episode_id = api.open()
    api.get(f"/episodes/{episode_id}", params={"as_of": datetime.now(UTC).isoformat()})
    [entry] = log_entries(api, episode_id=episode_id)
    assert entry["principal_id"] == "aud-1" and entry["outcome"] == "disclosed"


def test_refused_and_missing_reads_are_logged_with_their_outcome(api):
    episode_id = api.open()
    api.get(f"/episodes/{episode_id}", role="other_physician")
    missing = str(uuid4())
    api.get(f"/episodes/{missing}", role="clinician")
    [denied] = log_entries(api, episode_id=episode_id)
    assert (denied["principal_id"], denied["outcome"]) == ("phys-2", "denied")
    [not_found] = log_entries(api, episode_id=missing)
    assert not_found["outcome"] == "not_found"


def test_the_access_log_filters_by_principal_and_time_and_pages(api):
    episode_id = api.open()
    for _ in range(3):
        api.get(f"/episodes/{episode_id}", role="clinician")
    api.get(f"/episodes/{episode_id}", role="service")
    assert len(log_entries(api, principal_id="clin-ana")) == 3
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert log_entries(api, since=later) == []
    assert len(log_entries(api, until=later)) == 4
    first = api.get("/audit/access-log", params={"limit": 3}).json()
    second = api.get(
        "/audit/access-log", params={"limit": 3, "after": first["next_cursor"]}
    ).json()
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    assert second["next_cursor"] is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_access_log_cannot_be_changed_through_the_api(api, method):
    episode_id = api.open()
    api.get(f"/episodes/{episode_id}", role="clinician")
    before = log_entries(api)
    response = api.client.request(
        method,
        "/audit/access-log",
        json={"id": before[0]["id"], "principal_id": "nobody"},
        headers=auth("auditor"),
    )
    assert_problem(response, 405, "method-not-allowed")
    assert log_entries(api) == before


# -- tokens ------------------------------------------------------------------------------


def test_tokens_may_be_stored_as_their_sha256():
    registry = TokenRegistry(
        [
            TokenEntry(
                token_sha256=hashlib.sha256(b"s3cret-token-000000").hexdigest(),
                principal="svc",
                role="service",
            )
        ]
    )
    principal = registry.authenticate("s3cret-token-000000")
    assert principal is not None and principal.role is PrincipalRole.SERVICE
    assert registry.authenticate("s3cret-token-000001") is None


def test_a_postgresql_deployment_without_tokens_refuses_to_start():
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:5432/x")
    with pytest.raises(ConfigurationError, match="needs CARE_AUTH_TOKENS_FILE"):
        load_token_registry(settings)


def test_the_embedded_default_writes_development_tokens_once(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'care.db'}",
        dev_tokens_file=tmp_path / "var" / "dev-tokens.json",
    )
    first = load_token_registry(settings)
    content = settings.dev_tokens_file.read_text()
    second = load_token_registry(settings)
    assert settings.dev_tokens_file.read_text() == content
    assert oct(settings.dev_tokens_file.stat().st_mode & 0o777) == "0o600"
    assert first and second


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ("not json", "cannot read"),
        ("[]", "non-empty JSON list"),
        ('[{"principal": "p", "role": "service"}]', "exactly one of token"),
        ('[{"token": "t" , "principal": "p", "role": "service"}]', "at least 16"),
        (
            '[{"token": "0123456789abcdef", "principal": "p", "role": "physician"}]',
            "physician_id",
        ),
        ('[{"token": "0123456789abcdef", "principal": "p", "role": "admin"}]', "role"),
    ],
)
def test_a_bad_tokens_file_is_refused_saying_what_is_wrong(tmp_path, entries, words):
    path = tmp_path / "tokens.json"
    path.write_text(entries)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match=words):
        TokenRegistry.from_file(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_tokens_file_others_may_read_is_refused_as_ssh_refuses_a_key(tmp_path, mode):
    path = write_tokens_file(tmp_path / "tokens.json")
    path.chmod(mode)
    with pytest.raises(ConfigurationError, match=r"open to other users.*chmod 600"):
        TokenRegistry.from_file(path)


def test_the_tokens_of_the_test_file_authenticate_their_principals(api_settings):
    registry = TokenRegistry.from_file(api_settings.auth_tokens_file)
    assert registry.authenticate(TOKENS["clinician"]).id == "clin-ana"
    assert registry.authenticate(TOKENS["physician"]).physician_id == "dr-pc-1"
