"""Rendering screens: the templates, their headers, and errors as pages.

Every screen route uses `UiRoute`, so an error raised anywhere in it (a 403 from
the shared access checks, a domain error, a bad query parameter) answers an HTML
page with the status and wording the API would give, not problem+json.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.context import current_request_id
from api.errors import Problem, domain_problem, validation_problem
from api.ui.session import (
    CSRF_FIELD,
    CsrfRefused,
    LoginRequired,
    UiSession,
    optional_session,
)
from domain.errors import DomainError

ENV = Environment(
    loader=PackageLoader("api.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Scripts, styles and images only from this server; no framing; forms post here.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Patient data: never kept in a shared or browser cache.
    "Cache-Control": "no-store",
}


def relative(moment: datetime | None, now: datetime) -> str:
    """`moment` relative to `now`: "in 3 h", "2 d ago", "now"."""
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "now"
    unit, length = next(
        (unit, length)
        for unit, length in (("d", 86400), ("h", 3600), ("min", 60))
        if size >= length
    )
    text = f"{int(size // length)} {unit}"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def stamp(moment: datetime | None) -> str:
    """An instant as a reader scans it, in UTC: 2025-03-01 14:05 UTC."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def label(value: object) -> str:
    """A code as words: red_flag_triage → red flag triage."""
    return str(getattr(value, "value", value)).replace("_", " ")


def query(params: dict[str, Any], **changes: Any) -> str:
    """A query string from `params` with `changes`, leaving out empty values."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


ENV.filters.update(stamp=stamp, label=label, urlpart=lambda v: quote(str(v)))
ENV.globals.update(query=query, relative=relative, CSRF_FIELD=CSRF_FIELD)


def page(
    request: Request,
    template: str,
    session: UiSession | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render `template` for `session`, with the screens' security headers."""
    values = {
        "request": request,
        "session": session,
        "principal": session.principal if session else None,
        "now": datetime.now(UTC),
        "request_id": current_request_id(),
        **context,
    }
    html = ENV.get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, problem: Problem) -> HTMLResponse:
    """An error as a page: its title, what to do, and the request id to quote."""
    session = optional_session(request)
    response = page(
        request, "error.html", session, status=problem.status, problem=problem
    )
    for name, value in problem.headers.items():
        if name.lower() != "www-authenticate":  # the screens log in by form
            response.headers[name] = value
    return response


def login_redirect(request: Request) -> RedirectResponse:
    """To the login form, coming back here afterwards."""
    target = request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    location = "/ui/login?" + urlencode({"next": target})
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)


CSRF_PROBLEM = Problem(
    403,
    "csrf-refused",
    "The form has expired",
    "the form did not carry this session's token: reload the page and send it again",
)


class UiRoute(APIRoute):
    """A screen route: its errors answer as pages, a missing session as the login form."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def screen(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                if request.method == "GET":
                    return login_redirect(request)
                return error_page(request, LOGIN_PROBLEM)
            except CsrfRefused:
                return error_page(request, CSRF_PROBLEM)
            except Problem as problem:
                return error_page(request, problem)
            except DomainError as error:
                return error_page(request, domain_problem(error))
            except RequestValidationError as error:
                return error_page(request, validation_problem(error))

        return screen


LOGIN_PROBLEM = Problem(
    401,
    "unauthenticated",
    "Please log in",
    "your session has ended or was never started: log in with your token",
)
