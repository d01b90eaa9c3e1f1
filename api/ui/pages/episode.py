"""The episode timeline screen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import ContainerDep
from api.ui.deps import ReaderSession, disclosure_of
from api.ui.render import UiRoute, page
from api.ui.timeline import outcome_charts, timeline
from domain.reading import EpisodeReading
from infra.audit_replay import AuditReplays
from projections.referral_audit.replay import TimelineStep

router = APIRouter(prefix="/ui/episodes", route_class=UiRoute, include_in_schema=False)


@router.get("/{episode_id}")
def episode_timeline(
    request: Request, episode_id: UUID, session: ReaderSession, container: ContainerDep
) -> Response:
    """Every event in clinical time, amendments, findings, and outcome charts; a
    physician sees only the episodes it referred (the API's check and log entry)."""
    access = disclosure_of(request, session)
    now = datetime.now(UTC)

    def load() -> tuple[EpisodeReading, list[TimelineStep], dict[str, Any] | None]:
        reading = container.episodes.get_episode(episode_id)
        steps = AuditReplays.of(container).timeline(episode_id)
        found = container.views.referral_audit.episode(episode_id, now)
        return reading, steps, found[0] if found else None

    reading, steps, audit = access.episode(
        episode_id, load, lambda loaded: loaded[0].referrer_ids()
    )
    return page(
        request,
        "episode.html",
        session,
        section="episode",
        episode=reading,
        moments=timeline(reading, steps),
        charts=outcome_charts(reading),
        audit=audit,
        now=now,
    )
