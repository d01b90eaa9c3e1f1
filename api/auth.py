"""Who is calling: bearer tokens to principals, and the role checks routes declare."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.context import current_request_id
from api.errors import Problem
from domain.values import PrincipalRole
from infra.tokens import Principal, TokenRegistry

logger = logging.getLogger("care.auth")

WRITERS = frozenset({PrincipalRole.SERVICE, PrincipalRole.CLINICIAN})
READERS = frozenset(
    {
        PrincipalRole.SERVICE,
        PrincipalRole.CLINICIAN,
        PrincipalRole.AUDITOR,
        PrincipalRole.PHYSICIAN,
    }
)
AUDITORS = frozenset({PrincipalRole.AUDITOR})
# Everyone but physicians: views across all patients and physicians.
STAFF = frozenset(
    {PrincipalRole.SERVICE, PrincipalRole.CLINICIAN, PrincipalRole.AUDITOR}
)


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthenticated",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="care-episodes"'},
    )


# Declares the bearer scheme in the OpenAPI document (the Authorize button of
# /docs); the header is checked below, so its own error answer is off.
BEARER = HTTPBearer(
    scheme_name="bearer",
    description="a token from the tokens file (CARE_AUTH_TOKENS_FILE), or in "
    "development from var/dev-tokens.json",
    auto_error=False,
)


async def authenticate(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 without a valid one.

    A coroutine, like every dependency that does no I/O: FastAPI runs a plain
    function dependency on its thread pool, a hop per dependency per request.
    Only a refusal writes (the access log), and that goes to the pool."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        await run_in_threadpool(refused, request, None, "unauthenticated")
        raise _unauthorized("send Authorization: Bearer <token>")
    registry: TokenRegistry = request.app.state.tokens
    principal = registry.authenticate(token.strip())
    if principal is None:
        await run_in_threadpool(refused, request, None, "unauthenticated")
        raise _unauthorized("the bearer token is not valid")
    request.state.principal = principal
    return principal


def refused(request: Request, principal: Principal | None, outcome: str) -> None:
    """Put a refused request in the access log: who (nobody, for a 401), which
    route; never anything of what was asked for."""
    container = getattr(request.app.state, "container", None)
    if container is None:
        return
    route = request.scope.get("route")
    container.access_log.record(
        principal_id=principal.id if principal else "-",
        role=principal.role.value if principal else "-",
        action=f"{request.method} {getattr(route, 'path', 'unmatched')}",
        episode_ids=[],
        request_id=current_request_id(),
        outcome=outcome,
    )


def forbidden() -> Problem:
    """403 that says nothing about the resource asked for."""
    return Problem(
        403, "forbidden", "Forbidden", "your role does not allow this request"
    )


def require_role(
    roles: frozenset[PrincipalRole],
) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only principals with one of `roles`."""

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(authenticate)]
    ) -> Principal:
        if principal.role not in roles:
            await run_in_threadpool(refused, request, principal, "denied")
            raise forbidden()
        return principal

    return dependency


Writer = Annotated[Principal, Depends(require_role(WRITERS))]
Reader = Annotated[Principal, Depends(require_role(READERS))]
Auditor = Annotated[Principal, Depends(require_role(AUDITORS))]
Staff = Annotated[Principal, Depends(require_role(STAFF))]
