"""Projections for engine tests, a reference fold to judge them by, and store helpers.

`EpisodeActivity` counts each episode's events in its state, so an event applied
twice shows as a count above the number of log rows; `EventLog` appends one row
per event, so a missed event shows as a missing row.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.application import CareEpisodes
from domain.events import EVENT_TYPES, EpisodeClosed, EpisodeEvent, ReferralReceived
from infra.database import Database
from infra.projection import EngineOptions, ReadModels
from infra.settings import Settings
from projections.base import Column, Handled, Projection, Put, Remove, State, Table
from tests import builders as b

ROOT = Path(__file__).resolve().parents[2]
ALL_TYPES = frozenset(t.__name__ for t in EVENT_TYPES)
FAST = EngineOptions(batch_size=7, poll_interval_s=0.05, drop_grace_s=0.1)
WAIT_S = 20.0  # generous ceiling for waits that normally end in milliseconds


class EpisodeActivity(Projection):
    """Per episode: how many events, which types, when last; and the open ones."""

    name = "episode_activity"
    version = 1
    handles = ALL_TYPES
    tables = (
        Table(
            "episodes",
            (
                Column("episode_id", "text", nullable=False),
                Column("patient_id", "text"),
                Column("events", "integer", nullable=False),
                Column("last_type", "text"),
                Column("last_position", "integer"),
                Column("last_occurred_at", "timestamp"),
                Column("types", "json"),
                Column("closed", "boolean"),
            ),
            key=("episode_id",),
            indexes=(("patient_id",),),
        ),
        Table(
            "open_episodes",
            (
                Column("episode_id", "text", nullable=False),
                Column("opened_at", "timestamp"),
            ),
            key=("episode_id",),
        ),
    )

    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        state = dict(state or {"events": 0, "types": [], "patient_id": None})
        kind = type(event).__name__
        state["events"] += 1
        state["types"] = [*state["types"], kind]
        if isinstance(event, ReferralReceived) and state["patient_id"] is None:
            state["patient_id"] = event.patient_id
        episode = str(event.originator_id)
        changes: list[Put | Remove] = [
            Put(
                "episodes",
                {
                    "episode_id": episode,
                    "patient_id": state["patient_id"],
                    "events": state["events"],
                    "last_type": kind,
                    "last_position": position,
                    "last_occurred_at": event.occurred_at,
                    "types": state["types"],
                    "closed": isinstance(event, EpisodeClosed),
                },
            )
        ]
        if isinstance(event, ReferralReceived) and state["events"] == 1:
            changes.append(
                Put(
                    "open_episodes",
                    {"episode_id": episode, "opened_at": event.occurred_at},
                )
            )
        if isinstance(event, EpisodeClosed):
            changes.append(Remove("open_episodes", {"episode_id": episode}))
        return Handled(state, changes)


class EventLog(Projection):
    """One row per event, numbered within its episode."""

    name = "event_log"
    version = 1
    handles = ALL_TYPES
    tables = (
        Table(
            "entries",
            (
                Column("position", "integer", nullable=False),
                Column("episode_id", "text", nullable=False),
                Column("type", "text", nullable=False),
                # A reserved word, to prove the engine quotes column names.
                Column("order", "integer", nullable=False),
                Column("occurred_at", "timestamp", nullable=False),
            ),
            key=("position",),
            indexes=(("episode_id", "order"),),
        ),
    )

    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        seq = (state or {"seq": 0})["seq"] + 1
        row = {
            "position": position,
            "episode_id": str(event.originator_id),
            "type": type(event).__name__,
            "order": seq,
            "occurred_at": event.occurred_at,
        }
        return Handled({"seq": seq}, [Put("entries", row)])


POISON = "pt-poison"


class FragileLog(EventLog):
    """The event log, except that it cannot handle one patient's episode."""

    name = "fragile_log"
    broken = True

    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        if type(self).broken and getattr(event, "patient_id", None) == POISON:
            raise ValueError("cannot log this referral")
        return super().handle(state, event, position)


class FixedLog(FragileLog):
    broken = False


def projections() -> list[Projection]:
    """The two test projections, fresh."""
    return [EpisodeActivity(), EventLog()]


