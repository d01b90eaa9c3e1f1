"""What the physician feed answers readers (implemented in infra.views)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class FeedPage:
    """Items of one physician after a sequence number, in order."""

    items: list[dict[str, Any]]
    """Rows of the items table (physician_id, seq, episode_id, ... data)."""
    more: bool
    """Whether items follow the last one of this page."""
    position: int
    """The global position the feed had processed when the page was read: every
    item of an event at or before it is in the page or before it."""


class PhysicianFeedView(Protocol):
    """The questions the physician feed answers."""

    def page(self, physician_id: str, after: int | None, limit: int) -> FeedPage:
        """Up to `limit` of the physician's items with seq above `after`, by seq."""
        ...

    def position(self) -> int:
        """The global position the serving feed tables have processed."""
        ...
