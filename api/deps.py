"""Typed dependencies the routes declare: the application and its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import Problem
from domain.application import CareEpisodes
from infra.access_log import AccessLog
from infra.projection import ReadModels
from infra.settings import Settings


def get_episodes(request: Request) -> CareEpisodes:
    """The process's CareEpisodes application (opened by the app's lifespan)."""
    return request.app.state.services.episodes


def get_access_log(request: Request) -> AccessLog:
    return request.app.state.services.access_log


EpisodesDep = Annotated[CareEpisodes, Depends(get_episodes)]
AccessLogDep = Annotated[AccessLog, Depends(get_access_log)]


def get_read_models(request: Request) -> ReadModels:
    return request.app.state.services.read_models


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


ReadModelsDep = Annotated[ReadModels, Depends(get_read_models)]
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
