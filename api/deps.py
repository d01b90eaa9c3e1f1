"""Typed dependencies the routes declare: the container's parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import Problem
from domain.application import CareEpisodes
from infra.access_log import AccessLog
from infra.bootstrap import Container
from infra.catalog import Views
from infra.episode_index import EpisodeIndex
from infra.projection import ReadModels
from infra.settings import Settings


def get_container(request: Request) -> Container:
    """The process's container (opened by the app's lifespan)."""
    return request.app.state.container


def get_episodes(request: Request) -> CareEpisodes:
    """The process's CareEpisodes application."""
    return get_container(request).episodes


def get_access_log(request: Request) -> AccessLog:
    return get_container(request).access_log


def get_read_models(request: Request) -> ReadModels:
    return get_container(request).read_models


def get_views(request: Request) -> Views:
    return get_container(request).views


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_index(request: Request) -> EpisodeIndex:
    return get_container(request).index


ContainerDep = Annotated[Container, Depends(get_container)]
IndexDep = Annotated[EpisodeIndex, Depends(get_index)]
EpisodesDep = Annotated[CareEpisodes, Depends(get_episodes)]
AccessLogDep = Annotated[AccessLog, Depends(get_access_log)]
ReadModelsDep = Annotated[ReadModels, Depends(get_read_models)]
ViewsDep = Annotated[Views, Depends(get_views)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def wait_for_position(
    read_models: ReadModels, name: str, position: int | None, timeout_s: float
) -> None:
    """Hold a read until projection `name` has processed `position` (read your own
    writes); 503 with Retry-After if it has not within `timeout_s`."""
    if position is None or read_models.wait_for(name, position, timeout_s):
        return
    raise Problem(
        503,
        "read-model-behind",
        "The read model has not caught up",
        f"{name} has not yet processed position {position}; retry shortly",
        headers={"Retry-After": "1"},
    )
