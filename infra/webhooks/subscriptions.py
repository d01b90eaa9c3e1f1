"""Webhook subscriptions to a physician's feed, and each one's delivery state.

Delivery state belongs to the subscription, not to any generation of the feed: the
cursor is the last item the endpoint acknowledged, named by its sequence number in
the physician's feed *and* by the event it came from (episode, version, global
position), so a rebuilt feed is re-anchored on the same event and sends nothing
twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from infra.database import Database

TABLE = "feed_subscriptions"

_TYPES = {
    "sqlite": {"text": "TEXT", "int": "INTEGER", "time": "TEXT"},
    "postgres": {"text": "text", "int": "bigint", "time": "timestamptz"},
}


def create_statements(backend: str) -> list[str]:
    """The subscriptions table on `backend` ("sqlite" or "postgres")."""
    t = _TYPES[backend]
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        f"id {t['text']} PRIMARY KEY, physician_id {t['text']} NOT NULL, "
        f"endpoint {t['text']} NOT NULL, secret {t['text']} NOT NULL, "
        f"types {t['text']} NOT NULL, status {t['text']} NOT NULL, "
        f"created_by {t['text']} NOT NULL, created_role {t['text']} NOT NULL, "
        f"created_at {t['time']} NOT NULL, cursor_seq {t['int']} NOT NULL, "
        f"cursor_generation {t['int']} NOT NULL, cursor_episode {t['text']}, "
        f"cursor_version {t['int']}, cursor_position {t['int']} NOT NULL, "
        f"delivered {t['int']} NOT NULL, failures {t['int']} NOT NULL, "
        f"next_attempt_at {t['time']} NOT NULL, last_delivered_at {t['time']}, "
        f"last_error {t['text']}, paused_at {t['time']})",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_physician ON {TABLE} "
        "(physician_id, created_at)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (status, next_attempt_at)",
    ]


@dataclass(frozen=True)
class Cursor:
    """The last item a subscription's endpoint acknowledged (seq 0: none yet)."""

    seq: int
    generation: int
    episode_id: str | None = None
    version: int | None = None
    position: int = 0


@dataclass(frozen=True)
class Subscription:
    """A push subscription to one physician's feed and where its delivery stands."""

    id: UUID
    physician_id: str
    endpoint: str
    secret: str
    types: tuple[str, ...]
    """Item types wanted (the event types of the feed); empty: every item."""
    status: str
    created_by: str
    created_role: str
    created_at: datetime
    cursor: Cursor
    delivered: int = 0
    failures: int = 0
    next_attempt_at: datetime | None = None
    last_delivered_at: datetime | None = None
    last_error: str | None = None
    paused_at: datetime | None = None


