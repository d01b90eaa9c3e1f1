"""The physician feed's query: one physician's items after a sequence number."""

from __future__ import annotations

from infra.projection import ReadModels
from projections.physician_feed import FeedPage, PhysicianFeedProjection

NAME = PhysicianFeedProjection.name


class SqlPhysicianFeedView:
    """The physician feed answered from its serving tables (SQLite and PostgreSQL)."""

    def __init__(self, read_models: ReadModels) -> None:
        self.read_models = read_models

    def page(self, physician_id: str, after: int | None, limit: int) -> FeedPage:
        """Up to `limit` of the physician's items with seq above `after`, by seq."""
        # The position first, the items after it: every item of an event up to
        # that position is then in this page or before it. (`query` retries once
        # if a rebuild's switch dropped the tables between the two.)
        position = self.position()
        rows = self.read_models.query(
            NAME,
            # The table's key (physician_id, seq) is the index this walks.
            "SELECT * FROM {items} WHERE physician_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            [physician_id, after or 0, limit + 1],
        )
        return FeedPage(rows[:limit], len(rows) > limit, position)

    def position(self) -> int:
        """The global position the serving feed tables have processed."""
        with self.read_models.cursor(NAME) as cur:
            return cur.position
