"""Every request measured and logged once: route template, status, duration, caller.

One log line per request (JSON in production) with the request id, the
principal, the route template (never the path: it holds episode and physician
ids), the status and the duration; the same figures feed the metrics.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import current_request_id
from infra.metrics import LATENCY, REQUESTS, observe_pool

log = logging.getLogger("care.requests")


class ObserveMiddleware:
    """Log and count each HTTP request after it is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope.get("method", "")
        REQUESTS.labels(method, route, str(status)).inc()
        LATENCY.labels(method, route).observe(seconds)
        principal: Any = scope.get("state", {}).get("principal")
        log.info(
            "request",
            extra={
                "request_id": current_request_id(),
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "principal": getattr(principal, "id", None),
                "role": getattr(getattr(principal, "role", None), "value", None),
            },
        )
        app = scope.get("app")
        container = getattr(getattr(app, "state", None), "container", None)
        if container is not None:
            observe_pool(container.pool())
