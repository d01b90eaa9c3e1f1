"""A projection's handlers run over one batch of decoded events, in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Transcoder

from domain.events import EpisodeEvent
from infra.projection.registry import Failure
from infra.projection.tables import GenerationTables, Op
from projections.base import Projection, State, handled_topics


@dataclass(frozen=True)
class BatchEvent:
    """One event of the batch; `event` is None when no projection reads its type."""

    position: int
    episode_id: str
    topic: str
    event: EpisodeEvent | None


@dataclass
class Outcome:
    """What a batch does to one generation: its new position, states and changes."""

    position: int
    states: dict[str, bytes | None] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    failure: Failure | None = None
    failed_episode: str | None = None
    error: BaseException | None = None


class HandlerFailed(Exception):
    """A handler raised, or returned a change its tables cannot take."""

    def __init__(self, item: BatchEvent, error: BaseException) -> None:
        super().__init__(str(error))
        self.item = item
        self.error = error


def run_batch(
    projection: Projection,
    tables: GenerationTables,
    events: Sequence[BatchEvent],
    start: int,
    stored: Mapping[str, bytes],
    transcoder: Transcoder,
) -> Outcome:
    """The outcome of the events after `start`; a failing event stops it just before."""
    try:
        return _fold(projection, tables, events, start, stored, transcoder, stop=None)
    except HandlerFailed as failed:
        # Handlers are pure: replaying the events before the failing one from
        # the stored states gives exactly what they gave the first time, without
        # anything the failing handler may have done to a state in place.
        item = failed.item
        outcome = _fold(
            projection, tables, events, start, stored, transcoder, stop=item.position
        )
        outcome.failure = Failure(
            item.position, f"{type(failed.error).__name__}: {failed.error}"
        )
        outcome.failed_episode = item.episode_id
        outcome.error = failed.error
        return outcome


def _fold(
    projection: Projection,
    tables: GenerationTables,
    events: Sequence[BatchEvent],
    start: int,
    stored: Mapping[str, bytes],
    transcoder: Transcoder,
    *,
    stop: int | None,
) -> Outcome:
    outcome = Outcome(position=start)
    topics = handled_topics(projection)
    states: dict[str, State | None] = {}
    for item in events:
        if item.position <= start:
            continue
        if stop is not None and item.position >= stop:
            break
        if item.topic in topics and item.event is not None:
            if item.episode_id in states:
                before = states[item.episode_id]
            else:
                before = _decode(transcoder, stored.get(item.episode_id))
            try:
                handled = projection.handle(before, item.event, item.position)
                ops = [tables.prepare(change) for change in handled.changes]
            except Exception as error:
                raise HandlerFailed(item, error) from error
            states[item.episode_id] = handled.state
            outcome.ops.extend(ops)
        outcome.position = item.position
    outcome.states = {
        episode: None if state is None else transcoder.encode(state)
        for episode, state in states.items()
    }
    return outcome


def _decode(transcoder: Transcoder, data: bytes | None) -> Any:
    return None if data is None else transcoder.decode(data)
