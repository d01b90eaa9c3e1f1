"""The OpenAPI document: the status codes each route declares, and what every route
shares (the problem schema, bearer security, field descriptions, examples).

A route declares the problem answers particular to it with `problems(...)`, and
`NOT_MODIFIED` if it answers conditional GETs:

    @router.get("/{episode_id}", responses={**NOT_MODIFIED, **problems(403, 404, 422)})

The answers every route of a kind can give are added here, from what the app
does to every request, so no route can forget them: 401 on every operation with
bearer security (the `authenticate` dependency), 413 and 415 on every POST, PUT
and PATCH (`BodyGuardMiddleware`), and 503 on every operation but /healthz
(`StoreDownMiddleware` answers it while the store is away). 304 on every operation
taking `If-None-Match` and 412 on every one taking `If-Match` (api/conditional.py).
FastAPI's own 422 (declared on every route that validates a parameter or a body)
becomes a problem+json answer like every error; a route with nothing to validate
that still answers 422 declares it.
`tests/api/test_openapi_contract.py` drives every route and checks the codes
declared are exactly those it answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.field_docs import FIELD_DOCS, PARAMETER_EXAMPLES
from api.schemas.problem import ProblemDetails

Responses = dict[int | str, dict[str, Any]]
PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"

DESCRIPTIONS: dict[int, str] = {
    401: "no bearer token, or one that is not valid (`WWW-Authenticate: Bearer`)",
    403: "the caller's role may not do this, or a physician asked for a patient it "
    "did not refer (or for an episode that does not exist: the answer reveals nothing)",
    404: "no such episode (or none at that version or instant)",
    409: "the episode's state refuses the command: it is closed, `occurred_at` is "
    "before it opened, `follows_version` names no treatment of this episode, or "
    "other writers kept changing it; nothing was recorded",
    410: "the episode's patient data was erased: its events are kept, unreadable "
    "(docs/privacy.md)",
    412: "`If-Match` names another version than the episode's (its `ETag` is sent)",
    413: "the body is larger than 64 KiB",
    415: "the body is not `application/json`",
    422: "the request is wrong on its own, whatever the episode's state: a field's "
    "shape, type, format or range, an unknown enum value (the allowed ones listed), "
    "malformed JSON, a malformed header, a reused idempotency key; every field at "
    "fault is in `errors`",
    503: "the store is unreachable, or the read model did not reach `min_position` "
    "in time; retry after `Retry-After` seconds",
}
NOT_MODIFIED: Responses = {
    304: {
        "description": "not modified: `If-None-Match` names the current `ETag` (no body)"
    }
}
# Paths the store-down guard lets through (api/middleware.py): no 503 there.
STORE_FREE_PATHS = frozenset({"/healthz"})
_BODY_METHODS = frozenset({"post", "put", "patch"})


def problem(description: str) -> dict[str, Any]:
    """One problem+json response declaration."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }


def problems(*codes: int, descriptions: dict[int, str] | None = None) -> Responses:
    """Problem responses for `codes`, each with the shared description unless
    `descriptions` gives the route's own (`descriptions={403: "not your feed"}`)."""
    own = descriptions or {}
    return {code: problem(own.get(code, DESCRIPTIONS[code])) for code in codes}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` answer the refined document (built once, then kept)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            refine(build())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def refine(document: dict[str, Any]) -> None:
    """Add what every operation shares to FastAPI's document, in place."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemDetails.model_json_schema(
        ref_template="#/components/schemas/{model}", by_alias=True
    )
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_responses(path, method, operation)
            _describe_parameters(operation)
            _exemplify_body(operation, schemas)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for schema in schemas.values():
        _describe_fields(schema)


def _complete_responses(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    # FastAPI declares its 422 exactly when the route validates a parameter or a
    # body; it is kept, as a problem document like every error.
    fastapi_422 = responses.get("422", {}).get("content", {})
    if "application/json" in fastapi_422:
        responses["422"] = problem(DESCRIPTIONS[422])
    headers = {
        parameter["name"].lower()
        for parameter in operation.get("parameters", [])
        if parameter.get("in") == "header"
    }
    implied = []
    if operation.get("security"):
        implied.append(401)
    if method in _BODY_METHODS:
        implied += [413, 415]
    if "if-match" in headers:  # api/conditional.py: expected_version
        implied.append(412)
    if path not in STORE_FREE_PATHS:
        implied.append(503)
    for code in implied:
        responses.setdefault(str(code), problem(DESCRIPTIONS[code]))
    if "if-none-match" in headers:  # api/conditional.py: Conditional
        responses.setdefault("304", NOT_MODIFIED[304])
    operation["responses"] = dict(sorted(responses.items()))


def _describe_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if not parameter.get("description") and name in FIELD_DOCS:
            parameter["description"] = FIELD_DOCS[name]
        if "example" not in parameter and "examples" not in parameter:
            example = PARAMETER_EXAMPLES.get(name)
            if example is not None:
                parameter["example"] = example


def _exemplify_body(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """A body schema without an example of its own gets one made of its fields'
    examples, when every required field has one (Swagger UI's "try it" starts
    from it)."""
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    ref = (media or {}).get("schema", {}).get("$ref", "")
    schema = schemas.get(ref.rsplit("/", 1)[-1])
    if schema is None or schema.get("examples"):
        return
    example = {
        name: prop["examples"][0]
        for name, prop in schema.get("properties", {}).items()
        if prop.get("examples")
    }
    if example and set(schema.get("required", [])) <= set(example):
        schema["examples"] = [example]


def _describe_fields(schema: dict[str, Any]) -> None:
    for name, prop in schema.get("properties", {}).items():
        if "description" not in prop and name in FIELD_DOCS:
            prop["description"] = FIELD_DOCS[name]


API_DESCRIPTION = """\
Each patient's care episode is an immutable stream of events; commands under
`/episodes/{episode_id}/…` record one event each, reads show the episode now, at a
version or as of an instant, and read models (audit, worklist, physician feed) answer
the questions across episodes.

**Authentication**: `Authorization: Bearer <token>` on every operation but
`/healthz` and `/readyz` (the *Authorize* button above). Roles: `service` and
`clinician` write and read; `auditor` reads everything, never writes; `physician`
reads only the episodes it referred, and its own feed.

**Errors** are RFC 9457 `application/problem+json` documents (schema `Problem`):
**422** for a request wrong on its own (shape, type, format, enum, range, a biologic
without a lot number, malformed JSON or header, a reused idempotency key);
**409** for one the episode's state refuses (closed, `occurred_at` before it opened,
`follows_version` naming no treatment of this episode); 404 unknown episode, 412
stale `If-Match`, 401 no token, 403 role or scope, 503 store away (`Retry-After`).

**Concurrency**: send `If-Match: "N"` (the `ETag`) to apply a command only at
version N. **Idempotency**: `Idempotency-Key` on any POST. **Conditional reads**:
`If-None-Match` with a read's `ETag` answers 304. **Paging**: `after=next_cursor`.
**Read your writes**: `min_position=<a command's position>` on read-model queries.
"""

TAGS: list[dict[str, Any]] = [
    {"name": "episodes", "description": "Open episodes, record events, read them."},
    {"name": "audit", "description": "The referral-loop audit and the access log."},
    {"name": "worklist", "description": "Open clinical tasks and their counts."},
    {"name": "physician feed", "description": "A referring physician's feed."},
    {"name": "operations", "description": "Health, readiness, metrics, projections."},
]
