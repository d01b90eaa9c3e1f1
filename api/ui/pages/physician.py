"""The physician screen: a physician's feed and its patients' episodes."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import IndexDep, ViewsDep
from api.paging import decode_int_cursor, decode_key_cursor, encode_key_cursor
from api.routes.feeds import check_scope
from api.schemas.feeds import CURSOR, FeedItemPublic
from api.ui.deps import ReaderSession, disclosure_of
from api.ui.render import UiRoute, page
from api.ui.session import invalid_field
from domain.values import PrincipalRole
from infra.episode_index import EpisodeFilters

router = APIRouter(prefix="/ui/physician", route_class=UiRoute, include_in_schema=False)
PAGE_SIZE = 50
Cursor = Annotated[str | None, Query(max_length=200)]


@router.get("")
def physician(
    request: Request,
    session: ReaderSession,
    views: ViewsDep,
    index: IndexDep,
    physician_id: Annotated[str, Query(max_length=128)] = "",
    feed_after: Cursor = None,
    patients_after: Cursor = None,
) -> Response:
    """A physician's own feed and patients; staff choose whose. The same scope
    check as GET /physicians/{id}/feed, and every row read is logged."""
    principal = session.principal
    access = disclosure_of(request, session)
    if principal.role is PrincipalRole.PHYSICIAN:
        physician_id = physician_id or principal.physician_id or ""
    if physician_id and (not physician_id.strip() or " " in physician_id):
        raise invalid_field("physician_id", "a physician id has no spaces")
    context: dict[str, Any] = {"section": "physician", "physician_id": physician_id}
    if physician_id:
        check_scope(access, physician_id)
        feed = views.physician_feed.page(
            physician_id, decode_int_cursor(CURSOR, feed_after), PAGE_SIZE
        )
        items = [FeedItemPublic.of_row(row) for row in feed.items]
        found, next_key = index.search(
            EpisodeFilters(
                referrer_id=physician_id, physician_id=access.physician_scope
            ),
            decode_key_cursor("episodes", patients_after),
            PAGE_SIZE,
        )
        access.rows(
            [UUID(row["episode_id"]) for row in feed.items]
            + [episode.episode_id for episode in found]
        )
        context.update(
            items=items,
            feed_next=items[-1].cursor if feed.more and items else None,
            patients=found,
            patients_next=encode_key_cursor("episodes", next_key),
            feed_after=feed_after,
            patients_after=patients_after,
        )
    return page(request, "physician.html", session, **context)
