"""The in-memory fold oracle: what a projection's views hold after some events.

Every projection test judges the engine (or reads the rules) against this one
fold: each event through the handler in order, then the key's `settle`, then the
messages it sent through `receive` (and that key's `settle`); changes applied
to tables kept as dicts by their declared keys. It settles after every event,
the engine once per batch: for a projection whose `settle` only derives rows
from the state, both give the same views.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.application import CareEpisodes
from domain.episode import CareEpisode
from domain.events import EpisodeEvent
from projections.base import Change, Handled, Increment, Projection, Put, State

Views = dict[str, dict[tuple, dict[str, Any]]]


def fold(projection: Projection, events: Iterable[tuple[int, EpisodeEvent]]) -> Views:
    """The views after (position, event) pairs, in global order, ran through."""
    views: Views = {table.name: {} for table in projection.tables}
    states: dict[str, State | None] = {}

    def keep(key: str, handled: Handled) -> None:
        states[key] = handled.state
        apply_changes(views, projection, handled.changes)

    handled_types = set(projection.handles)
    for position, event in events:
        if type(event) not in handled_types:
            continue
        episode = str(event.originator_id)
        handled = projection.handle(states.get(episode), event, position)
        keep(episode, handled)
        messages = list(handled.messages)
        if projection.settles:
            settled = projection.settle(episode, states[episode])
            keep(episode, settled)
            messages += settled.messages
        for message in messages:
            received = projection.receive(
                message.key, states.get(message.key), message, position
            )
            assert not received.messages, "a receiver sends no messages"
            keep(message.key, received)
            if projection.settles:
                keep(message.key, projection.settle(message.key, states[message.key]))
    return views


def apply_changes(
    views: Views, projection: Projection, changes: Iterable[Change]
) -> Views:
    """Apply view changes to in-memory tables, every column present."""
    tables = {table.name: table for table in projection.tables}
    for change in changes:
        table = tables[change.table]
        rows = views.setdefault(change.table, {})
        if isinstance(change, Increment):
            key = tuple(change.key[name] for name in table.key)
            row = rows.setdefault(
                key,
                {
                    c.name: change.key[c.name] if c.name in table.key else 0
                    for c in table.columns
                },
            )
            for name, amount in change.add.items():
                row[name] += amount
            if all(row[c.name] == 0 for c in table.columns if c.name not in table.key):
                del rows[key]  # a counters row at zero is the same as no row
        elif isinstance(change, Put):
            row = {c.name: change.row.get(c.name) for c in table.columns}
            rows[tuple(row[name] for name in table.key)] = row
        else:
            for key, row in list(rows.items()):
                if all(row[name] == value for name, value in change.match.items()):
                    del rows[key]
    return views


def project(projection: Projection, *episodes: CareEpisode) -> Views:
    """The views after each in-memory episode's uncollected events, episode by episode."""
    events: list[tuple[int, EpisodeEvent]] = []
    for episode in episodes:
        for event in episode.pending_events:
            assert isinstance(event, EpisodeEvent)
            events.append((len(events) + 1, event))
    return fold(projection, events)


def stored_events(app: CareEpisodes) -> list[tuple[int, EpisodeEvent]]:
    """Every stored event with its global position, in global order."""
    pairs = []
    for note in app.recorder.select_notifications(start=None, limit=10**9):
        event = app.mapper.to_domain_event(note)
        assert isinstance(event, EpisodeEvent)
        pairs.append((note.id, event))
    return pairs


def expected_views(app: CareEpisodes, projection: Projection) -> dict[str, list[dict]]:
    """The views a from-scratch fold of every stored event gives, in key order."""
    views = fold(projection, stored_events(app))
    return {name: [rows[k] for k in sorted(rows)] for name, rows in views.items()}
