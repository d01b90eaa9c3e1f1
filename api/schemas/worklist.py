"""Response bodies of the clinical worklist."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class TaskPublic(BaseModel):
    """One open task, its priority and overdue judged at the time of the request."""

    task_id: UUID
    episode_id: UUID
    patient_id: str
    referrer_id: str
    kind: str
    point: str
    detail: str
    priority: str
    overdue: bool
    due_at: datetime
    opened_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    assignee: str | None
    assignee_name: str | None


class WorklistPage(BaseModel):
    """A page of open tasks: urgent first, then by due time (longest overdue first)."""

    items: list[TaskPublic]
    next_cursor: str | None


class _Counts(BaseModel):
    """Read from the view's summary dataclasses."""

    model_config = ConfigDict(from_attributes=True)


class KindCountPublic(_Counts):
    """Open and overdue tasks of one kind."""

    kind: str
    open: int
    overdue: int


class PriorityCountPublic(_Counts):
    """Open and overdue tasks of one priority (urgent, high, normal) as of now."""

    priority: str
    open: int
    overdue: int


class AssigneeCountPublic(_Counts):
    """One clinician's open tasks (assignee null: nobody's yet)."""

    assignee: str | None
    open: int
    overdue: int
    urgent: int
    high: int


class WorklistSummaryPublic(_Counts):
    """Open and overdue tasks per kind, priority and assignee, at `as_of`."""

    as_of: datetime
    rules_version: int
    open: int
    overdue: int
    by_kind: list[KindCountPublic]
    by_priority: list[PriorityCountPublic]
    by_assignee: list[AssigneeCountPublic]
