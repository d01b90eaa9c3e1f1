"""The referring-physician feed: pages, and the same items as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from api.access import Disclosure, DisclosureDep
from api.auth import forbidden
from api.conditional import ConditionalDep
from api.context import current_request_id
from api.deps import ReadModelsDep, SettingsDep, ViewsDep, read_after
from api.errors import Problem
from api.feed_stream import FeedStreams
from api.openapi import NOT_MODIFIED, problems
from api.paging import After, Limit, decode_int_cursor
from api.schemas.feeds import CURSOR, FeedItemPublic, FeedPagePublic
from domain.values import PrincipalRole
from projections.physician_feed import PhysicianFeedProjection

router = APIRouter(prefix="/physicians", tags=["physician feed"])
FEED = PhysicianFeedProjection.name

PhysicianId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^\S+$", description="whose feed")
]
CaughtUp = Annotated[int | None, Depends(read_after(FEED))]
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=200,
        description="resume after this item (the `id:` of the last event received)",
    ),
]


def check_scope(access: Disclosure, physician_id: str) -> None:
    """A physician reads only its own feed: 403 otherwise, logged as denied."""
    principal = access.principal
    if principal.role is not PrincipalRole.PHYSICIAN:
        return  # service, clinician and auditor read every physician's feed
    if principal.physician_id is None or principal.physician_id != physician_id:
        access.log.record(
            principal_id=principal.id,
            role=principal.role.value,
            action=access.action,
            episode_ids=[],
            request_id=current_request_id(),
            outcome="denied",
        )
        raise forbidden()


NOT_YOURS = {403: "a physician asked for another physician's feed"}


@router.get(
    "/{physician_id}/feed",
    responses={**NOT_MODIFIED, **problems(403, 422, descriptions=NOT_YOURS)},
    summary="Read a physician's feed",
)
def read_feed(
    physician_id: PhysicianId,
    _caught_up: CaughtUp,
    access: DisclosureDep,
    conditional: ConditionalDep,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
    after: After = None,
    limit: Limit = 50,
) -> FeedPagePublic:
    """Every change to this physician's patients, oldest first: one item per event
    with a one-line summary; page on with `after=next_cursor`. A physician reads
    only its own feed; the `ETag` is a digest of the page."""
    check_scope(access, physician_id)
    start = decode_int_cursor(CURSOR, after)
    page = views.physician_feed.page(physician_id, start, limit)
    access.rows(UUID(row["episode_id"]) for row in page.items)
    items = [FeedItemPublic.of_row(row) for row in page.items]
    next_cursor = items[-1].cursor if page.more and items else None
    return conditional.content(FeedPagePublic(items=items, next_cursor=next_cursor))


@router.get(
    "/{physician_id}/feed/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "the feed as Server-Sent Events: `id:` the item's cursor, "
            "`event:` its type, `data:` the item as JSON; heartbeat comments",
            "content": {"text/event-stream": {}},
        },
        **problems(
            403,
            422,
            503,
            descriptions={
                **NOT_YOURS,
                503: "the store is unreachable, or this process already serves "
                "its maximum of streams; retry after `Retry-After` seconds",
            },
        ),
    },
    summary="Stream a physician's feed (Server-Sent Events)",
)
async def stream_feed(
    request: Request,
    physician_id: PhysicianId,
    access: DisclosureDep,
    views: ViewsDep,
    after: After = None,
    last_event_id: LastEventId = None,
) -> EventSourceResponse:
    """The feed as Server-Sent Events, from its start, after `?after=`, or after
    the `Last-Event-ID` a reconnecting client sends; items arrive as they are
    written, heartbeat comments while idle."""
    await run_in_threadpool(check_scope, access, physician_id)
    start = _stream_start(after, last_event_id)
    streams: FeedStreams = request.app.state.feed_streams
    if not streams.acquire():
        raise Problem(
            503,
            "too-many-streams",
            "Too many feed streams",
            f"this server already serves {streams.max_streams} feed streams; retry "
            "shortly or read the feed in pages",
            headers={"Retry-After": "5"},
        )
    return streams.response(views.physician_feed, physician_id, start, access)


def _stream_start(after: str | None, last_event_id: str | None) -> int | None:
    """Where a stream starts: Last-Event-ID (a reconnect) wins over ?after=."""
    if last_event_id is None:
        return decode_int_cursor(CURSOR, after)
    try:
        return decode_int_cursor(CURSOR, last_event_id)
    except Problem:
        raise Problem(
            422,
            "invalid-cursor",
            "The cursor is invalid",
            "Last-Event-ID: not an event id of this feed",
            errors=[
                {"field": "Last-Event-ID", "in": "header", "message": "unknown id"}
            ],
        ) from None
