"""Helpers of the screen tests: logging in through the form, reading pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain import commands as cmd
from domain.values import Actor, PrincipalRole
from tests.support.http import TOKENS, Api

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
UI_SECRET = "screens-test-signing-secret-0123456789"


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def log_in(api: Api, role: str, next: str = "") -> Any:
    """Log in through the token form as `role`; the response to the POST."""
    client = api.client
    client.cookies.clear()
    form = client.get("/ui/login")
    assert form.status_code == 200, form.text
    return client.post(
        "/ui/login",
        data={"token": TOKENS[role], "csrf_token": csrf_of(form.text), "next": next},
        follow_redirects=False,
    )


def logged_in(api: Api, role: str) -> Api:
    response = log_in(api, role)
    assert response.status_code == 303, response.text
    return api


def amend(api: Api, episode_id: str, version: int, reason: str, **fields: Any) -> None:
    """Record an amendment through the application (as a clinician would)."""
    container = api.client.app.state.container
    container.episodes.handle(
        cmd.AmendEvent(
            episode_id=UUID(episode_id),
            occurred_at=datetime.now(UTC),
            amends_version=version,
            fields=fields,
            reason=reason,
        ),
        actor=Actor("clin-ana", PrincipalRole.CLINICIAN),
    )


def access_entries(api: Api, principal_id: str) -> list[Any]:
    """The access log's entries of one principal, oldest first."""
    log = api.client.app.state.container.access_log
    return list(reversed(log.entries(principal_id=principal_id, limit=500)))
