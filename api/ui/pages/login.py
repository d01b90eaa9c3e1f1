"""Logging in with a bearer token, logging out, and the start page of each role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from api.auth import refused
from api.ui.render import SECURITY_HEADERS, UiRoute, page
from api.ui.session import (
    CheckedForm,
    CsrfRefused,
    cookies_of,
    end_session,
    optional_session,
    same_token,
)
from domain.values import PrincipalRole
from infra.tokens import Principal

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)
Next = Annotated[str, Query(max_length=2000)]


def home_of(principal: Principal) -> str:
    """Where a role starts: physicians on their feed, auditors on the dashboard."""
    if principal.role is PrincipalRole.PHYSICIAN:
        return "/ui/physician"
    if principal.role is PrincipalRole.AUDITOR:
        return "/ui/audit"
    return "/ui/worklist"


def safe_next(target: str) -> str | None:
    """`target` if it is a screen of this site (never another host: no open redirect)."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)


@router.get("/")
def start(request: Request) -> Response:
    """The start page of the caller's role, or the login form."""
    session = optional_session(request)
    return see_other(home_of(session.principal) if session else "/ui/login")


@router.get("/login")
def login_form(request: Request, next: Next = "") -> Response:
    """The token form."""
    session = optional_session(request)
    if session is not None:
        return see_other(safe_next(next) or home_of(session.principal))
    return _form(request, next)


def _form(request: Request, next: str, error: str | None = None) -> Response:
    cookies = cookies_of(request)
    csrf = cookies.login_token(request)
    response = page(
        request,
        "login.html",
        None,
        status=401 if error else 200,
        next=safe_next(next) or "",
        error=error,
        csrf=csrf,
    )
    cookies.keep_login_token(response, csrf)
    return response


@router.post("/login")
def log_in(
    request: Request,
    token: Annotated[str, Form(max_length=512)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the token; start a session on the way to the page asked for."""
    cookies = cookies_of(request)
    if not same_token(csrf_token, cookies.login_csrf(request)):
        refused(request, None, "denied")
        raise CsrfRefused()
    principal = request.app.state.tokens.authenticate(token.strip())
    if principal is None:
        refused(request, None, "unauthenticated")
        return _form(request, next, "That token is not valid.")
    response = see_other(safe_next(next) or home_of(principal))
    cookies.start(response, token.strip())
    return response


@router.post("/logout")
def log_out(_form: CheckedForm) -> Response:
    """End the session."""
    response = see_other("/ui/login")
    end_session(response)
    return response
