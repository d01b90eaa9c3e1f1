"""News of events committed by this process, for an engine in the same process.

PostgreSQL tells every listener of a commit (NOTIFY); SQLite tells no one, so the
embedded default's projection engine, which runs in the process that records the
commands, would learn of them only at its next poll. The SQLite recorder counts
its commits here, and the engine's wait returns as soon as the count moves. Other
processes writing the same file are still seen by polling.
"""

from __future__ import annotations

import threading
import time


class News:
    """A count of commits and a way to wait until it moves."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._count = 0

    def recorded(self) -> None:
        """Events were committed: wake every waiter."""
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait_past(
        self, seen: int, timeout: float, stop: threading.Event, slice_s: float = 0.05
    ) -> int:
        """Block until the count differs from `seen`, `timeout` passes or `stop`
        is set (looked at every `slice_s`); the count then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._count == seen and not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, slice_s))
            return self._count


COMMITS = News()
"""Commits of events by this process's SQLite recorders."""
