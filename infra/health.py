"""Whether the store answers: a fast readiness check, and a short memory of failure.

When the database is away every request would wait for a connection in turn; once
one has failed, the next ones are told at once for a moment (`down_for`), then a
request tries again, so service resumes as soon as the database is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

STORE_DOWN_FOR_S = 0.5


class StoreHealth:
    """The store's recent failures, and a readiness check that never blocks long."""

    def __init__(self, probe: Callable[[], object], down_for: float = STORE_DOWN_FOR_S):
        self.probe = probe
        self.down_for = down_for
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ready")
        self._check: Future[object] | None = None

    def failed(self) -> None:
        """Note that the store just could not be reached."""
        self._down_until = time.monotonic() + self.down_for

    def presumed_down(self) -> bool:
        """Whether a request should be told at once that the store is away."""
        return time.monotonic() < self._down_until

    def ready(self, timeout: float) -> bool:
        """Whether the store answers a query within `timeout` seconds.

        One check runs at a time; callers arriving meanwhile wait for the same one,
        so a slow database never piles checks up.
        """
        with self._lock:
            if self._check is None or self._check.done():
                self._check = self._checker.submit(self.probe)
            check = self._check
        try:
            check.result(timeout=timeout)
        except FutureTimeout:
            self.failed()
            return False
        except Exception:
            self.failed()
            return False
        return True

    def close(self) -> None:
        self._checker.shutdown(wait=False, cancel_futures=True)
