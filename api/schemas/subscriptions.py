"""Requests and responses of webhook subscriptions to a physician's feed."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints, field_validator

from api.schemas.common import Strict
from infra.webhooks.message import check_secret, feed_cursor
from infra.webhooks.subscriptions import Subscription
from projections.physician_feed import PhysicianFeedProjection

# The feed has one item type per event type it reads.
FeedItemType = Enum(  # type: ignore[misc]
    "FeedItemType", {c.__name__: c.__name__ for c in PhysicianFeedProjection.handles}
)


class SubscriptionCreate(Strict):
    """Push this physician's feed items to an endpoint, signed with a secret."""

    endpoint: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)
    ] = Field(
        description="an https URL that receives each item as a signed POST (plain "
        "http only to loopback, with CARE_WEBHOOK_ALLOW_LOOPBACK_HTTP)",
        examples=["https://ehr.example.org/hooks/care-feed"],
    )
    secret: Annotated[str, StringConstraints(max_length=200)] = Field(
        description="the Standard Webhooks signing secret: whsec_ and the base64 of "
        "24 to 64 random bytes; never shown again",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    types: list[FeedItemType] = Field(
        default_factory=list,
        max_length=64,
        description="the item types wanted (event types, e.g. OutcomeRecorded); "
        "empty or absent: every item",
    )
    after: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None,
        description="start after this feed cursor (from GET …/feed); absent: with "
        "the next item the feed gets",
    )

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        problem = check_secret(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class SubscriptionPublic(BaseModel):
    """A subscription and where its delivery stands (its secret is never shown)."""

    subscription_id: UUID
    physician_id: str
    endpoint: str
    types: list[str] = Field(description="item types delivered; empty: every item")
    status: str = Field(description="active, or paused after repeated failures")
    cursor: str | None = Field(
        description="the feed cursor of the last item the endpoint acknowledged "
        "(null: none yet); delivery resumes after it"
    )
    delivered: int = Field(description="items acknowledged so far")
    failures: int = Field(description="failed attempts in a row (0 after a success)")
    next_attempt_at: datetime | None = Field(
        description="when the sender tries next (backing off after failures)"
    )
    last_delivered_at: datetime | None
    last_error: str | None = Field(description="why the last attempt failed")
    paused_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionPublic:
        return cls(
            subscription_id=sub.id,
            physician_id=sub.physician_id,
            endpoint=sub.endpoint,
            types=list(sub.types),
            status=sub.status,
            cursor=feed_cursor(sub.cursor.seq) if sub.cursor.seq else None,
            delivered=sub.delivered,
            failures=sub.failures,
            next_attempt_at=sub.next_attempt_at if sub.status == "active" else None,
            last_delivered_at=sub.last_delivered_at,
            last_error=sub.last_error,
            paused_at=sub.paused_at,
            created_at=sub.created_at,
        )


class SubscriptionsPublic(BaseModel):
    """A physician's subscriptions, oldest first."""

    items: list[SubscriptionPublic]
