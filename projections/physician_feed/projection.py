"""The referring-physician feed (DESIGN §5): every change to a physician's patients.

Two kinds of key. An episode's state is its clinical facts
(projections.clinical.facts) plus its referrers, each with the version at which
they joined. For every event the episode handler builds one item (type, times,
a one-line summary from `summaries`, the event's data as JSON) and sends it to
each physician who has referred the episode so far: the opening referrer from
the first event, a later referrer from their own referral on.

A physician's key ("physician:<id>") holds a counter. `receive` numbers the
items it is sent 1, 2, 3 ... in global order and puts each as the row
(physician_id, seq). The physician pages and streams by `seq`, so they never
learn global positions, and keyset paging by seq is stable while writes go on:
a new item always gets a higher seq than every item already there. Replaying
the same events gives the same numbers, so a rebuild gives identical rows and
cursors stay valid across it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from domain import events as ev
from projections import erasure
from projections.base import (
    Column,
    Handled,
    Message,
    Projection,
    Put,
    State,
    Table,
)
from projections.clinical.facts import recorded, starting
from projections.physician_feed.parameters import FEED_V1, FeedParameters
from projections.physician_feed.summaries import summarize

PHYSICIAN_KEY = "physician:"

ITEMS = Table(
    name="items",
    columns=(
        Column("physician_id", "text", nullable=False),
        Column("seq", "integer", nullable=False),
        Column("episode_id", "text", nullable=False),
        Column("patient_id", "text", nullable=False),
        Column("version", "integer", nullable=False),
        Column("type", "text", nullable=False),
        Column("occurred_at", "timestamp", nullable=False),
        Column("recorded_at", "timestamp", nullable=False),
        Column("summary", "text", nullable=False),
        Column("data", "json", nullable=False),
    ),
    # The key is the index a page reads: WHERE physician_id = ? AND seq > ?.
    key=("physician_id", "seq"),
)


class PhysicianFeedProjection(Projection):
    """One item per event of an episode for each physician who referred it."""

    name = "physician_feed"
    # Bump when items, summaries or parameters change (a deployment changing its
    # block profile too): the engine rebuilds the feed beside the serving one.
    version = 1
    tables = (ITEMS,)
    handles = ev.EVENT_TYPES

    def __init__(self, parameters: FeedParameters = FEED_V1) -> None:
        self.parameters = parameters

    def handle(
        self, state: State | None, event: ev.EpisodeEvent, position: int
    ) -> Handled:
        """The episode's facts after `event`, and its item sent to each referrer."""
        if isinstance(event, ev.EpisodeErased):
            return erasure.erased(self.tables, event)
        start = starting(state, event, {"referrers": []})
        if start is None:
            return Handled(state)  # already applied: a redelivery changes nothing
        before = state
        after = recorded(start, event, position)
        if isinstance(event, ev.ReferralReceived):
            after = _joined(after, event)
        summary = summarize(event, before, after, self.parameters)
        item = feed_item(event, after["patient_id"], summary)
        messages = [
            Message(f"{PHYSICIAN_KEY}{referrer['id']}", item)
            for referrer in after["referrers"]
            if referrer["since"] <= event.originator_version
        ]
        return Handled(after, (), messages)

    def receive(
        self, key: str, state: State | None, message: Message, position: int
    ) -> Handled:
        """The physician's next item, numbered after the ones they already have."""
        seq = (state or {"items": 0})["items"] + 1
        row = {
            **message.data,
            "physician_id": key.removeprefix(PHYSICIAN_KEY),
            "seq": seq,
        }
        return Handled({"items": seq}, [Put(ITEMS.name, row)])


def _joined(state: State, event: ev.ReferralReceived) -> State:
    """The referrers after a referral: a new referrer joins at its version."""
    if any(r["id"] == event.referrer.id for r in state["referrers"]):
        return state
    joined = {"id": event.referrer.id, "since": event.originator_version}
    return {**state, "referrers": [*state["referrers"], joined]}


def feed_item(event: ev.EpisodeEvent, patient_id: str, summary: str) -> dict[str, Any]:
    """An item's columns but its owner and number: what happened, when, in brief."""
    return {
        "episode_id": str(event.originator_id),
        "patient_id": patient_id,
        "version": event.originator_version,
        "type": type(event).__name__,
        "occurred_at": event.occurred_at.astimezone(UTC),
        "recorded_at": event.timestamp.astimezone(UTC),
        "summary": summary,
        "data": json_ready(event.data),
    }


def json_ready(value: Any) -> Any:
    """Event data as plain JSON: enums by value, decimals as numbers, dates ISO."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: json_ready(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value
