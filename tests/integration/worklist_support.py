"""A clinic on a real store: commands through CareEpisodes.handle, the worklist
engine caught up after each, and the open tasks read back through the SQL view."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from domain import commands as cmd
from domain.application import CareEpisodes
from infra.eventstore import build_application
from infra.projection import Engine, ReadModels
from infra.settings import Settings
from infra.views.worklist import SqlWorklistView
from projections.worklist import TASKS, WorklistFilters, WorklistProjection
from tests.support import builders as b
from tests.support import projections as ps
from tests.support.fold import expected_views

Key = tuple[str, str]
# The clinic's clock runs far ahead of T0, so a year of follow-ups can be recorded.
CLOCK = b.at(2000)


class Clinic:
    """Episodes on one store with the worklist projection kept up to date."""

    def __init__(self, store: CareEpisodes, settings: Settings) -> None:
        self.store = store
        self.projection = WorklistProjection()
        self.engine = Engine(store, settings, [self.projection], ps.FAST)
        self.reads = ReadModels(store, [self.projection])
        self.view = SqlWorklistView(self.reads, self.projection.rules)

    def open(self, days: float = 0, hours: float = 0, **referral: Any) -> UUID:
        opening = cmd.OpenEpisode(
            occurred_at=b.at(days, hours), **b.referral(**referral)
        )
        episode = self.store.handle(opening, actor=b.SERVICE).episode_id
        self.engine.catch_up()
        return episode

    def do(
        self,
        episode: UUID,
        command_type: type[cmd.EpisodeCommand],
        body: dict[str, Any],
        days: float = 0,
        hours: float = 0,
    ) -> int:
        command = b.command(command_type, episode, body, days, hours)
        position = self.store.handle(command, actor=b.CLINICIAN).position
        self.engine.catch_up()
        return position

    def page(
        self, now: datetime = CLOCK, limit: int = 500, **filters: Any
    ) -> list[dict[str, Any]]:
        rows, _ = self.view.page(WorklistFilters(**filters), now, None, limit)
        return rows

    def tasks(self, episode: UUID | None = None) -> set[Key]:
        """The episode's open tasks as (kind, point), read through the view."""
        return {(t["kind"], t["point"]) for t in self.page(episode_id=episode)}

    def rows(self) -> list[dict[str, Any]]:
        """Every stored task row."""
        return self.reads.rows(self.projection.name, TASKS.name)

    def matches_a_fold(self) -> bool:
        actual = ps.actual_views(self.reads, self.projection)
        expected = expected_views(self.store, self.projection)
        # Running totals that went back to zero stay as rows in both.
        return actual == expected

    def close(self) -> None:
        self.engine.close()


@pytest.fixture(name="clinic")
def clinic_fixture(settings: Settings) -> Iterator[Clinic]:
    """A clinic on a fresh store of each backend, its clock a year and more ahead."""
    store = build_application(settings, clock=lambda: CLOCK)
    place = Clinic(store, settings)
    yield place
    place.close()
    store.close()
