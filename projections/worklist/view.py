"""What the worklist answers readers (implemented in infra.views.worklist)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from projections.worklist.summary import WorklistSummary


@dataclass(frozen=True)
class WorklistFilters:
    """What GET /worklist narrows the open tasks to; time filters are judged at the
    reader's `now`."""

    assignee: str | None = None
    kind: str | None = None
    priority: str | None = None
    """urgent, high or normal, as readers see it now."""
    overdue: bool | None = None
    due_before: datetime | None = None
    episode_id: UUID | None = None
    referrer_id: str | None = None
    physician_id: str | None = None
    """Only tasks of episodes this physician referred (a physician caller's scope)."""


PageKey = tuple[int, datetime, str]
"""Where a page ends: (urgent_rank, due_at, task_id) of its last task."""


class WorklistView(Protocol):
    """The questions the worklist answers, judged at the reader's `now`."""

    def page(
        self, filters: WorklistFilters, now: datetime, after: PageKey | None, limit: int
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """One page of open tasks, urgent first, then by due time (so the longest
        overdue first), and the key of the next page."""
        ...

    def summary(self, now: datetime) -> WorklistSummary:
        """Open and overdue tasks per kind, priority and assignee."""
        ...
