"""Response bodies of the referring-physician feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.paging import encode_cursor

CURSOR = "feed"
"""The kind of the feed's cursors: an item's number in its physician's feed."""


class FeedItemPublic(BaseModel):
    """One change to one of the physician's patients, summarised in a line."""

    cursor: str = Field(
        description="where this item stands in the physician's feed: pass it as "
        "`after` (or Last-Event-ID) to read what follows it"
    )
    episode_id: UUID
    patient_id: str
    version: int = Field(description="the episode version the event made")
    type: str = Field(description="the event type, e.g. OutcomeRecorded")
    occurred_at: datetime = Field(description="when it happened in the clinic")
    recorded_at: datetime = Field(description="when the store recorded it")
    summary: str = Field(description="one line a physician reads at a glance")
    data: dict[str, Any] = Field(description="the event's clinical fields")

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> FeedItemPublic:
        """A stored item as the API shows it, its number hidden behind a cursor."""
        return cls(
            cursor=encode_cursor(CURSOR, row["seq"]),
            episode_id=UUID(row["episode_id"]),
            patient_id=row["patient_id"],
            version=row["version"],
            type=row["type"],
            occurred_at=row["occurred_at"],
            recorded_at=row["recorded_at"],
            summary=row["summary"],
            data=row["data"],
        )


class FeedPagePublic(BaseModel):
    """A page of a physician's feed, oldest first."""

    items: list[FeedItemPublic]
    next_cursor: str | None = Field(
        description="the next page's `after`; null on the last page (resume later "
        "from the last item's cursor)"
    )
