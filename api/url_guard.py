"""Refuse a URL whose path or query holds invalid UTF-8 or control characters
(NUL included) with 422, before a route reads it.

Starlette decodes such bytes by replacing them (`%FF` becomes U+FFFD) and passes
NUL through, which PostgreSQL refuses in text (a 500 otherwise). Only operations
that validate parameters answer 422 (their OpenAPI says so); a URL that reaches
one without any is left to it (it reads no parameter, or matches no route: 404).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import Problem, problem_response

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UrlGuardMiddleware:
    """422 for a path or query parameter that is not clean UTF-8 text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            fault = url_fault(scope)
            if fault is not None and _validates_parameters(scope):
                where, name = fault
                problem = Problem(
                    422,
                    "invalid-request",
                    "The request is invalid",
                    f"{name}: must be UTF-8 text without control characters",
                    errors=[
                        {
                            "field": name,
                            "in": where,
                            "message": "must be UTF-8 text without control characters",
                        }
                    ],
                )
                await problem_response(scope.get("path"), problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def url_fault(scope: Scope) -> tuple[str, str] | None:
    """Where the URL is not clean text: ("path", "path") or ("query", name)."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode()
    if not _clean(raw_path):
        return "path", "path"
    for pair in scope.get("query_string", b"").split(b"&"):
        name, _, value = pair.partition(b"=")
        if not (_clean(name) and _clean(value)):
            text = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
            return "query", _CONTROL.sub("?", text)[:64] or "query"
    return None


def _clean(raw: bytes) -> bool:
    try:
        text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(text) is None


def _validates_parameters(scope: Scope) -> bool:
    """Whether the operation the URL reaches declares 422 in the OpenAPI (its
    templates matched as the router does, literal segments before parameters)."""
    app: Any = scope.get("app")
    if app is None:
        return False
    method = scope["method"].lower()
    matching = [
        (template.count("{"), operations[method])
        for template, operations in app.openapi().get("paths", {}).items()
        if method in operations and _pattern(template).fullmatch(scope["path"])
    ]
    return bool(matching) and "422" in min(matching, key=lambda m: m[0])[1].get(
        "responses", {}
    )


@lru_cache(maxsize=512)
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    )
