"""ASGI middleware: a request id on every request, and guards on request bodies."""

from __future__ import annotations

import logging
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import reset_request_id, set_request_id
from api.errors import Problem, problem_response, store_unavailable

logger = logging.getLogger("care.api")
MAX_BODY_BYTES = 64 * 1024
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class RequestContextMiddleware:
    """Give each request an id (X-Request-ID), and answer any unhandled error with a
    500 problem carrying that id, logged with its stack trace; the client sees neither
    the trace nor any SQL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "unhandled error in %s %s (request_id=%s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
            )
            if not started:
                problem = Problem(
                    500,
                    "internal-error",
                    "Internal server error",
                    f"an unexpected error occurred; quote request id {request_id}",
                )
                await problem_response(scope.get("path"), problem)(
                    scope, receive, send_with_id
                )
        finally:
            reset_request_id(token)


class BodyGuardMiddleware:
    """Refuse request bodies that are not JSON (415) or larger than 64 KiB (413)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0]
        media_type = media_type.strip().lower()
        if not _accepted_body(scope.get("path", ""), media_type):
            problem = Problem(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"send the body as application/json, not {media_type or 'nothing'}",
            )
            await problem_response(scope.get("path"), problem)(scope, receive, send)
            return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        # Read the (small) body here so an oversized one is refused before any
        # route sees it; the route then reads the buffered copy.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay(message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(
            413,
            "body-too-large",
            "Request body too large",
            f"the body is larger than {self.max_bytes // 1024} KiB",
        )
        await problem_response(scope.get("path"), problem)(scope, receive, send)


def _accepted_body(path: str, media_type: str) -> bool:
    """JSON everywhere; the screens' HTML forms (/ui/) post url-encoded fields."""
    if media_type == "application/json" or media_type.endswith("+json"):
        return True
    # A form with no fields sends no body and so no type: the CSRF check refuses it.
    form_types = ("application/x-www-form-urlencoded", "")
    return path.startswith("/ui/") and media_type in form_types


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive callable that hands over `first`, then defers to the real one."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


class StoreDownMiddleware:
    """While the store was just found unreachable, answer 503 at once (no request
    queues for a connection that will not come); liveness and readiness still run."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") not in _ALWAYS:
            container = getattr(scope["app"].state, "container", None)
            if container is not None and container.health.presumed_down():
                problem = store_unavailable()
                await problem_response(scope.get("path"), problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


_ALWAYS = frozenset({"/healthz", "/readyz"})
