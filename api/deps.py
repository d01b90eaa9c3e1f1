"""Typed dependencies the routes declare: the container's parts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from api.auth import authenticate
from api.errors import Problem
from domain.application import CareEpisodes
from domain.values import PrincipalRole
from infra.access_log import AccessLog
from infra.bootstrap import Container
from infra.catalog import Views
from infra.episode_index import EpisodeIndex
from infra.metrics import READS_WAITING
from infra.projection import ReadModels
from infra.settings import Settings
from infra.tokens import Principal
from infra.watch import PositionWatcher


async def get_container(request: Request) -> Container:
    """The process's container (opened by the app's lifespan)."""
    return request.app.state.container


async def get_episodes(request: Request) -> CareEpisodes:
    """The process's CareEpisodes application."""
    return request.app.state.container.episodes


async def get_access_log(request: Request) -> AccessLog:
    return request.app.state.container.access_log


async def get_read_models(request: Request) -> ReadModels:
    return request.app.state.container.read_models


async def get_views(request: Request) -> Views:
    return request.app.state.container.views


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_index(request: Request) -> EpisodeIndex:
    return request.app.state.container.index


ContainerDep = Annotated[Container, Depends(get_container)]
IndexDep = Annotated[EpisodeIndex, Depends(get_index)]
EpisodesDep = Annotated[CareEpisodes, Depends(get_episodes)]
AccessLogDep = Annotated[AccessLog, Depends(get_access_log)]
ReadModelsDep = Annotated[ReadModels, Depends(get_read_models)]
ViewsDep = Annotated[Views, Depends(get_views)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=2**63 - 1,
        description="wait (a few seconds at most) until the read model has processed "
        "this global position, e.g. the `position` a command answered; else 503. "
        "For callers that write: a physician may not use it",
    ),
]


def _behind(name: str, position: int) -> Problem:
    return Problem(
        503,
        "read-model-behind",
        "The read model has not caught up",
        f"{name} has not yet processed position {position}; retry shortly",
        headers={"Retry-After": "1"},
    )


def read_after(projection: str) -> Callable[..., Awaitable[int | None]]:
    """A dependency that holds a read until `projection` has processed the caller's
    `min_position` (read your own writes), waiting on the process's watcher: no
    thread is held while it waits, and past `read_wait_max_waiters` waiting reads
    the next answers 503 at once."""

    async def wait(
        request: Request,
        principal: Annotated[Principal, Depends(authenticate)],
        min_position: MinPosition = None,
    ) -> int | None:
        if min_position is None:
            return None
        if principal.role is PrincipalRole.PHYSICIAN:
            # Positions are global: answering at once up to the head and waiting
            # beyond it would tell a physician how many events the store holds.
            raise Problem(
                422,
                "invalid-request",
                "The request is invalid",
                "min_position: a physician reads its feed by cursor, not by position",
                errors=[
                    {
                        "field": "min_position",
                        "in": "query",
                        "message": "not for physicians",
                    }
                ],
            )
        settings: Settings = request.app.state.settings
        waits: WaitSlots = request.app.state.read_waits
        if not waits.take():
            raise _behind(projection, min_position)
        try:
            watcher: PositionWatcher = request.app.state.watcher
            if not await watcher.wait_for(
                projection, min_position, settings.read_wait_timeout
            ):
                raise _behind(projection, min_position)
        finally:
            waits.give_back()
        return min_position

    return wait


class WaitSlots:
    """How many reads of this process may wait for a position at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waiting = 0

    def take(self) -> bool:
        # Only the event loop's thread calls this: no lock needed.
        if self.waiting >= self.limit:
            return False
        self.waiting += 1
        READS_WAITING.inc()
        return True

    def give_back(self) -> None:
        self.waiting -= 1
        READS_WAITING.dec()


def only_parameters(allowed: frozenset[str]) -> Any:
    """A dependency answering 422 for a query parameter outside `allowed`, or one
    given twice: a misspelt filter would otherwise silently widen a list or a rate."""

    async def check(request: Request) -> None:
        names = [name for name, _ in request.query_params.multi_items()]
        unknown = sorted(set(names) - allowed)
        repeated = sorted({n for n in names if names.count(n) > 1} - set(unknown))
        errors = [
            {"field": n, "in": "query", "message": "unknown query parameter"}
            for n in unknown
        ] + [
            {"field": n, "in": "query", "message": "given more than once"}
            for n in repeated
        ]
        if errors:
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
            raise Problem(
                422, "invalid-request", "The request is invalid", detail, errors=errors
            )

    return Depends(check)
