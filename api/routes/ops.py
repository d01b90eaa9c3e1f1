"""Liveness and readiness."""

import logging

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.auth import Staff
from api.deps import ContainerDep, SettingsDep
from api.errors import Problem
from api.openapi import problems
from infra.metrics import exposition

router = APIRouter(tags=["operations"])
READY_WITHIN_S = 0.6
logger = logging.getLogger("care.api")


class Health(BaseModel):
    """Whether the process (healthz) or the store (readyz) answers."""

    status: str = Field(description="ok (alive) or ready (the store answers)")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"example": "care_commands_total 12\n"}},
            "description": "Prometheus text exposition",
        },
        **problems(403),
    },
    summary="Prometheus metrics",
)
def metrics(_staff: Staff, container: ContainerDep, settings: SettingsDep) -> Response:
    """Prometheus metrics: requests, commands, conflicts, replays, access-log writes,
    projection progress and lag, and the database pool."""
    body, content_type = exposition(
        container.read_models, settings.metrics_multiprocess_dir
    )
    return Response(body, media_type=content_type)


@router.get("/healthz", summary="Liveness")
def healthz() -> Health:
    """Liveness: the process is up and answering."""
    return Health(status="ok")


@router.get(
    "/readyz",
    responses=problems(503, descriptions={503: "the store is unreachable"}),
    summary="Readiness",
)
def readyz(container: ContainerDep) -> Health:
    """Readiness: the event store answers a query within 0.6 s."""
    if not container.health.ready(timeout=READY_WITHIN_S):
        logger.error("readiness check failed: the store did not answer")
        raise Problem(
            503,
            "store-unavailable",
            "The store is unavailable",
            "the event store could not be reached",
            headers={"Retry-After": "1"},
        )
    return Health(status="ready")
