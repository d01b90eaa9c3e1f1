"""The projection interface: pure handlers that turn episode events into view changes.

A projection keeps a small state per key (JSON-able: str, int, bool, None, lists,
dicts, plus datetime, date, Decimal, UUID and the domain's enums and value types,
which the engine stores with the application's transcoder). The key of an event's
state is its episode; a handler may also send `Message`s to keys of its own
choosing (a patient's, a physician's), which `receive` folds into those keys'
states in the same batch. For each event it handles, `handle` gets the episode's
state before the event and returns the state after it, the changes to make to the
view's tables and any messages. `settle`, when a projection has one, runs once per
key a batch touched, after its events: the place to derive rows from a state many
events changed, so a batch does that work once per key, not once per event.

A state must come back from its stored form as it went in (lists, not tuples;
str keys; no object in two places that a later handler changes in place): within
a batch the next event gets the state as the handler left it, in the next batch
as it was read back, so a state that changed on the way would make the views
depend on where batches begin and end. A handler may change the state it is
given in place; a batch that fails runs again from the stored states.

Handlers do no I/O and read no clock, so replaying the same events always gives
the same views; rules that depend on the passing of time store deadlines and are
judged at query time. The engine (infra) applies the changes of a whole batch,
and the new tracking position, in one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Literal

from eventsourcing.utils import get_topic

from domain.events import EVENT_TYPES, EpisodeEvent

ColumnType = Literal["text", "integer", "real", "boolean", "timestamp", "json"]
State = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """A view column. `timestamp` holds aware datetimes; `json` holds lists/dicts."""

    name: str
    type: ColumnType
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    """A view table, named without the projection version the engine adds to it."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    counters: bool = False
    """A table of running totals: it takes Increment only (never Put or Remove)."""

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


@dataclass(frozen=True)
class Put:
    """Insert the row, or replace the row with the same key."""

    table: str
    row: Mapping[str, Any]


@dataclass(frozen=True)
class Remove:
    """Delete every row of `table` whose columns equal all of `match`."""

    table: str
    match: Mapping[str, Any]


@dataclass(frozen=True)
class Increment:
    """Add to the counters of the row with this key (a missing row starts at zero).

    Increments commute, so the engine sums a batch's increments per row first.
    """

    table: str
    key: Mapping[str, Any]
    add: Mapping[str, int]


Change = Put | Remove | Increment


@dataclass(frozen=True)
class Message:
    """A note from a handler to the state of another key, received in the same batch."""

    key: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Handled:
    """What a handler returns: the key's new state, view changes and messages."""

    state: State | None
    changes: Sequence[Change] = field(default_factory=tuple)
    messages: Sequence[Message] = field(default_factory=tuple)


class Projection(ABC):
    """A read model as a pure function of the episode event stream."""

    name: ClassVar[str]
    """Stable identifier, e.g. "referral_audit"; used in tracking and table names."""
    version: ClassVar[int]
    """Bump when handlers or tables change: the engine rebuilds a new version from
    position 0 beside the serving one and switches when it has caught up."""
    tables: ClassVar[tuple[Table, ...]]
    handles: ClassVar[tuple[type[EpisodeEvent], ...]]
    """The event classes this projection reads (checked when it is registered);
    others pass it by."""

    settles: ClassVar[bool] = False
    """Whether `settle` derives anything (the engine skips the call otherwise)."""

    @abstractmethod
    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        """The episode's state after `event` (at global `position`), and the view changes."""

    def settle(self, key: str, state: State | None) -> Handled:
        """The changes a key's state calls for, once per batch that touched it."""
        return Handled(state)

    def receive(
        self, key: str, state: State | None, message: Message, position: int
    ) -> Handled:
        """The state of `key` after `message` (sent by the event at `position`).

        A receiver may change views but sends no messages of its own.
        """
        raise NotImplementedError(f"{self.name} does not receive messages")


def handled_topics(projection: Projection) -> frozenset[str]:
    """The stored topics of the event classes a projection reads."""
    return _topics(tuple(projection.handles))


@cache
def _topics(handles: tuple[type[EpisodeEvent], ...]) -> frozenset[str]:
    return frozenset(get_topic(cls) for cls in handles)


def check_projection(projection: Projection) -> Projection:
    """Refuse a projection the engine could not run: unknown event classes, a bad
    name or version, tables without a key."""
    name = getattr(projection, "name", "")
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(f"projection name {name!r} is not a lower-case identifier")
    version = getattr(projection, "version", None)
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{name}: version must be a whole number from 1")
    handles = getattr(projection, "handles", ())
    if not handles:
        raise ValueError(f"{name}: handles names no event class")
    unknown = [c for c in handles if c not in EVENT_TYPES]
    if unknown:
        names = ", ".join(getattr(c, "__name__", repr(c)) for c in unknown)
        raise ValueError(f"{name}: handles unknown event class(es) {names}")
    return projection
