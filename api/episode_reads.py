"""The episode read's `version` and `as_of` parameters, shared by every
representation of an episode (JSON, FHIR): one meaning, one error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Query

from api.access import Disclosure
from api.conditional import Conditional
from api.errors import Problem
from api.schemas.common import MAX_INT64, Instant
from domain.application import CareEpisodes
from domain.reading import EpisodeReading
from infra.erasure import was_erased

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


@dataclass(frozen=True)
class _Current:
    """The caller's copy of the version shown is current: no reading was made."""

    version: int


def episode_for_caller(
    access: Disclosure,
    conditional: Conditional,
    episodes: CareEpisodes,
    episode_id: UUID,
    version: int | None,
    as_of: datetime | None,
) -> EpisodeReading:
    """The episode now, at `version` or as of `as_of`, scoped and logged, its
    version as the ETag; 304 if the caller's If-None-Match names it.

    A caller revalidating its copy of the head, or of a past version (If-None-Match,
    no `as_of`), is answered from the newest version and the newest event's type
    (two indexed reads), without folding the episode: a 304 costs the same at 10
    events as at 10 000. A past version never changes (an amendment is a later
    event), so its copy is current while the episode reaches it. An erased
    episode still answers 410, whatever it names.
    """
    load: Callable[[], EpisodeReading | _Current] = episode_loader(
        episodes, episode_id, version, as_of
    )
    if as_of is None and conditional.if_none_match is not None:
        fold = load

        def load() -> EpisodeReading | _Current:
            head = episodes.head_version(episode_id)
            shown = head if version is None else version
            if (
                shown <= head
                and conditional.holds(shown)
                and not was_erased(episodes, episode_id, head)
            ):
                return _Current(shown)
            return fold()

    found = access.episode(episode_id, load)
    if isinstance(found, _Current):
        conditional.unchanged(found.version)
    conditional.version(found.version)
    return found
