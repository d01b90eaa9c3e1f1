"""The access log, for auditors: who read which patients' data, and when."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import Auditor
from api.conditional import ConditionalDep
from api.deps import AccessLogDep
from api.openapi import NOT_MODIFIED, problems
from api.paging import After, Limit, decode_int_cursor, encode_cursor
from api.schemas.common import Instant
from infra.access_log import AccessEntry

router = APIRouter(prefix="/audit/access-log", tags=["audit"])


class AccessLogPage(BaseModel):
    """A page of the access log, newest first."""

    items: list[AccessEntry]
    next_cursor: str | None


@router.get(
    "",
    responses={**NOT_MODIFIED, **problems(403, 422)},
    summary="Read the access log",
)
def get_access_log(
    _auditor: Auditor,
    log: AccessLogDep,
    conditional: ConditionalDep,
    episode_id: Annotated[
        UUID | None, Query(description="entries naming this episode")
    ] = None,
    principal_id: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[Instant | None, Query(description="at or after")] = None,
    until: Annotated[Instant | None, Query(description="before")] = None,
    after: After = None,
    limit: Limit = 100,
) -> AccessLogPage:
    """Access-log entries, newest first, filtered by episode, principal and time
    (auditors only). Reading it is not itself logged; the `ETag` is a digest of
    the page."""
    entries = log.entries(
        episode_id=episode_id,
        principal_id=principal_id,
        since=since,
        until=until,
        before_id=decode_int_cursor("access", after),
        limit=limit + 1,
    )
    page = entries[:limit]
    more = len(entries) > limit
    return conditional.content(
        AccessLogPage(
            items=page,
            next_cursor=encode_cursor("access", page[-1].id) if more else None,
        )
    )
