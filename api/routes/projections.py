"""The read models' progress: position, head, lag, state and last error."""

from fastapi import APIRouter
from pydantic import BaseModel

from api.auth import Staff
from api.deps import ReadModelsDep
from api.openapi import problems
from infra.projection import ProjectionStatus

router = APIRouter(prefix="/projections", tags=["operations"])


class ProjectionsPublic(BaseModel):
    """Every projection's progress through the global order of events."""

    projections: list[ProjectionStatus]


@router.get("", responses=problems(403), summary="Projections' progress")
def get_projections(_staff: Staff, read_models: ReadModelsDep) -> ProjectionsPublic:
    """Each projection's position, head, lag in events and seconds, state
    (active, standby, failed, rebuilding) and last error."""
    return ProjectionsPublic(projections=read_models.status())
