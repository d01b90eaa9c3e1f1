"""The one HTTP helper: a client per backend, a tokens file with one principal per
role, and the problem+json assertion."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.support import builders as b
from tests.support.commands import case_at

TOKENS = {
    "service": "tok-service-0123456789",
    "clinician": "tok-clinician-0123456789",
    "auditor": "tok-auditor-0123456789",
    "physician": "tok-physician-0123456789",
    "other_physician": "tok-other-physician-0123456789",
    "second_auditor": "tok-second-auditor-0123456789",
}
# The referrer of every episode the tests open (tests/builders.referral).
PHYSICIAN_ID = "dr-pc-1"


def write_tokens_file(path: Path) -> Path:
    entries = [
        {"token": TOKENS["service"], "principal": "svc-intake", "role": "service"},
        # Stored as a SHA-256, as production files should be.
        {
            "token_sha256": hashlib.sha256(TOKENS["clinician"].encode()).hexdigest(),
            "principal": "clin-ana",
            "role": "clinician",
        },
        {"token": TOKENS["auditor"], "principal": "aud-1", "role": "auditor"},
        {"token": TOKENS["second_auditor"], "principal": "aud-2", "role": "auditor"},
        {
            "token": TOKENS["physician"],
            "principal": "phys-1",
            "role": "physician",
            "physician_id": PHYSICIAN_ID,
        },
        {
            "token": TOKENS["other_physician"],
            "principal": "phys-2",
            "role": "physician",
            "physician_id": "dr-someone-else",
        },
    ]
    path.write_text(json.dumps(entries))
    path.chmod(0o600)  # the service refuses a tokens file others may read
    return path


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def json_body(data: dict[str, Any], days: float = 1) -> dict[str, Any]:
    """A builder's body as JSON, with occurred_at `days` after T0."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {"occurred_at": b.at(days).isoformat(), **plain(data)}


class Api:
    """A TestClient with helpers that speak for a role."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def open(self, role: str = "service", days: float = 0, **overrides: Any) -> str:
        response = self.client.post(
            "/episodes",
            json=json_body(b.referral(**overrides), days),
            headers=auth(role),
        )
        assert response.status_code == 201, response.text
        return response.json()["episode_id"]

    def command(
        self,
        episode_id: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        role: str = "clinician",
        days: float = 1,
        headers: dict[str, str] | None = None,
    ):
        data = body if body is not None else case_at(path).body()
        return self.client.post(
            f"/episodes/{episode_id}/{path}",
            json=json_body(data, days),
            headers={**auth(role), **(headers or {})},
        )

    def get(self, url: str, role: str = "auditor", **kwargs: Any):
        """GET as `role`. A physician may not wait on a global position, so its
        `min_position` is waited for first as a staff caller, then left out."""
        params = kwargs.get("params")
        if role.endswith("physician") and params and "min_position" in params:
            params = dict(params)
            wait = {"min_position": params.pop("min_position")}
            caught_up = self.client.get(url, headers=auth("service"), params=wait)
            assert caught_up.status_code != 503, caught_up.text
            kwargs["params"] = params
        return self.client.get(url, headers=auth(role), **kwargs)


def assert_problem(response, status: int, slug: str, *words: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type, saying `words`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"/problems/{slug}"
    assert body["title"] and body["request_id"] == response.headers["x-request-id"]
    for word in words:
        assert word in body["detail"], body
    return body
