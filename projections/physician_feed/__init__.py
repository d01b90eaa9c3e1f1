"""The referring-physician feed: every change to a physician's patients, in order.

`projection` keeps each episode's clinical facts and referrers and numbers each
physician's items; `summaries` (with `doors` and `wording`) writes the one-line
summary of each event; `parameters` holds the thresholds those summaries judge
by; `view` is the questions the read model answers (implemented in SQL by
infra.views.physician_feed).
"""

from projections.physician_feed.doors import Door, doors_opened
from projections.physician_feed.parameters import (
    FEED_V1,
    FeedParameters,
    feed_parameters,
)
from projections.physician_feed.projection import (
    ITEMS,
    PHYSICIAN_KEY,
    PhysicianFeedProjection,
    feed_item,
    json_ready,
)
from projections.physician_feed.summaries import SUMMARIES, summarize
from projections.physician_feed.view import FeedPage, PhysicianFeedView

__all__ = [
    "FEED_V1",
    "ITEMS",
    "PHYSICIAN_KEY",
    "SUMMARIES",
    "Door",
    "FeedPage",
    "FeedParameters",
    "PhysicianFeedProjection",
    "PhysicianFeedView",
    "doors_opened",
    "feed_item",
    "feed_parameters",
    "json_ready",
    "summarize",
]