class Subscriptions:
    """The subscriptions table."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.param = db.dialect.param

    def create_tables(self) -> None:
        """Create the table if missing."""
        with self.db.writing() as cur:
            for statement in create_statements(self.db.dialect.name):
                cur.execute(statement)

    def add(self, sub: Subscription) -> None:
        """Store a new subscription, active, starting after its cursor."""
        c = sub.cursor
        with self.db.writing() as cur:
            cur.execute(
                f"INSERT INTO {TABLE} (id, physician_id, endpoint, secret, types, status, "
                "created_by, created_role, created_at, cursor_seq, cursor_generation, "
                "cursor_episode, cursor_version, cursor_position, delivered, failures, "
                "next_attempt_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, "
                "?, 0, 0, ?)",
                [
                    str(sub.id),
                    sub.physician_id,
                    sub.endpoint,
                    sub.secret,
                    json.dumps(list(sub.types)),
                    sub.created_by,
                    sub.created_role,
                    self.param(sub.created_at),
                    c.seq,
                    c.generation,
                    c.episode_id,
                    c.version,
                    c.position,
                    self.param(sub.created_at),
                ],
            )

    def get(self, subscription_id: UUID) -> Subscription | None:
        """One subscription."""
        rows = self._select("WHERE id = ?", [str(subscription_id)])
        return rows[0] if rows else None

    def of_physician(self, physician_id: str) -> list[Subscription]:
        """A physician's subscriptions, oldest first."""
        return self._select(
            "WHERE physician_id = ? ORDER BY created_at, id", [physician_id]
        )

    def due(self, now: datetime, limit: int = 100) -> list[Subscription]:
        """Active subscriptions whose next attempt is due, longest waiting first."""
        return self._select(
            "WHERE status = 'active' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at LIMIT ?",
            [self.param(now), limit],
        )

    def delivered(self, sub_id: UUID, cursor: Cursor, now: datetime) -> None:
        """An item was acknowledged: move the cursor past it, clear the failures."""
        with self.db.writing() as cur:
            cur.execute(
                f"UPDATE {TABLE} SET cursor_seq = ?, cursor_generation = ?, "
                "cursor_episode = ?, cursor_version = ?, cursor_position = ?, "
                "delivered = delivered + 1, failures = 0, last_error = NULL, "
                "last_delivered_at = ?, next_attempt_at = ? WHERE id = ?",
                [
                    cursor.seq,
                    cursor.generation,
                    cursor.episode_id,
                    cursor.version,
                    cursor.position,
                    self.param(now),
                    self.param(now),
                    str(sub_id),
                ],
            )

    def reanchored(self, sub_id: UUID, cursor: Cursor) -> None:
        """The same acknowledged item, named in a new generation of the feed."""
        with self.db.writing() as cur:
            cur.execute(
                f"UPDATE {TABLE} SET cursor_seq = ?, cursor_generation = ? WHERE id = ?",
                [cursor.seq, cursor.generation, str(sub_id)],
            )

    def failed(
        self, sub_id: UUID, error: str, next_at: datetime, *, pause: bool, now: datetime
    ) -> None:
        """An attempt failed: count it, retry at `next_at`, or pause."""
        with self.db.writing() as cur:
            cur.execute(
                f"UPDATE {TABLE} SET failures = failures + 1, last_error = ?, "
                "next_attempt_at = ?, status = ?, paused_at = ? WHERE id = ?",
                [
                    error[:500],
                    self.param(next_at),
                    "paused" if pause else "active",
                    self.param(now) if pause else None,
                    str(sub_id),
                ],
            )

    def resume(self, sub_id: UUID, now: datetime) -> bool:
        """Make a paused subscription active again, from its cursor, at once."""
        with self.db.writing() as cur:
            return bool(
                cur.execute(
                    f"UPDATE {TABLE} SET status = 'active', failures = 0, "
                    "next_attempt_at = ?, paused_at = NULL WHERE id = ?",
                    [self.param(now), str(sub_id)],
                ).rowcount
            )

    def remove(self, sub_id: UUID) -> bool:
        """Delete a subscription; whether there was one."""
        with self.db.writing() as cur:
            return bool(
                cur.execute(f"DELETE FROM {TABLE} WHERE id = ?", [str(sub_id)]).rowcount
            )

    def _select(self, clause: str, params: Sequence[Any]) -> list[Subscription]:
        with self.db.reading() as cur:
            rows = cur.execute(f"SELECT * FROM {TABLE} {clause}", params).fetchall()
        return [self._subscription(row) for row in rows]

    def _subscription(self, row: Any) -> Subscription:
        time = self.db.dialect.from_db
        return Subscription(
            id=UUID(str(row["id"])),
            physician_id=row["physician_id"],
            endpoint=row["endpoint"],
            secret=row["secret"],
            types=tuple(json.loads(row["types"])),
            status=row["status"],
            created_by=row["created_by"],
            created_role=row["created_role"],
            created_at=time("timestamp", row["created_at"]),
            cursor=Cursor(
                int(row["cursor_seq"]),
                int(row["cursor_generation"]),
                row["cursor_episode"],
                row["cursor_version"],
                int(row["cursor_position"]),
            ),
            delivered=int(row["delivered"]),
            failures=int(row["failures"]),
            next_attempt_at=time("timestamp", row["next_attempt_at"]),
            last_delivered_at=time("timestamp", row["last_delivered_at"]),
            last_error=row["last_error"],
            paused_at=time("timestamp", row["paused_at"]),
        )
