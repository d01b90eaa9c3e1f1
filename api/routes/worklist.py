"""The clinical worklist: each clinician's open tasks, and the counts for a header."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api.access import DisclosureDep
from api.auth import Staff
from api.conditional import ConditionalDep
from api.deps import (
    ReadModelsDep,
    SettingsDep,
    ViewsDep,
    only_parameters,
    read_after,
)
from api.openapi import NOT_MODIFIED, problems
from api.paging import After, Limit, decode_cursor, encode_cursor, invalid_cursor
from api.schemas.common import Instant
from api.schemas.worklist import TaskPublic, WorklistPage, WorklistSummaryPublic
from projections.worklist import (
    PageKey,
    Priority,
    TaskKind,
    WorklistFilters,
    WorklistProjection,
)

WORKLIST = WorklistProjection.name
CURSOR = "worklist"
PAGE_PARAMETERS = frozenset(
    {
        "assignee",
        "kind",
        "priority",
        "overdue",
        "due_before",
        "episode_id",
        "referrer_id",
        "min_position",
        "after",
        "limit",
    }
)
SUMMARY_PARAMETERS = frozenset({"min_position"})

CaughtUp = Annotated[int | None, Depends(read_after(WORKLIST))]
PersonId = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^\S+$")]


router = APIRouter(prefix="/worklist", tags=["worklist"])


@router.get(
    "/summary",
    dependencies=[only_parameters(SUMMARY_PARAMETERS)],
    responses=problems(403, 422),
    summary="Count the open tasks",
)
def get_worklist_summary(
    _staff: Staff,
    _caught_up: CaughtUp,
    access: DisclosureDep,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
) -> WorklistSummaryPublic:
    """Open tasks counted per kind, priority (urgent, high, normal) and assignee,
    with how many are overdue now; for a screen's header (not for physicians). No
    ETag: the counts are judged at the instant asked (`as_of`)."""
    summary = views.worklist.summary(datetime.now(UTC))
    access.rows([])  # counts disclose no episode, but every read is logged
    return WorklistSummaryPublic.model_validate(summary)


@router.get(
    "",
    dependencies=[only_parameters(PAGE_PARAMETERS)],
    responses={**NOT_MODIFIED, **problems(422)},
    summary="List open tasks",
)
def list_tasks(
    access: DisclosureDep,
    conditional: ConditionalDep,
    _caught_up: CaughtUp,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
    assignee: PersonId = None,
    kind: Annotated[TaskKind | None, Query(description="a task kind")] = None,
    priority: Annotated[
        Priority | None, Query(description="urgent, high or normal, as of now")
    ] = None,
    overdue: Annotated[
        bool | None, Query(description="true: only overdue; false: only not yet due")
    ] = None,
    due_before: Annotated[
        Instant | None, Query(description="due before this instant")
    ] = None,
    episode_id: Annotated[UUID | None, Query(description="one episode's tasks")] = None,
    referrer_id: PersonId = None,
    after: After = None,
    limit: Limit = 50,
) -> WorklistPage:
    """Open tasks, urgent first, then by due time (so the longest overdue first);
    a physician sees only the tasks of episodes it referred. The `ETag` is a
    digest of the page (priorities and overdue judged now)."""
    filters = WorklistFilters(
        assignee=assignee,
        kind=kind.value if kind else None,
        priority=priority.value if priority else None,
        overdue=overdue,
        due_before=due_before,
        episode_id=episode_id,
        referrer_id=referrer_id,
        physician_id=access.physician_scope,
    )
    rows, next_key = views.worklist.page(
        filters, datetime.now(UTC), _page_key(after), limit
    )
    access.rows(UUID(row["episode_id"]) for row in rows)
    page = WorklistPage(
        items=[TaskPublic(**row) for row in rows],
        next_cursor=_cursor(next_key) if next_key else None,
    )
    return conditional.content(page)


def _cursor(key: PageKey) -> str:
    rank, due_at, task_id = key
    return encode_cursor(CURSOR, f"{rank}|{due_at.isoformat()}|{task_id}")


def _page_key(after: str | None) -> PageKey | None:
    value = decode_cursor(CURSOR, after)
    if value is None:
        return None
    rank, _, rest = value.partition("|")
    due, _, task = rest.partition("|")
    try:
        due_at = datetime.fromisoformat(due)
        if rank not in ("0", "1") or due_at.utcoffset() is None:
            raise ValueError(value)
        return int(rank), due_at, str(UUID(task))
    except ValueError:
        raise invalid_cursor() from None
