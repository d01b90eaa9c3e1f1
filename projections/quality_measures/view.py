"""What the quality measures answer readers (implemented in infra.views)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from projections.quality_measures.report import MeasuresSummary


@dataclass(frozen=True)
class MeasureFilters:
    """What GET /quality-measures (and one measure's list) narrow decisions to."""

    measures: tuple[str, ...] | None = None
    """The measures to report (None: all)."""
    referrer_id: str | None = None
    """Decisions charged to this (opening) referrer."""
    occurred_from: datetime | None = None
    """Anchored (opened, closed, treated) at or after this instant."""
    occurred_to: datetime | None = None
    """Anchored before this instant."""
    status: str | None = None
    """The status as it reads at the reader's `now` (lists only)."""
    exclusion: str | None = None
    episode_id: str | None = None
    """One episode's decisions (lists only)."""
    physician_id: str | None = None
    """Only episodes this physician referred (a physician caller's scope)."""


PageKey = tuple[datetime, str, str]
"""Where a page ends: (anchor_at, episode_id, subject) of its last decision."""


class QualityMeasuresView(Protocol):
    """The questions the quality measures answer, judged at the reader's `now`."""

    def summary(
        self, filters: MeasureFilters, now: datetime, period: str
    ) -> MeasuresSummary:
        """Rates per measure, per referrer and per period ("month", "quarter",
        "year")."""
        ...

    def page(
        self,
        measure: str,
        filters: MeasureFilters,
        now: datetime,
        after: PageKey | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """One page of a measure's decisions in (anchor_at, episode_id, subject)
        order, each as it reads at `now`, and the key of the next page."""
        ...

    def position(self) -> int:
        """The global position the serving tables have processed."""
        ...
