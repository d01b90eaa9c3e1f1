"""A webhook receiver on loopback for delivery tests: real HTTP, a script of
failures, and a stop and a restart on the same port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from tests.support.server import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass(frozen=True)
class Receipt:
    """One request the receiver got: its id, what it answered, and the body."""

    msg_id: str
    status: int
    body: dict[str, Any]
    signature_valid: bool


class Receiver:
    """Answers 500 to the first `fail_first` requests, then 204; records every
    request with whether its Standard Webhooks signature verifies."""

    def __init__(
        self, secret: str = SECRET, fail_first: int = 0, delay: float = 0.0
    ) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.delay = delay
        """Seconds it takes over each answer (a slow endpoint)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.receipts: list[Receipt] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        """Listen (again) on the receiver's port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                time.sleep(receiver.delay)
                self.send_response(receiver.receive(dict(self.headers), raw))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: deliveries now find nobody (connection refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def receive(self, headers: dict[str, str], raw: bytes) -> int:
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            Webhook(self.secret).verify(raw, lowered)
            valid = True
        except Exception:
            valid = False
        with self._lock:
            status = 500 if len(self.receipts) < self.fail_first else 204
            self.receipts.append(
                Receipt(lowered.get("webhook-id", ""), status, json.loads(raw), valid)
            )
        return status

    def accepted(self) -> list[Receipt]:
        """The requests it acknowledged (2xx), in the order they came."""
        with self._lock:
            return [r for r in self.receipts if r.status < 300]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        """Until `condition()` holds (AssertionError past `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.02)
        raise AssertionError(f"not within {timeout} s; got {len(self.receipts)}")
