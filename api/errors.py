"""The one mapping from errors to RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.context import current_request_id
from domain.errors import (
    GONE,
    INVALID,
    NOT_FOUND,
    STALE,
    ConcurrencyConflict,
    DomainError,
    EpisodeNotFound,
    IdempotencyKeyReused,
    RuleViolation,
    VersionMismatch,
)

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("care.api")


class Problem(Exception):
    """An error the API raises on purpose, answered as a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extra = extra


class NotModified(Exception):
    """The caller's copy is current: answer 304 with the ETag and no body."""

    def __init__(self, etag: str) -> None:
        super().__init__(etag)
        self.etag = etag


def problem_response(instance: str | None, problem: Problem) -> JSONResponse:
    """Render a problem: type, title, status, detail, instance and the request id."""
    body = {
        "type": f"/problems/{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
        "request_id": current_request_id(),
        **problem.extra,
    }
    return JSONResponse(
        body,
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_JSON,
    )


# Where a domain error's field came from, when it was not the request body.
_FIELD_SOURCES = {
    "idempotency_key": ("header", "Idempotency-Key"),
    "as_of": ("query", "as_of"),
}


def domain_problem(error: DomainError) -> Problem:
    """The HTTP meaning of each domain error, by its kind (DESIGN §4): wrong on its
    own 422, refused by the episode's state 409, unknown 404, stale If-Match 412."""
    if error.kind == GONE:
        return Problem(410, "patient-data-erased", "Patient data erased", error.message)
    if isinstance(error, EpisodeNotFound) or error.kind == NOT_FOUND:
        return Problem(404, "episode-not-found", "Episode not found", error.message)
    if isinstance(error, VersionMismatch):
        return Problem(
            412,
            "version-mismatch",
            "The episode has changed",
            error.message,
            headers={"ETag": f'"{error.actual}"'},
            current_version=error.actual,
        )
    if isinstance(error, IdempotencyKeyReused):
        return Problem(
            422, "idempotency-key-reused", "Idempotency key reused", error.message
        )
    if isinstance(error, ConcurrencyConflict):
        return Problem(
            409, "concurrent-writes", "Too many concurrent writes", error.message
        )
    field = error.field if isinstance(error, RuleViolation) else None
    extra: dict[str, Any] = {"field": field} if field else {}
    if error.kind == INVALID:
        source, name = _FIELD_SOURCES.get(field or "", ("body", field or "body"))
        entry = {"field": name, "in": source, "message": error.message}
        return Problem(
            422,
            "invalid-request",
            "The request is invalid",
            error.message,
            errors=[entry],
            **extra,
        )
    if error.kind == STALE:
        return Problem(
            412, "version-mismatch", "The episode has changed", error.message
        )
    if isinstance(error, RuleViolation):
        return Problem(
            409,
            "rule-violated",
            "A rule of the episode was broken",
            error.message,
            **extra,
        )
    return Problem(409, "domain-error", "The command was refused", error.message)


_ALLOWED = re.compile(r"'([^']*)'")


def validation_problem(error: RequestValidationError) -> Problem:
    """A 422 naming every bad field; enum errors list the allowed values."""
    errors = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        source = location[0] if location else "body"
        field = ".".join(location[1:]) or source
        entry: dict[str, Any] = {
            "field": field,
            "in": source,
            "message": str(item.get("msg", "")).removeprefix("Value error, "),
        }
        if item.get("type") == "json_invalid":
            entry.update(field="body", message="the body is not valid JSON")
        expected = (item.get("ctx") or {}).get("expected")
        if item.get("type") in ("enum", "literal_error") and expected:
            entry["allowed"] = _ALLOWED.findall(str(expected))
        errors.append(entry)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(
        422, "invalid-request", "The request is invalid", detail, errors=errors
    )


def malformed_body() -> Problem:
    """422: the body is not JSON a parser can read."""
    message = "the body is not valid JSON (UTF-8, nested at most a few hundred deep)"
    return Problem(
        422,
        "invalid-request",
        "The request is invalid",
        f"body: {message}",
        errors=[{"field": "body", "in": "body", "message": message}],
    )


def store_unavailable() -> Problem:
    """503: the store cannot be reached now; a retry in a second may succeed."""
    return Problem(
        503,
        "store-unavailable",
        "The store is unavailable",
        "the event store could not be reached; retry shortly",
        headers={"Retry-After": "1"},
    )


def store_busy() -> Problem:
    """503: the store is up but could not take this request (every connection in
    use, or its transaction aborted); a retry in a second may succeed."""
    return Problem(
        503,
        "store-busy",
        "The store is busy",
        "the store could not take the request just now; retry shortly",
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the API can raise to a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(request.url.path, error)

    @app.exception_handler(NotModified)
    async def _not_modified(request: Request, error: NotModified) -> Response:
        return Response(status_code=304, headers={"ETag": error.etag})

    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        return problem_response(request.url.path, domain_problem(error))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return problem_response(request.url.path, validation_problem(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:
            # FastAPI's "error parsing the body" (invalid UTF-8, JSON nested past
            # the parser's depth): malformed JSON, 422 like any (DESIGN §4).
            return problem_response(request.url.path, malformed_body())
        titles = {404: "Not found", 405: "Method not allowed"}
        title = titles.get(error.status_code, "HTTP error")
        problem = Problem(
            error.status_code,
            title.lower().replace(" ", "-"),
            title,
            str(error.detail),
            headers=dict(error.headers or {}),
        )
        return problem_response(request.url.path, problem)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(sqlite3.OperationalError)
    async def _store_down(request: Request, error: Exception) -> JSONResponse:
        logger.error(
            "store unavailable (request_id=%s): %s", current_request_id(), error
        )
        container = getattr(request.app.state, "container", None)
        if container is not None and not container.health.failed(error):
            return problem_response(request.url.path, store_busy())
        return problem_response(request.url.path, store_unavailable())
