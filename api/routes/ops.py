"""Liveness and readiness."""

import logging

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import EpisodesDep
from api.errors import Problem

router = APIRouter(tags=["operations"])
logger = logging.getLogger("care.api")


class Health(BaseModel):
    status: str


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
def readyz(episodes: EpisodesDep) -> Health:
    """Readiness: the event store answers a query."""
    try:
        episodes.recorder.max_notification_id()
    except PersistenceError as error:
        logger.error("readiness check failed: %s", error)
        raise Problem(
            503,
            "store-unavailable",
            "The store is unavailable",
            "the event store could not be reached",
            headers={"Retry-After": "5"},
        ) from None
    return Health(status="ready")
