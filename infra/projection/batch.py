"""A projection's handlers run over one batch of decoded events, in memory.

Three stages, all pure: each event through `handle` (keyed by its episode), then
`settle` once per key the events touched, then the messages they sent through
`receive` (keyed as the sender chose) and `settle` for those keys. States the
messages need are loaded between the stages; nothing else does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.events import EpisodeEvent
from infra.projection.registry import Failure
from infra.projection.states import StateCodec
from infra.projection.tables import GenerationTables, Op
from projections.base import Change, Handled, Message, Projection, State, handled_topics

Loader = Callable[[Sequence[str]], Mapping[str, bytes]]
"""Stored states of some keys (absent keys left out)."""


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


class SettleFailed(Exception):
    """`settle` raised for a key some events of the batch touched."""


def run_batch(
    projection: Projection,
    tables: GenerationTables,
    events: Sequence[BatchEvent],
    start: int,
    load: Loader,
    codec: StateCodec,
) -> Outcome:
    """The outcome of the events after `start`; a failing event stops it just before."""
    fold = _Fold(projection, tables, start, load, codec)
    try:
        try:
            return fold.run(events, stop=None, careful=False)
        except SettleFailed:
            # Settling once per key cannot tell which event broke it: settle after
            # every event instead, which names it (or succeeds).
            return fold.run(events, stop=None, careful=True)
    except HandlerFailed as failed:
        # Handlers are pure: replaying the events before the failing one from
        # the stored states gives exactly what they gave the first time, without
        # anything the failing handler may have done to a state in place.
        item = failed.item
        outcome = fold.run(events, stop=item.position, careful=False)
        outcome.failure = Failure(
            item.position, f"{type(failed.error).__name__}: {failed.error}"
        )
        outcome.failed_episode = item.episode_id
        outcome.error = failed.error
        return outcome


class _Fold:
    def __init__(
        self,
        projection: Projection,
        tables: GenerationTables,
        start: int,
        load: Loader,
        codec: StateCodec,
    ) -> None:
        self.projection = projection
        self.tables = tables
        self.start = start
        self.load = load
        self.codec = codec
        self.topics = handled_topics(projection)
        self._loaded: dict[str, bytes] = {}

    def run(
        self, events: Sequence[BatchEvent], *, stop: int | None, careful: bool
    ) -> Outcome:
        outcome = Outcome(position=self.start)
        states: dict[str, State | None] = {}
        touched: dict[str, BatchEvent] = {}
        inbox: list[tuple[BatchEvent, Message]] = []
        mine = [e for e in events if e.position > self.start]
        if stop is not None:
            mine = [e for e in mine if e.position < stop]
        self._prefetch({e.episode_id for e in mine if self._reads(e)})
        for item in mine:
            outcome.position = item.position
            if not self._reads(item):
                continue
            assert item.event is not None
            key = item.episode_id
            handled = self._call(
                item, self.projection.handle, self._state(states, key), item.event,
                item.position,
            )  # fmt: skip
            self._take(outcome, states, key, handled, item, inbox)
            touched.setdefault(key, item)
            if careful and self.projection.settles:
                self._settle(outcome, states, key, item, inbox, careful=True)
        if not careful:
            for key, item in touched.items():
                self._settle(outcome, states, key, item, inbox, careful=False)
        if inbox:
            self._prefetch({m.key for _, m in inbox} - set(states))
            received: dict[str, BatchEvent] = {}
            for item, message in inbox:
                handled = self._call(
                    item, self.projection.receive, message.key,
                    self._state(states, message.key), message, item.position,
                )  # fmt: skip
                self._take(outcome, states, message.key, handled, item, None)
                received.setdefault(message.key, item)
            for key, item in received.items():
                self._settle(outcome, states, key, item, None, careful=True)
        outcome.states = {
            key: None if state is None else self.codec.encode(state)
            for key, state in states.items()
        }
        return outcome

    def _reads(self, item: BatchEvent) -> bool:
        return item.topic in self.topics and item.event is not None

    def _prefetch(self, keys: set[str]) -> None:
        missing = sorted(keys - set(self._loaded))
        if missing:
            self._loaded.update(self.load(missing))

    def _state(self, states: dict[str, State | None], key: str) -> State | None:
        if key in states:
            return states[key]
        data = self._loaded.get(key)
        return None if data is None else self.codec.decode(data)

    def _settle(
        self,
        outcome: Outcome,
        states: dict[str, State | None],
        key: str,
        item: BatchEvent,
        inbox: list[tuple[BatchEvent, Message]] | None,
        *,
        careful: bool,
    ) -> None:
        if not self.projection.settles:
            return
        try:
            handled = self.projection.settle(key, states[key])
            ops = [self.tables.prepare(change) for change in handled.changes]
        except Exception as error:
            if careful:
                raise HandlerFailed(item, error) from error
            raise SettleFailed(key) from error
        self._keep(outcome, states, key, handled, ops, item, inbox)

    def _call(
        self, item: BatchEvent, handler: Callable[..., Handled], *args: Any
    ) -> Any:
        try:
            handled = handler(*args)
            ops = [self.tables.prepare(change) for change in handled.changes]
        except Exception as error:
            raise HandlerFailed(item, error) from error
        return handled, ops

    def _take(
        self,
        outcome: Outcome,
        states: dict[str, State | None],
        key: str,
        result: tuple[Handled, list[Op]],
        item: BatchEvent,
        inbox: list[tuple[BatchEvent, Message]] | None,
    ) -> None:
        handled, ops = result
        self._keep(outcome, states, key, handled, ops, item, inbox)

    @staticmethod
    def _keep(
        outcome: Outcome,
        states: dict[str, State | None],
        key: str,
        handled: Handled,
        ops: list[Op],
        item: BatchEvent,
        inbox: list[tuple[BatchEvent, Message]] | None,
    ) -> None:
        if handled.messages:
            if inbox is None:
                error = ValueError("a receiver may not send messages of its own")
                raise HandlerFailed(item, error)
            inbox.extend((item, message) for message in handled.messages)
        states[key] = handled.state
        outcome.ops.extend(ops)


__all__ = ["BatchEvent", "Change", "HandlerFailed", "Outcome", "run_batch"]
