"""The webhook sender: each subscription's pending feed items, POSTed in order.

One item at a time per subscription, the next only after the endpoint answered
2xx for this one, so items arrive in feed order; the cursor moves only on a 2xx,
so an item is retried until acknowledged (with the same `webhook-id`, which a
receiver uses to drop a repeat after a lost acknowledgement). A failure schedules
the next attempt with exponential backoff; `webhook_max_failures` failures in a
row (or a 410 Gone) pause the subscription until it is resumed. One sender per
store is active (a lock, as projection workers hold), any others stand by.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

import httpx

from domain.application import utc_now
from infra.access_log import AccessLog
from infra.projection.locks import Locks
from infra.settings import Settings
from infra.webhooks.endpoints import endpoint_problem
from infra.webhooks.message import message_id, signed
from infra.webhooks.outbox import FeedOutbox
from infra.webhooks.subscriptions import Subscription, Subscriptions

log = logging.getLogger("care.webhooks")
LOCK_KEY = "webhooks.sender"
BATCH = 50


class WebhookSender:
    """Delivers every due subscription's pending items."""

    def __init__(
        self,
        subscriptions: Subscriptions,
        outbox: FeedOutbox,
        access_log: AccessLog,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        client: httpx.Client | None = None,
    ) -> None:
        self.subscriptions = subscriptions
        self.outbox = outbox
        self.access_log = access_log
        self.settings = settings
        self.clock = clock
        # No redirects (a signed delivery goes where it was registered to go), no
        # proxies from the environment.
        self.client = client or httpx.Client(
            timeout=settings.webhook_timeout, follow_redirects=False, trust_env=False
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def deliver_due(self) -> int:
        """One round: every due subscription's pending items; how many were delivered."""
        due = self.subscriptions.due(self.clock())
        if not due:
            return 0
        workers = max(1, min(self.settings.webhook_concurrency, len(due)))
        if workers == 1:
            return sum(self._serve(sub) for sub in due)
        with ThreadPoolExecutor(workers, thread_name_prefix="webhook") as pool:
            return sum(pool.map(self._serve, due))

    def _serve(self, sub: Subscription) -> int:
        try:
            pending = self.outbox.pending(sub, BATCH)
        except Exception:
            log.exception("cannot read the feed for subscription %s", sub.id)
            return 0
        if pending.cursor != sub.cursor:
            self.subscriptions.reanchored(sub.id, pending.cursor)
        sent = 0
        for item in pending.items:
            error, gone = self._post(sub, item)
            if error is not None:
                self._failed(sub, error, gone=gone)
                return sent
            now = self.clock()
            cursor = self.outbox.cursor_of(item, pending.cursor.generation)
            self.subscriptions.delivered(sub.id, cursor, now)
            self._disclosed(sub, item)
            sent += 1
        return sent

    def _post(self, sub: Subscription, item: dict) -> tuple[str | None, bool]:
        """POST one item; (why it failed or None, whether the endpoint is gone)."""
        problem = endpoint_problem(
            sub.endpoint, allow_loopback_http=self.settings.webhook_allow_loopback_http
        )
        if problem is not None:
            return problem, True
        msg = signed(
            sub.secret,
            message_id(sub.id, item["episode_id"], item["version"]),
            item,
            self.clock(),
        )
        try:
            answer = self.client.post(
                sub.endpoint, content=msg.body, headers=msg.headers
            )
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}", False
        if 200 <= answer.status_code < 300:
            return None, False
        # 410 Gone: the receiver says this endpoint is no more (Standard Webhooks).
        return f"endpoint answered {answer.status_code}", answer.status_code == 410

    def _failed(self, sub: Subscription, error: str, *, gone: bool) -> None:
        failures = sub.failures + 1
        base = self.settings.webhook_backoff_base
        delay = min(base * 2 ** (failures - 1), self.settings.webhook_backoff_max)
        # Jitter, so endpoints that failed together are not retried together.
        delay *= random.uniform(0.5, 1.0)
        now = self.clock()
        pause = gone or failures >= self.settings.webhook_max_failures
        self.subscriptions.failed(
            sub.id, error, now + timedelta(seconds=delay), pause=pause, now=now
        )
        log.warning(
            "webhook %s to %s failed (%d in a row%s): %s",
            sub.id,
            urlsplit(sub.endpoint).netloc,
            failures,
            ", paused" if pause else "",
            error,
        )

    def _disclosed(self, sub: Subscription, item: dict) -> None:
        # A delivery discloses patient data to the subscriber: logged as a read.
        self.access_log.record(
            principal_id=sub.created_by,
            role=sub.created_role,
            action=f"WEBHOOK {sub.id}",
            episode_ids=[UUID(item["episode_id"])],
            request_id=None,
            outcome="disclosed",
        )


def run_sender(
    sender: WebhookSender, locks: Locks, stop: threading.Event, interval: float
) -> None:
    """Deliver while holding the sender lock, stand by otherwise, until `stop`."""
    held = False
    while not stop.is_set():
        try:
            if not held:
                held = locks.try_acquire(LOCK_KEY)
            if held and locks.lost():
                held = False
            if held and sender.deliver_due():
                continue  # more may be pending: no pause between full rounds
        except Exception:  # the store may be away: stand by and try again
            log.exception("webhook round failed")
            held = False
        stop.wait(interval)
    if held:
        locks.release(LOCK_KEY)
