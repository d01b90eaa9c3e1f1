"""The physician feed's items as the webhook sender's outbox.

The feed projection writes each item in its batch, numbered per physician in the
global order (projections.physician_feed): that table is the outbox. What has been
sent is the subscription's cursor, outside every generation of the feed. When the
serving generation changes (a rebuild), the cursor is re-anchored on the event it
last delivered: the same item's number in the new tables (a rebuild of the same
version numbers items identically), or, if a new version has no such item, the
last item whose event is at or before the one delivered. Either way nothing
already delivered is sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.records import EpisodeRecords
from infra.projection import ReadModels, ViewCursor
from infra.webhooks.subscriptions import Cursor, Subscription
from projections.physician_feed import PhysicianFeedProjection

FEED = PhysicianFeedProjection.name


@dataclass(frozen=True)
class Pending:
    """The items a subscription has not yet had, and its cursor in today's tables."""

    cursor: Cursor
    items: list[dict[str, Any]]


class FeedOutbox:
    """Reads a physician's feed items after a subscription's cursor."""

    def __init__(self, read_models: ReadModels, records: EpisodeRecords) -> None:
        self.read_models = read_models
        self.records = records

    def end(self, physician_id: str) -> Cursor:
        """A cursor after the physician's newest item (a subscription "from now")."""
        with self.read_models.cursor(FEED) as cur:
            row = cur.execute(
                "SELECT * FROM {items} WHERE physician_id = ? ORDER BY seq DESC LIMIT 1",
                [physician_id],
            ).fetchone()
            return self._cursor(cur, row)

    def at(self, physician_id: str, seq: int) -> Cursor:
        """A cursor after item `seq` of the physician's feed (0: before the first)."""
        with self.read_models.cursor(FEED) as cur:
            row = self._item(cur, physician_id, seq) if seq else None
            found = self._cursor(cur, row)
        return found if row is not None or not seq else Cursor(seq, found.generation)

    def pending(self, sub: Subscription, limit: int) -> Pending:
        """Up to `limit` wanted items after the cursor, oldest first."""
        with self.read_models.cursor(FEED) as cur:
            cursor = self._reanchored(cur, sub)
            sql = "SELECT * FROM {items} WHERE physician_id = ? AND seq > ?"
            params: list[Any] = [sub.physician_id, cursor.seq]
            if sub.types:
                sql += f" AND type IN ({', '.join('?' * len(sub.types))})"
                params.extend(sub.types)
            rows = cur.execute(sql + " ORDER BY seq LIMIT ?", [*params, limit])
            return Pending(cursor, rows.fetchall())

    def cursor_of(self, item: dict[str, Any], generation: int) -> Cursor:
        """The cursor after `item` once its endpoint has acknowledged it."""
        position = self.records.select_position(
            UUID(item["episode_id"]), item["version"]
        )
        return Cursor(
            item["seq"], generation, item["episode_id"], item["version"], position or 0
        )

    def _cursor(self, cur: ViewCursor, row: dict[str, Any] | None) -> Cursor:
        generation = cur.generation.generation
        if row is None:
            return Cursor(0, generation)
        return self.cursor_of(row, generation)

    def _reanchored(self, cur: ViewCursor, sub: Subscription) -> Cursor:
        cursor, generation = sub.cursor, cur.generation.generation
        if cursor.generation == generation or cursor.seq == 0 or not cursor.episode_id:
            return Cursor(
                cursor.seq,
                generation,
                cursor.episode_id,
                cursor.version,
                cursor.position,
            )
        row = cur.execute(
            "SELECT seq FROM {items} WHERE physician_id = ? AND episode_id = ? "
            "AND version = ?",
            [sub.physician_id, cursor.episode_id, cursor.version],
        ).fetchone()
        seq = row["seq"] if row else self._last_at_or_before(cur, sub, cursor.position)
        return Cursor(
            seq, generation, cursor.episode_id, cursor.version, cursor.position
        )

    def _last_at_or_before(
        self, cur: ViewCursor, sub: Subscription, position: int
    ) -> int:
        """The last item whose event is at or before global `position`: items are
        numbered 1, 2, 3 ... in global order, so a binary search finds it."""
        row = cur.execute(
            "SELECT MAX(seq) AS top FROM {items} WHERE physician_id = ?",
            [sub.physician_id],
        ).fetchone()
        low, high = 0, int(row["top"] or 0) if row else 0
        while low < high:
            middle = (low + high + 1) // 2
            item = self._item(cur, sub.physician_id, middle)
            at = self._position(item) if item else None
            if at is not None and at <= position:
                low = middle
            else:
                high = middle - 1
        return low

    def _position(self, item: dict[str, Any]) -> int | None:
        return self.records.select_position(UUID(item["episode_id"]), item["version"])

    @staticmethod
    def _item(cur: ViewCursor, physician_id: str, seq: int) -> dict[str, Any] | None:
        return cur.execute(
            "SELECT * FROM {items} WHERE physician_id = ? AND seq = ?",
            [physician_id, seq],
        ).fetchone()


def wanted(types: Sequence[str], item_type: str) -> bool:
    """Whether a subscription that wants `types` (none: all) wants this item."""
    return not types or item_type in types
