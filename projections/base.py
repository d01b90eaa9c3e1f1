"""The projection interface: pure handlers that turn episode events into view changes.

A projection keeps a small state per episode (JSON-able: str, int, bool, None, lists,
dicts, plus datetime, date, Decimal, UUID and the domain's enums and value types,
which the engine stores with the application's transcoder). For each event it
handles, `handle` gets the episode's state before the event and returns the state
after it and the changes to make to the view's tables. Handlers do no I/O and read
no clock, so replaying the same events always gives the same views; rules that
depend on the passing of time store deadlines and are judged at query time.

The engine (infra) applies the changes of a whole batch of events, and the new
tracking position, in one transaction.
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


Change = Put | Remove


@dataclass(frozen=True)
class Handled:
    """What a handler returns: the episode's new state and the view changes."""

    state: State | None
    changes: Sequence[Change] = field(default_factory=tuple)


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

    @abstractmethod
    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        """The episode's state after `event` (at global `position`), and the view changes."""


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
