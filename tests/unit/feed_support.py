"""What the physician-feed unit tests share: a physician's items, projected in memory."""

from __future__ import annotations

from typing import Any

from domain import commands as cmd
from projections.physician_feed import (
    ITEMS,
    FeedParameters,
    PhysicianFeedProjection,
    feed_parameters,
)
from tests.support import builders as b
from tests.support.fold import project
from tests.support.http import PHYSICIAN_ID

SURGEON = {"id": "dr-ss-1", "name": "Dr Surgeon", "role": "spine_surgery"}


def items(
    *episodes: Any,
    physician: str = PHYSICIAN_ID,
    parameters: FeedParameters | None = None,
) -> list[dict[str, Any]]:
    """The physician's item rows after these in-memory episodes, by seq."""
    projection = PhysicianFeedProjection(parameters or feed_parameters())
    rows = project(projection, *episodes)[ITEMS.name]
    return [rows[key] for key in sorted(rows) if key[0] == physician]


def summaries(*episodes: Any, **options: Any) -> list[str]:
    """The physician's item summaries, in feed order."""
    return [row["summary"] for row in items(*episodes, **options)]


def last_summary(episode: Any, **options: Any) -> str:
    """The summary of the episode's latest event in the physician's feed."""
    return summaries(episode, **options)[-1]


def after(
    episode: Any,
    command_type: type[cmd.EpisodeCommand],
    body: dict[str, Any],
    days: float,
    hours: float = 0,
    **options: Any,
) -> str:
    """Record one more event on the episode and return its summary."""
    b.record(episode, command_type, body, days, hours)
    return last_summary(episode, **options)
