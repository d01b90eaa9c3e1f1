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

from domain import commands as cmd
from domain.application import CareEpisodes
from domain.events import EVENT_TYPES, EpisodeClosed, EpisodeEvent, ReferralReceived
from infra.database import Database
from infra.projection import EngineOptions, ReadModels
from infra.settings import Settings
from projections.base import Column, Handled, Projection, Put, Remove, State, Table
from tests.support import builders as b
from tests.support.fold import expected_views

ROOT = Path(__file__).resolve().parents[2]
ALL_TYPES = EVENT_TYPES
FAST = EngineOptions(batch_size=7, poll_interval_s=0.05, drop_grace_s=0.1)
QUICK = EngineOptions(poll_interval_s=0.01, drop_grace_s=3600.0)
"""Full batches, quick polls, and retired generations kept to compare with."""
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


def actual_views(reads: ReadModels, projection: Projection) -> dict[str, list[dict]]:
    """The views as the serving generation holds them, in key order (a counters
    row at zero, which a batch that added and took back leaves, as no row)."""
    views = {t.name: reads.rows(projection.name, t.name) for t in projection.tables}
    for table in projection.tables:
        if table.counters:
            counts = [c.name for c in table.columns if c.name not in table.key]
            views[table.name] = [
                row for row in views[table.name] if any(row[c] for c in counts)
            ]
    return views


def assert_views_match_a_fold(app: CareEpisodes, reads: ReadModels) -> None:
    """Every test projection's views equal a from-scratch fold of the store."""
    for projection in projections():
        assert actual_views(reads, projection) == expected_views(app, projection), (
            projection.name
        )


# -- writing events ------------------------------------------------------------------


def open_episode(app: CareEpisodes, **overrides: Any) -> UUID:
    """Open an episode; its id."""
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral(**overrides))
    return app.handle(opening, actor=b.SERVICE).episode_id


# Commands an open episode can take any number of times, in a cycle.
REPEATABLE: Sequence[tuple[type[cmd.EpisodeCommand], Callable[..., dict]]] = (
    (cmd.ScreenRedFlags, b.screening),
    (cmd.RecordDiagnostic, b.mri),
    (cmd.AssignClinician, b.assignment),
    (cmd.SendConsultNote, b.consult_note),
)


def add_events(app: CareEpisodes, episode_id: UUID, count: int) -> int:
    """Record `count` more events on an episode; the last one's position."""
    position = 0
    for i in range(count):
        command_type, body = REPEATABLE[i % len(REPEATABLE)]
        command = b.command(command_type, episode_id, body(), days=1, hours=i)
        result = app.handle(command, actor=b.SERVICE)
        position = result.position
    return position


def close_episode(app: CareEpisodes, episode_id: UUID) -> int:
    """Close an episode; the position of EpisodeClosed."""
    closing = b.command(cmd.CloseEpisode, episode_id, b.closure(), days=2)
    return app.handle(closing, actor=b.SERVICE).position


def seed(app: CareEpisodes, episodes: int = 6, per_episode: int = 5) -> int:
    """Several episodes with a few events each, some closed; the head position."""
    head = 0
    for n in range(episodes):
        episode = open_episode(app, patient_id=f"pt-{n:04d}")
        head = add_events(app, episode, per_episode - 1) or head
        if n % 3 == 0:
            head = close_episode(app, episode)
    return head


def poisoned_store(store) -> int:
    """Events before and after one poisoned referral; its position."""
    seed(store, episodes=2)
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral(patient_id=POISON))
    poison = store.handle(opening, actor=b.SERVICE).position
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


def positions(app: CareEpisodes) -> list[int]:
    """Every stored event's position, in the global order (positions are not
    dense: on PostgreSQL they follow transaction ids)."""
    return [n.id for n in app.recorder.select_notifications(start=None, limit=10**9)]


def position_before(app: CareEpisodes, position: int) -> int:
    """The position of the event just before `position` in the global order (0:
    none)."""
    earlier = [p for p in positions(app) if p < position]
    return earlier[-1] if earlier else 0
