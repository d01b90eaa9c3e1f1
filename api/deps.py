"""Typed dependencies the routes declare: the application and its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from domain.application import CareEpisodes
from infra.access_log import AccessLog


def get_episodes(request: Request) -> CareEpisodes:
    """The process's CareEpisodes application (built by the app's lifespan)."""
    return request.app.state.episodes


def get_access_log(request: Request) -> AccessLog:
    return request.app.state.access_log


EpisodesDep = Annotated[CareEpisodes, Depends(get_episodes)]
AccessLogDep = Annotated[AccessLog, Depends(get_access_log)]
