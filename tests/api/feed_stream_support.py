"""A real `care-episodes serve` process and a small Server-Sent Events client for
the feed stream tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import builders as b
from tests.support.http import auth, json_body, write_tokens_file
from tests.support.server import ServiceProcess


class Server:
    """`care-episodes serve` (one uvicorn process, projections inside) on a store."""

    def __init__(self, database_url: str, workdir: Path, **settings: str) -> None:
        tokens = write_tokens_file(workdir / "tokens.json")
        env = {
            "CARE_DATABASE_URL": database_url,
            "CARE_AUTH_TOKENS_FILE": str(tokens),
            "CARE_PROJECTIONS_IN_PROCESS": "1",
            "CARE_PROJECTION_POLL_INTERVAL": "0.05",
            **{f"CARE_{name.upper()}": value for name, value in settings.items()},
        }
        self.service = ServiceProcess(env, workers=1, cwd=workdir)
        self.port = self.service.port
        self.base = self.service.url
        self.process = self.service.process
        self.http = httpx.Client(base_url=self.base, timeout=10)
        try:
            self.service.wait_ready()
        except AssertionError as error:
            pytest.fail(str(error))

    def output(self) -> str:
        return self.service.output()

    def open(self, physician: str = "dr-pc-1", patient: str = "pt-0001") -> str:
        """An episode referred by `physician`; its id."""
        referrer = {"id": physician, "name": "Dr P", "role": "primary_care"}
        body = json_body(b.referral(referrer=referrer, patient_id=patient), 0)
        response = self.http.post("/episodes", json=body, headers=auth("service"))
        assert response.status_code == 201, response.text
        return response.json()["episode_id"]

    def post(self, episode_id: str, path: str, body: dict, days: float = 1) -> None:
        response = self.http.post(
            f"/episodes/{episode_id}/{path}",
            json=json_body(body, days),
            headers=auth("clinician"),
        )
        assert response.status_code == 201, response.text

    def stop(self, timeout_s: float = 15) -> int:
        """SIGTERM, as a process manager stops it; its exit code."""
        self.http.close()
        return self.service.stop(timeout_s)


@dataclass
class Event:
    """One Server-Sent Event, or a comment (heartbeats, farewells)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def item(self) -> dict[str, Any]:
        return httpx.Response(200, content=self.data).json()


class Stream:
    """A client of GET /physicians/{id}/feed/stream, reading event by event."""

    def __init__(
        self,
        server: Server,
        physician: str = "dr-pc-1",
        *,
        role: str = "physician",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        read_timeout_s: float = 10,
    ) -> None:
        timeout = httpx.Timeout(10, read=read_timeout_s)
        self.client = httpx.Client(base_url=server.base, timeout=timeout)
        self._context = self.client.stream(
            "GET",
            f"/physicians/{physician}/feed/stream",
            headers={**auth(role), **(headers or {})},
            params=params,
        )
        self.response = self._context.__enter__()
        self._lines: Iterator[str] = self.response.iter_lines()

    def next(self) -> Event | None:
        """The next event or comment block; None when the stream has ended."""
        event = Event()
        seen = False
        for line in self._lines:
            if not line:
                if seen:
                    return event
                continue
            seen = True
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if not name:
                event.comments.append(value)
            elif name == "data":
                event.data += value
            elif name in ("id", "event"):
                setattr(event, name, value)
        return event if seen else None

    def items(self, count: int) -> list[Event]:
        """The next `count` items, skipping heartbeats."""
        found: list[Event] = []
        while len(found) < count:
            event = self.next()
            assert event is not None, f"the stream ended after {len(found)} items"
            if event.id is not None:
                found.append(event)
        return found

    def until_heartbeat(self) -> list[Event]:
        """The items that arrive before the next heartbeat comment."""
        found: list[Event] = []
        while True:
            event = self.next()
            assert event is not None, "the stream ended"
            if event.id is not None:
                found.append(event)
            elif "heartbeat" in event.comments:
                return found

    def close(self) -> None:
        self._context.__exit__(None, None, None)
        self.client.close()
