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
from typing import Any

from psycopg.errors import PipelineAborted
from psycopg_pool import PoolTimeout

STORE_DOWN_FOR_S = 0.5


class StoreHealth:
    """The store's recent failures, and a readiness check that never blocks long."""

    def __init__(
        self,
        probe: Callable[[], object],
        down_for: float = STORE_DOWN_FOR_S,
        pool: Callable[[], Any] | None = None,
    ):
        self.probe = probe
        self.down_for = down_for
        self._pool = pool
        self._connection_errors = 0
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ready")
        self._check: Future[object] | None = None

    def failed(self, error: BaseException | None = None) -> bool:
        """Note that a request could not use the store; whether it is presumed down.

        A wait for a pooled connection that timed out while no connection attempt
        failed means the pool is busy, not that the database is away: telling the
        next requests at once that the store is down would turn a burst of load
        into an outage, so only this request is refused. So is a transaction that
        psycopg aborted after one of its statements failed (PipelineAborted): the
        connection answered, so the store is not away.
        """
        if error is not None and (_aborted(error) or self._busy(error)):
            return False
        self._down_until = time.monotonic() + self.down_for
        return True

    def _busy(self, error: BaseException) -> bool:
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, PoolTimeout):
            cause = cause.__cause__ or cause.__context__
        if cause is None or self._pool is None:
            return False
        stats = getattr(self._pool(), "get_stats", None)
        errors = int(stats().get("connections_errors", 0)) if stats else 0
        grew, self._connection_errors = errors > self._connection_errors, errors
        return not grew

    def presumed_down(self) -> bool:
        """Whether a request should be told at once that the store is away."""
        return time.monotonic() < self._down_until

    def ready(self, timeout: float) -> bool:
        """Whether the store answers a query within `timeout` seconds.

        One check runs at a time; callers arriving meanwhile wait for the same one,
        so a slow database never piles checks up. A check that fails opens the
        circuit as a request's failure would (a busy pool does not). One that is
        only slow does not: a loaded database is not an absent one, and requests
        that find it away open the circuit themselves.
        """
        with self._lock:
            if self._check is None or self._check.done():
                self._check = self._checker.submit(self.probe)
            check = self._check
        try:
            check.result(timeout=timeout)
        except FutureTimeout:
            return False
        except Exception as error:
            self.failed(error)
            return False
        return True

    def close(self) -> None:
        self._checker.shutdown(wait=False, cancel_futures=True)


def _aborted(error: BaseException) -> bool:
    """Whether `error` comes from a pipeline psycopg aborted mid-transaction."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, PipelineAborted):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
