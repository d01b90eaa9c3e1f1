"""The physician feed as Server-Sent Events: stream slots, waits, heartbeats, goodbyes.

A stream pulls its physician's items page by page from the view and sends them
one at a time, so a client holds at most one page in memory; when nothing is
left it waits on the process's PositionWatcher (never polling the database
itself) until the feed moves or a heartbeat is due. Sends have a timeout: a
client that stops reading is dropped with a final comment. On shutdown (uvicorn's
SIGTERM, which sse-starlette reports) each stream says so and ends its body.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.event import ensure_bytes
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from api.access import Disclosure
from api.schemas.feeds import FeedItemPublic
from infra.settings import Settings
from infra.watch import PositionWatcher
from projections.physician_feed import (
    FeedPage,
    PhysicianFeedProjection,
    PhysicianFeedView,
)

log = logging.getLogger("care.api.feeds")
FEED = PhysicianFeedProjection.name
# Items a stream reads per query, and the worker threads all streams of a
# process read with: the sync API routes keep the rest of the thread pool.
STREAM_PAGE = 50
STREAM_READ_THREADS = 8
# Seconds a stream gets to say goodbye on shutdown before it is cut off.
SHUTDOWN_GRACE_S = 2.0
SHUTTING_DOWN = "the server is shutting down; reconnect with Last-Event-ID"
UNAVAILABLE = "the feed cannot be read now; reconnect with Last-Event-ID"
DROPPED = "dropped: this client reads too slowly; reconnect with Last-Event-ID"


class FeedStreams:
    """This process's feed streams: how many may be open, and what they share."""

    def __init__(self, settings: Settings, watcher: PositionWatcher) -> None:
        self.watcher = watcher
        self.max_streams = settings.feed_max_streams
        self.heartbeat_s = settings.feed_heartbeat_interval
        self.send_timeout_s = settings.feed_send_timeout
        self.limiter = anyio.CapacityLimiter(STREAM_READ_THREADS)
        self.open = 0

    def acquire(self) -> bool:
        """Take a stream slot; False when every slot is taken."""
        # Only the event loop's thread calls this: no lock needed.
        if self.open >= self.max_streams:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """Give a stream slot back."""
        self.open -= 1

    def response(
        self,
        view: PhysicianFeedView,
        physician_id: str,
        after: int | None,
        access: Disclosure,
    ) -> FeedEventStream:
        """The stream of a physician's items after `after`, in a slot taken already."""
        shutdown = anyio.Event()
        events = self._events(view, physician_id, after, access, shutdown)
        return FeedEventStream(
            events,
            on_close=self.release,
            send_timeout=self.send_timeout_s,
            shutdown_event=shutdown,
        )

    async def _events(
        self,
        view: PhysicianFeedView,
        physician_id: str,
        after: int | None,
        access: Disclosure,
        shutdown: anyio.Event,
    ) -> AsyncIterator[ServerSentEvent]:
        seq, first = after or 0, True
        while not shutdown.is_set():
            try:
                page = await anyio.to_thread.run_sync(
                    _read, view, physician_id, seq, access, first, limiter=self.limiter
                )
            except Exception:
                # The store is away: end cleanly, so the client reconnects later
                # from its last event rather than waiting on a stream that is stuck.
                log.exception("a feed stream could not read the feed")
                yield ServerSentEvent(comment=UNAVAILABLE)
                return
            first = False
            for row in page.items:
                item = FeedItemPublic.of_row(row)
                yield ServerSentEvent(
                    item.model_dump_json(), event=item.type, id=item.cursor
                )
                seq = row["seq"]
            if page.more:
                continue
            # Nothing more now: sleep until the feed passes what this read saw.
            moved = await self._moved(page.position + 1, shutdown)
            if not moved and not shutdown.is_set():
                yield ServerSentEvent(comment="heartbeat")
        yield ServerSentEvent(comment=SHUTTING_DOWN)

    async def _moved(self, position: int, shutdown: anyio.Event) -> bool:
        """Whether the feed reached `position` within a heartbeat (False on shutdown)."""
        moved = False
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                nonlocal moved
                moved = await self.watcher.wait_for(FEED, position, self.heartbeat_s)
                group.cancel_scope.cancel()

            async def stop() -> None:
                await shutdown.wait()
                group.cancel_scope.cancel()

            group.start_soon(watch)
            group.start_soon(stop)
        return moved


def _read(
    view: PhysicianFeedView,
    physician_id: str,
    seq: int,
    access: Disclosure,
    first: bool,
) -> FeedPage:
    """One page after `seq`, logged as disclosed (the first read even if empty)."""
    page = view.page(physician_id, seq, STREAM_PAGE)
    if page.items or first:
        access.rows(UUID(row["episode_id"]) for row in page.items)
    return page


class FeedEventStream(EventSourceResponse):
    """An event stream that gives its slot back when it ends, and says goodbye
    with a comment to a client it drops for reading too slowly."""

    def __init__(
        self,
        content: AsyncIterator[ServerSentEvent],
        *,
        on_close: Callable[[], None],
        send_timeout: float,
        shutdown_event: anyio.Event,
    ) -> None:
        # No library pings: the stream sends its own heartbeats, through the same
        # send timeout, so an idle stream to a dead client is dropped too.
        super().__init__(
            content,
            ping=0,
            send_timeout=send_timeout,
            shutdown_event=shutdown_event,
            shutdown_grace_period=SHUTDOWN_GRACE_S,
        )
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.warning(
                "dropped a feed stream whose client took over %s s to take an event",
                self.send_timeout,
            )
            await self._farewell(send)
        finally:
            self._on_close()

    async def _farewell(self, send: Send) -> None:
        # Nothing more is read for this client, so its memory stays bounded; the
        # goodbye reaches it if it reads again within one more send timeout.
        comment = ensure_bytes(ServerSentEvent(comment=DROPPED), self.sep)
        body: dict[str, Any] = {"type": "http.response.body", "more_body": True}
        with anyio.move_on_after(self.send_timeout):
            await send({**body, "body": comment})
            await send({**body, "body": b"", "more_body": False})
