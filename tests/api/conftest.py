"""An API client per backend, with a tokens file holding one principal per role."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.settings import Settings
from tests import builders as b

TOKENS = {
    "service": "tok-service-0123456789",
    "clinician": "tok-clinician-0123456789",
    "auditor": "tok-auditor-0123456789",
    "physician": "tok-physician-0123456789",
    "other_physician": "tok-other-physician-0123456789",
}
# The referrer of every episode the tests open (tests/builders.referral).
PHYSICIAN_ID = "dr-pc-1"

# Path of each command under /episodes/{id}/, with the builder of its body.
COMMAND_PATHS: dict[str, Callable[..., dict[str, Any]]] = {
    "referrals": b.further_referral,
    "red-flag-screenings": b.screening,
    "diagnostics": b.mri,
    "conservative-care": b.conservative_care,
    "treatment-plans": b.plan,
    "interventions": b.esi,
    "biologics": b.prp,
    "outcomes": b.outcome,
    "surgery-referrals": b.surgery_referral,
    "consult-notes": b.consult_note,
    "assignments": b.assignment,
    "closure": b.closure,
}


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
        data = body if body is not None else COMMAND_PATHS[path]()
        return self.client.post(
            f"/episodes/{episode_id}/{path}",
            json=json_body(data, days),
            headers={**auth(role), **(headers or {})},
        )

    def get(self, url: str, role: str = "auditor", **kwargs: Any):
        return self.client.get(url, headers=auth(role), **kwargs)


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    tokens = write_tokens_file(tmp_path / "tokens.json")
    # The projections run inside the app on both backends here, polling briskly.
    return settings.model_copy(
        update={
            "auth_tokens_file": tokens,
            "projections_in_process": True,
            "projection_poll_interval": 0.05,
        }
    )


@pytest.fixture
def api(api_settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as client:
        yield Api(client)


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
