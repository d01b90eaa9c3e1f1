"""Quality measures: rates an auditor can explain, and the decisions behind them."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api.access import Disclosure, DisclosureDep
from api.conditional import ConditionalDep
from api.deps import ViewsDep, only_parameters, read_after
from api.errors import Problem
from api.openapi import NOT_MODIFIED, problems
from api.paging import After, Limit, decode_cursor, encode_cursor, invalid_cursor
from api.schemas.common import Instant
from api.schemas.quality_measures import (
    DecisionPublic,
    DecisionsPage,
    QualityMeasuresPublic,
)
from projections.quality_measures import (
    MEASURES,
    MeasureFilters,
    PageKey,
    QualityMeasuresProjection,
    Status,
    measure_id,
)

router = APIRouter(prefix="/quality-measures", tags=["quality measures"])
QUALITY = QualityMeasuresProjection.name
SUMMARY_PARAMETERS = frozenset(
    {"measure", "referrer_id", "occurred_from", "occurred_to", "period", "min_position"}
)
PAGE_PARAMETERS = frozenset(
    {
        "referrer_id",
        "occurred_from",
        "occurred_to",
        "status",
        "exclusion",
        "episode_id",
        "min_position",
        "after",
        "limit",
    }
)

CaughtUp = Annotated[int | None, Depends(read_after(QUALITY))]
PersonId = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        pattern=r"^\S+$",
        description="decisions charged to this referrer (the episode's opening one)",
    ),
]
From = Annotated[
    Instant | None, Query(description="anchored (opened, closed, treated) at or after")
]
To = Annotated[Instant | None, Query(description="anchored before")]


@router.get(
    "",
    dependencies=[only_parameters(SUMMARY_PARAMETERS)],
    responses=problems(422),
    summary="Rates of the quality measures",
)
def get_quality_measures(
    access: DisclosureDep,
    _caught_up: CaughtUp,
    views: ViewsDep,
    measure: Annotated[
        str | None,
        Query(
            max_length=32,
            description="one measure: LBP-IMG, FS-CHG, PROM-REG or ESI-RESP",
        ),
    ] = None,
    referrer_id: PersonId = None,
    occurred_from: From = None,
    occurred_to: To = None,
    period: Annotated[
        Literal["month", "quarter", "year"],
        Query(description="how `by_period` groups the decisions (UTC calendar)"),
    ] = "month",
) -> QualityMeasuresPublic:
    """Each measure's numerator, denominator, exclusions and rate, overall, per
    (opening) referrer and per period, with the windows that depend on the clock
    judged now; a physician's figures count only the episodes it referred."""
    filters = MeasureFilters(
        measures=(_measure(measure, "query"),) if measure is not None else None,
        referrer_id=referrer_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        physician_id=access.physician_scope,
    )
    summary = views.quality_measures.summary(filters, datetime.now(UTC), period)
    access.rows([])  # counts disclose no episode, but every read is logged
    return QualityMeasuresPublic.model_validate(summary)


@router.get(
    "/{measure}",
    dependencies=[only_parameters(PAGE_PARAMETERS)],
    responses={
        **NOT_MODIFIED,
        **problems(404, 422, descriptions={404: "no such measure"}),
    },
    summary="The decisions of one quality measure",
)
def list_decisions(
    measure: str,
    access: DisclosureDep,
    conditional: ConditionalDep,
    _caught_up: CaughtUp,
    views: ViewsDep,
    referrer_id: PersonId = None,
    occurred_from: From = None,
    occurred_to: To = None,
    status: Annotated[
        Status | None, Query(description="the status as it reads now")
    ] = None,
    exclusion: Annotated[
        str | None, Query(max_length=64, description="one exclusion, e.g. red_flag")
    ] = None,
    episode_id: Annotated[
        UUID | None, Query(description="one episode's decision")
    ] = None,
    after: After = None,
    limit: Limit = 50,
) -> DecisionsPage:
    """One measure's decisions, episode by episode (ESI session by session for
    ESI-RESP), each with its status now, the exclusion it names, why, and the
    events that decided it (version and global position); a physician sees only
    the episodes it referred, without global positions."""
    found = _measure(measure, "path")
    filters = MeasureFilters(
        referrer_id=referrer_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        status=status.value if status else None,
        exclusion=exclusion,
        episode_id=str(episode_id) if episode_id else None,
        physician_id=access.physician_scope,
    )
    kind = f"quality-{found}"
    rows, next_key = views.quality_measures.page(
        found, filters, datetime.now(UTC), _page_key(kind, after), limit
    )
    access.rows(UUID(row["episode_id"]) for row in rows)
    page = DecisionsPage(
        measure=found,
        items=[DecisionPublic(**_shown(row, access)) for row in rows],
        next_cursor=_cursor(kind, next_key) if next_key else None,
    )
    return conditional.content(page)


def _measure(text: str, where: str) -> str:
    """The measure named; 404 for a path naming none, 422 for a filter."""
    found = measure_id(text)
    if found is not None:
        return found
    allowed = list(MEASURES)
    if where == "path":
        raise Problem(
            404,
            "measure-not-found",
            "Measure not found",
            f"no quality measure {text!r}; the measures are {', '.join(allowed)}",
        )
    message = f"{text!r} is not a quality measure"
    raise Problem(
        422,
        "invalid-request",
        "The request is invalid",
        f"measure: {message}",
        errors=[
            {"field": "measure", "in": "query", "message": message, "allowed": allowed}
        ],
    )


def _shown(row: dict[str, Any], access: Disclosure) -> dict[str, Any]:
    """A decision as this caller may see it: a physician sees no global positions
    (they tell how busy the whole store is) and not which other episodes of the
    patient decided it."""
    if access.physician_scope is None:
        return row
    deciding = [
        {**entry, "position": None, "amended_by": _unplaced(entry.get("amended_by"))}
        if entry["episode_id"] == row["episode_id"]
        else {
            **entry,
            "episode_id": None,
            "version": None,
            "position": None,
            "amended_by": None,
        }
        for entry in row["deciding"]
    ]
    return {**row, "deciding": deciding}


def _unplaced(amendment: dict[str, Any] | None) -> dict[str, Any] | None:
    return {**amendment, "position": None} if amendment else None


def _cursor(kind: str, key: PageKey) -> str:
    anchor, episode, subject = key
    return encode_cursor(kind, f"{anchor.isoformat()}|{episode}|{subject}")


def _page_key(kind: str, after: str | None) -> PageKey | None:
    value = decode_cursor(kind, after)
    if value is None:
        return None
    anchor, _, rest = value.partition("|")
    episode, _, subject = rest.partition("|")
    try:
        moment = datetime.fromisoformat(anchor)
        if moment.utcoffset() is None or not subject:
            raise ValueError(value)
        return moment, str(UUID(episode)), subject
    except ValueError:
        raise invalid_cursor() from None
