"""The worklist screen: my tasks or all, filtered, urgent and overdue first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.auth import STAFF
from api.deps import SettingsDep, ViewsDep
from api.routes.worklist import _cursor, _page_key
from api.ui.deps import ReaderSession, disclosure_of
from api.ui.render import UiRoute, page
from api.ui.session import UiSession, invalid_field
from domain.values import PrincipalRole
from projections.worklist import Priority, TaskKind, WorklistFilters

router = APIRouter(prefix="/ui/worklist", route_class=UiRoute, include_in_schema=False)
PAGE_SIZE = 50
Choice = Annotated[str, Query(max_length=64)]
OVERDUE = {"": None, "yes": True, "no": False}


def _choice(name: str, text: str, allowed: list[str]) -> str | None:
    """An optional choice of a filter: None for "any", 422 for an unknown one."""
    if text == "":
        return None
    if text not in allowed:
        raise invalid_field(name, f"{text!r} is not one of {', '.join(allowed)}")
    return text


def _worklist(
    request: Request,
    session: UiSession,
    views: ViewsDep,
    show: str,
    kind: str,
    priority: str,
    overdue: str,
    after: str | None,
) -> dict[str, Any]:
    """The tasks of one screen, read and logged as GET /worklist does."""
    principal = session.principal
    clinician = principal.role is PrincipalRole.CLINICIAN
    show = show or ("mine" if clinician else "all")
    if show not in ("mine", "all"):
        raise invalid_field("show", "mine or all")
    if overdue not in OVERDUE:
        raise invalid_field("overdue", "yes, no or empty")
    kinds = [k.value for k in TaskKind]
    priorities = [p.value for p in Priority]
    access = disclosure_of(request, session)
    filters = WorklistFilters(
        assignee=principal.id if show == "mine" else None,
        kind=_choice("kind", kind, kinds),
        priority=_choice("priority", priority, priorities),
        overdue=OVERDUE[overdue],
        physician_id=access.physician_scope,
    )
    now = datetime.now(UTC)
    rows, next_key = views.worklist.page(filters, now, _page_key(after), PAGE_SIZE)
    access.rows(UUID(row["episode_id"]) for row in rows)
    params = {"show": show, "kind": kind, "priority": priority, "overdue": overdue}
    return {
        "section": "worklist",
        "tasks": rows,
        "now": now,
        "params": params,
        "after": after,
        "next_cursor": _cursor(next_key) if next_key else None,
        "kinds": kinds,
        "priorities": priorities,
        "can_have_mine": clinician,
    }


@router.get("")
def worklist(
    request: Request,
    session: ReaderSession,
    views: ViewsDep,
    settings: SettingsDep,
    show: Choice = "",
    kind: Choice = "",
    priority: Choice = "",
    overdue: Choice = "",
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Open tasks, urgent first, then the longest overdue; filters; live refresh."""
    context = _worklist(request, session, views, show, kind, priority, overdue, after)
    summary = None
    if session.principal.role in STAFF:
        summary = views.worklist.summary(context["now"])
    return page(
        request,
        "worklist.html",
        session,
        summary=summary,
        refresh_seconds=settings.ui_refresh_seconds,
        **context,
    )


@router.get("/rows")
def worklist_rows(
    request: Request,
    session: ReaderSession,
    views: ViewsDep,
    show: Choice = "",
    kind: Choice = "",
    priority: Choice = "",
    overdue: Choice = "",
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The task rows alone, for the screen's live refresh."""
    context = _worklist(request, session, views, show, kind, priority, overdue, after)
    return page(request, "worklist_rows.html", session, **context)
