"""The episode read's `version` and `as_of` parameters, shared by every
representation of an episode (JSON, FHIR): one meaning, one error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Query

from api.errors import Problem
from api.schemas.common import MAX_INT64, Instant
from domain.application import CareEpisodes
from domain.reading import EpisodeReading

Version = Annotated[
    int | None,
    Query(ge=1, le=MAX_INT64, description="the episode as it stood at this version"),
]
AsOf = Annotated[
    Instant | None,
    Query(description="the episode as the store held it at this recorded instant"),
]


def episode_loader(
    episodes: CareEpisodes,
    episode_id: UUID,
    version: int | None,
    as_of: datetime | None,
) -> Callable[[], EpisodeReading]:
    """What reads the episode now, at `version` or as of `as_of` (422 for both)."""
    if version is not None and as_of is not None:
        raise Problem(
            422,
            "invalid-request",
            "The request is invalid",
            "give version or as_of, not both",
            errors=[{"field": "as_of", "in": "query", "message": "not with version"}],
        )

    def load() -> EpisodeReading:
        if as_of is not None:
            return episodes.get_episode_as_of(episode_id, as_of)
        return episodes.get_episode(episode_id, version=version)

    return load
