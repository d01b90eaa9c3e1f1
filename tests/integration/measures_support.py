"""A practice on a real store: commands through CareEpisodes.handle, the quality
measures engine caught up after each, decisions read back through the SQL view."""

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
from infra.views.quality_measures import SqlQualityMeasuresView
from projections.quality_measures import (
    MeasureFilters,
    MeasuresSummary,
    QualityMeasuresProjection,
)
from tests.support import builders as b
from tests.support import projections as ps
from tests.support.fold import expected_views

# The practice's clock runs far ahead of T0, so years of follow-up can be recorded.
CLOCK = b.at(2000)
LATER = b.at(1900)
"""A reader's now long after every window of the tests has closed."""
Decided = tuple[str, str | None]


class Practice:
    """Episodes on one store with the quality measures kept up to date."""

    def __init__(self, store: CareEpisodes, settings: Settings) -> None:
        self.store = store
        self.projection = QualityMeasuresProjection()
        self.engine = Engine(store, settings, [self.projection], ps.FAST)
        self.reads = ReadModels(store, [self.projection])
        self.view = SqlQualityMeasuresView(self.reads, self.projection.rules)

    def open(self, days: float = 0, hours: float = 0, **referral: Any) -> UUID:
        """Open an episode (an adult axial referral unless told otherwise)."""
        body = b.referral(**{"age_band": "35-49", "presentation": "axial", **referral})
        opening = cmd.OpenEpisode(occurred_at=b.at(days, hours), **body)
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
        """Record one command; its version."""
        command = b.command(command_type, episode, body, days, hours)
        version = self.store.handle(command, actor=b.CLINICIAN).version
        self.engine.catch_up()
        return version

    def decisions(
        self, measure: str, now: datetime = LATER, **filters: Any
    ) -> list[dict[str, Any]]:
        """Every decision of `measure` as it reads at `now`, through the view."""
        rows, key = self.view.page(measure, MeasureFilters(**filters), now, None, 500)
        assert key is None
        return rows

    def decided(
        self, measure: str, now: datetime = LATER, **filters: Any
    ) -> dict[UUID, Decided]:
        """Each episode's (status, exclusion) in `measure` at `now` (one each)."""
        rows = self.decisions(measure, now, **filters)
        found = {UUID(r["episode_id"]): (r["status"], r["exclusion"]) for r in rows}
        assert len(found) == len(rows), "one decision per episode"
        return found

    def decision(
        self, measure: str, episode: UUID, now: datetime = LATER
    ) -> dict[str, Any]:
        """One episode's decision of `measure` at `now`."""
        [row] = self.decisions(measure, now, episode_id=str(episode))
        return row

    def summary(
        self, now: datetime = LATER, period: str = "month", **filters: Any
    ) -> MeasuresSummary:
        return self.view.summary(MeasureFilters(**filters), now, period)

    def matches_a_fold(self) -> bool:
        actual = ps.actual_views(self.reads, self.projection)
        return actual == expected_views(self.store, self.projection)

    def close(self) -> None:
        self.engine.close()


@pytest.fixture(name="practice")
def practice_fixture(settings: Settings) -> Iterator[Practice]:
    """A practice on a fresh store of each backend, its clock years ahead."""
    store = build_application(settings, clock=lambda: CLOCK)
    place = Practice(store, settings)
    yield place
    place.close()
    store.close()


def roles(row: dict[str, Any]) -> list[tuple[str, int]]:
    """A decision's deciding events as (role, version)."""
    return [(entry["role"], entry["version"]) for entry in row["deciding"]]