def expected_views(app: CareEpisodes, projection: Projection) -> dict[str, list[dict]]:
    """The views a from-scratch fold of every stored event gives, in key order."""
    tables: dict[str, dict[tuple, dict[str, Any]]] = {
        t.name: {} for t in projection.tables
    }
    keys = {t.name: t.key for t in projection.tables}
    states: dict[str, State | None] = {}
    for note in app.recorder.select_notifications(start=None, limit=10**9):
        event = app.mapper.to_domain_event(note)
        if type(event).__name__ not in projection.handles:
            continue
        episode = str(note.originator_id)
        handled = projection.handle(states.get(episode), event, note.id)  # type: ignore[arg-type]
        states[episode] = handled.state
        for change in handled.changes:
            rows = tables[change.table]
            if isinstance(change, Put):
                full = {
                    c.name: change.row.get(c.name)
                    for c in _table(projection, change.table).columns
                }
                rows[tuple(full[k] for k in keys[change.table])] = full
            else:
                for key in [
                    k
                    for k, r in rows.items()
                    if all(r[c] == v for c, v in change.match.items())
                ]:
                    del rows[key]
    return {name: [rows[k] for k in sorted(rows)] for name, rows in tables.items()}


def actual_views(reads: ReadModels, projection: Projection) -> dict[str, list[dict]]:
    """The views as the serving generation holds them, in key order."""
    return {t.name: reads.rows(projection.name, t.name) for t in projection.tables}


def assert_views_match_a_fold(app: CareEpisodes, reads: ReadModels) -> None:
    """Every test projection's views equal a from-scratch fold of the store."""
    for projection in projections():
        assert actual_views(reads, projection) == expected_views(app, projection), (
            projection.name
        )


def _table(projection: Projection, name: str) -> Table:
    return next(t for t in projection.tables if t.name == name)


# -- writing events ------------------------------------------------------------------


def open_episode(app: CareEpisodes, **overrides: Any) -> UUID:
    """Open an episode; its id."""
    return app.open_episode(
        actor=b.SERVICE, occurred_at=b.at(0), **b.referral(**overrides)
    ).episode_id


# Commands an open episode can take any number of times, in a cycle.
REPEATABLE: Sequence[tuple[str, Callable[..., dict]]] = (
    ("screen_red_flags", b.screening),
    ("record_diagnostic", b.mri),
    ("assign_clinician", b.assignment),
    ("send_consult_note", b.consult_note),
)


def add_events(app: CareEpisodes, episode_id: UUID, count: int) -> int:
    """Record `count` more events on an episode; the last one's position."""
    position = 0
    for i in range(count):
        method, body = REPEATABLE[i % len(REPEATABLE)]
        result = getattr(app, method)(
            episode_id, actor=b.SERVICE, occurred_at=b.at(1, hours=i), **body()
        )
        position = result.position
    return position


def close_episode(app: CareEpisodes, episode_id: UUID) -> int:
    """Close an episode; the position of EpisodeClosed."""
    return app.close_episode(
        episode_id, actor=b.SERVICE, occurred_at=b.at(2), **b.closure()
    ).position


def seed(app: CareEpisodes, episodes: int = 6, per_episode: int = 5) -> int:
    """Several episodes with a few events each, some closed; the head position."""
    head = 0
    for n in range(episodes):
        episode = open_episode(app, patient_id=f"pt-{n:04d}")
        head = add_events(app, episode, per_episode - 1) or head
        if n % 3 == 0:
            head = close_episode(app, episode)
    return app.recorder.max_notification_id() or head


def poisoned_store(store) -> int:
    """Events before and after one poisoned referral; its position."""
    seed(store, episodes=2)
    poison = store.open_episode(
        actor=b.SERVICE, occurred_at=b.at(0), **b.referral(patient_id=POISON)
    ).position
    seed(store, episodes=2)
    return poison


def burn_positions(app: CareEpisodes, count: int) -> None:
    """Leave a gap of `count` positions in the global order, as failed inserts do."""
    db = Database(app)
    with db.writing() as cur:
        if db.dialect.name == "sqlite":
            cur.execute(
                "UPDATE sqlite_sequence SET seq = seq + ? WHERE name = ?",
                (count, app.recorder.events_table_name),  # type: ignore[attr-defined]
            )
        else:
            sequence = f"{app.recorder.events_table_name}_notification_id_seq"  # type: ignore[attr-defined]
            cur.execute(
                f"SELECT setval('{sequence}', nextval('{sequence}') + ?)", (count,)
            )


def worker_command(settings: Settings, *args: str) -> list[str]:
    """The command line of a worker process (tests/integration/projection_worker.py)."""
    module = "tests.integration.projection_worker"
    return [sys.executable, "-m", module, settings.database_url, *args]
