"""The audit dashboard: rates per rule, referrer and surgeon, the pathway flow, and
the drill-down to the episodes behind a figure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import ViewsDep
from api.paging import decode_key_cursor, encode_key_cursor
from api.routes.audit import _rule
from api.ui.deps import ReaderSession, StaffSession, disclosure_of
from api.ui.flow import pathway_flow
from api.ui.render import UiRoute, page
from api.ui.session import invalid_field
from infra.catalog import Views
from projections.referral_audit import AuditFilters, Severity

router = APIRouter(prefix="/ui/audit", route_class=UiRoute, include_in_schema=False)
PAGE_SIZE = 50
# The flow reads at most this many episodes' pathways (in pages of FLOW_PAGE).
FLOW_PAGE, FLOW_MAX = 500, 20_000
Text = Annotated[str, Query(max_length=128)]


def _pathways(views: Views, now: datetime) -> Iterator[list[str]]:
    """Every audited episode's pathway, paged through the audit's own list query."""
    after, read = None, 0
    while read < FLOW_MAX:
        rows, after = views.referral_audit.page(
            AuditFilters(flagged_only=False), now, after, FLOW_PAGE
        )
        read += len(rows)
        yield from (list(row["pathway"]) for row in rows)
        if after is None:
            return


@router.get("")
def dashboard(request: Request, session: StaffSession, views: ViewsDep) -> Response:
    """Rates per rule, severity, referrer and surgeon; the pathways as a flow. Not
    for physicians (it spans every physician's patients), as GET /audit/.../summary."""
    now = datetime.now(UTC)
    summary = views.referral_audit.summary(now)
    flow = pathway_flow(_pathways(views, now))
    # Counts disclose no episode, but every read is logged (as the API's summary).
    disclosure_of(request, session).rows([])
    return page(
        request,
        "audit.html",
        session,
        section="audit",
        summary=summary,
        flow=flow,
        flow_capped=flow.episodes >= FLOW_MAX,
    )


@router.get("/episodes")
def drill_down(
    request: Request,
    session: ReaderSession,
    views: ViewsDep,
    rule: Text = "",
    severity: Text = "",
    referrer_id: Text = "",
    surgeon_id: Text = "",
    flagged: Text = "yes",
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The audited episodes behind a figure; a physician sees only its own."""
    if severity and severity not in {s.value for s in Severity}:
        raise invalid_field("severity", "medium, high or critical")
    if flagged not in ("yes", "all"):
        raise invalid_field("flagged", "yes or all")
    access = disclosure_of(request, session)
    filters = AuditFilters(
        rule=_rule(rule or None),
        severity=severity or None,
        referrer_id=referrer_id or None,
        surgeon_id=surgeon_id or None,
        flagged_only=flagged == "yes",
        physician_id=access.physician_scope,
    )
    now = datetime.now(UTC)
    rows, next_key = views.referral_audit.page(
        filters, now, decode_key_cursor("audit", after), PAGE_SIZE
    )
    access.rows(UUID(row["episode_id"]) for row in rows)
    params = {
        "rule": rule,
        "severity": severity,
        "referrer_id": referrer_id,
        "surgeon_id": surgeon_id,
        "flagged": flagged,
    }
    return page(
        request,
        "audit_episodes.html",
        session,
        section="audit",
        rows=rows,
        params=params,
        next_cursor=encode_key_cursor("audit", next_key),
    )
