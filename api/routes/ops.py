"""Liveness and readiness."""

import logging

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.auth import Staff
from api.deps import ContainerDep, SettingsDep
from api.errors import Problem
from infra.metrics import exposition

router = APIRouter(tags=["operations"])
READY_WITHIN_S = 0.6
logger = logging.getLogger("care.api")


class Health(BaseModel):
    status: str


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}},
)
def metrics(_staff: Staff, container: ContainerDep, settings: SettingsDep) -> Response:
    """Prometheus metrics: requests, commands, conflicts, replays, access-log writes,
    projection progress and lag, and the database pool."""
    body, content_type = exposition(
        container.read_models, settings.metrics_multiprocess_dir
    )
    return Response(body, media_type=content_type)


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process is up and answering."""
    return Health(status="ok")


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "the store is unreachable",
            "content": {"application/problem+json": {}},
        }
    },
)
def readyz(container: ContainerDep) -> Health:
    """Readiness: the event store answers a query, within a second."""
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
