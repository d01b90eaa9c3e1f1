"""Screen sessions: a signed cookie naming the caller's token, and CSRF on every form.

The login form takes the same bearer token the API does. The session cookie keeps
the token's SHA-256 (never the token), signed and timestamped with itsdangerous;
each request looks the digest up in the tokens file again, so a token taken out
of the file ends its sessions at once. The cookie is Secure, HttpOnly and
SameSite=Strict, scoped to /ui.

CSRF is the signed double-submit pattern: the session cookie also carries a
random token, and every form sends it back in a hidden field; a POST whose field
does not equal the token inside the (signed, unreadable to scripts) cookie is
refused. A forged cross-site form cannot read the cookie to copy the token, and
SameSite=Strict keeps the browser from sending the cookie with it at all. The
login form, before any session exists, gets the same protection from a short-lived
signed cookie of its own, so a site cannot log a user in under someone else's
token either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import forbidden, refused
from api.errors import Problem
from domain.values import PrincipalRole
from infra.files import check_private, private_dir
from infra.settings import Settings
from infra.tokens import Principal, TokenRegistry

SESSION_COOKIE = "care_ui_session"
LOGIN_COOKIE = "care_ui_login"
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/ui"
LOGIN_MAX_AGE_S = 3600


class LoginRequired(Exception):
    """No valid session: a page sends the browser to the login form."""


class CsrfRefused(Exception):
    """A form came without the token of this session."""


def signing_secret(settings: Settings) -> bytes:
    """The key that signs screen cookies: the configured one, else a random key
    made once in an owner-only file (so every worker of a host shares it)."""
    if settings.ui_session_secret is not None:
        return settings.ui_session_secret.get_secret_value().encode()
    path = settings.ui_session_key_file
    if not path.exists():
        private_dir(path.parent)
        try:
            with open(path, "x") as file:
                file.write(secrets.token_urlsafe(32))
            path.chmod(0o600)
        except FileExistsError:
            pass  # another worker made it first
    check_private(path, "screen session key file")
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class UiSession:
    """A logged-in screen user and the CSRF token its forms carry."""

    principal: Principal
    csrf: str


class SessionCookies:
    """Issues and reads the signed session and login cookies."""

    def __init__(self, secret: bytes, max_age_s: int) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="care-ui-session")
        self._login = URLSafeTimedSerializer(secret, salt="care-ui-login")
        self.max_age_s = max_age_s

    def start(self, response: Response, token: str) -> None:
        """Put a new session for `token` on `response` (a new CSRF token too)."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        value = self._session.dumps({"d": digest, "c": secrets.token_urlsafe(32)})
        _set(response, SESSION_COOKIE, value, self.max_age_s)
        response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)

    def read(self, request: Request, tokens: TokenRegistry) -> UiSession | None:
        """The session of `request`, if its cookie is ours, fresh, and its token
        still in the tokens file."""
        data = self._loads(self._session, request.cookies.get(SESSION_COOKIE))
        if not isinstance(data, dict):
            return None
        try:
            digest = bytes.fromhex(str(data["d"]))
            csrf = str(data["c"])
        except (KeyError, ValueError):
            return None
        principal = tokens.holder_of(digest)
        return UiSession(principal, csrf) if principal else None

    def login_token(self, request: Request) -> str:
        """The CSRF token for a login form: the one its cookie holds, or a new one."""
        return self.login_csrf(request) or secrets.token_urlsafe(32)

    def keep_login_token(self, response: Response, csrf: str) -> None:
        """Set the login form's CSRF token in its own short-lived cookie."""
        _set(response, LOGIN_COOKIE, self._login.dumps(csrf), LOGIN_MAX_AGE_S)

    def login_csrf(self, request: Request) -> str | None:
        """The login form's CSRF token from its cookie, if valid."""
        data = self._loads(
            self._login, request.cookies.get(LOGIN_COOKIE), LOGIN_MAX_AGE_S
        )
        return data if isinstance(data, str) else None

    def _loads(
        self,
        serializer: URLSafeTimedSerializer,
        value: str | None,
        max_age: int | None = None,
    ) -> Any:
        if not value:
            return None
        try:
            return serializer.loads(value, max_age=max_age or self.max_age_s)
        except BadSignature:  # also SignatureExpired
            return None


def end_session(response: Response) -> None:
    """Clear the session cookie (logout)."""
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)


def _set(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def cookies_of(request: Request) -> SessionCookies:
    """The app's cookie signer, made on first use (so an API that never serves a
    screen never makes a key file)."""
    state = request.app.state
    cookies = getattr(state, "ui_cookies", None)
    if cookies is None:
        settings: Settings = state.settings
        cookies = SessionCookies(
            signing_secret(settings), int(settings.ui_session_hours * 3600)
        )
        state.ui_cookies = cookies
    return cookies


def optional_session(request: Request) -> UiSession | None:
    """The caller's session, or None."""
    session = cookies_of(request).read(request, request.app.state.tokens)
    if session is not None:
        request.state.principal = session.principal
    return session


def current_session(request: Request) -> UiSession:
    """The caller's session; without one a page answers with the login form."""
    session = optional_session(request)
    if session is None:
        raise LoginRequired()
    return session


def require(roles: frozenset[PrincipalRole]) -> Any:
    """A session whose role is one of `roles`: 403 (logged as denied) otherwise,
    exactly as the API's role checks."""

    def dependency(
        request: Request, session: Annotated[UiSession, Depends(current_session)]
    ) -> UiSession:
        if session.principal.role not in roles:
            refused(request, session.principal, "denied")
            raise forbidden()
        return session

    return Depends(dependency)


def same_token(sent: object, expected: str | None) -> bool:
    """Whether a form's CSRF field equals the expected token (constant time)."""
    if not isinstance(sent, str) or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


async def checked_form(
    request: Request, session: Annotated[UiSession, Depends(current_session)]
) -> dict[str, str]:
    """The posted form of a logged-in user, refused (403, logged) unless it
    carries this session's CSRF token."""
    form = await request.form()
    if not same_token(form.get(CSRF_FIELD), session.csrf):
        # The access log is written on the pool: never on the event loop.
        await run_in_threadpool(refused, request, session.principal, "denied")
        raise CsrfRefused()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def invalid_field(name: str, message: str) -> Problem:
    """422 for one bad query or form field of a screen."""
    return Problem(
        422,
        "invalid-request",
        "The request is invalid",
        f"{name}: {message}",
        errors=[{"field": name, "in": "query", "message": message}],
    )


Session = Annotated[UiSession, Depends(current_session)]
CheckedForm = Annotated[dict[str, str], Depends(checked_form)]
