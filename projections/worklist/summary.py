"""What the worklist answers readers, judged at the reader's `now`: one task as a
screen shows it, and the summary from the running totals.

Both take stored rows only, so the SQL views fetch and these shape.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.worklist.projection import ASSIGNEE_AXIS, KIND_AXIS, UNASSIGNED
from projections.worklist.tasks import Priority, TaskKind

Row = Mapping[str, Any]
ITEM_FIELDS = (
    "task_id",
    "episode_id",
    "patient_id",
    "referrer_id",
    "kind",
    "point",
    "detail",
    "due_at",
    "opened_at",
    "window_start",
    "window_end",
    "assignee",
    "assignee_name",
)


def is_overdue(row: Row, now: datetime) -> bool:
    """A task is overdue from its due time on."""
    return bool(row["due_at"] <= now)


def shown_priority(row: Row, now: datetime) -> str:
    """Urgent and high as stored; an escalating task is high once overdue."""
    if row["priority"] == Priority.NORMAL.value and row["escalates"]:
        return Priority.HIGH.value if is_overdue(row, now) else row["priority"]
    return str(row["priority"])


def task_item(row: Row, now: datetime) -> dict[str, Any]:
    """A task as a worklist screen shows it at `now` (DESIGN §4 task, and more)."""
    return {
        **{name: row[name] for name in ITEM_FIELDS},
        "priority": shown_priority(row, now),
        "overdue": is_overdue(row, now),
    }


@dataclass(frozen=True)
class KindCount:
    """Open and overdue tasks of one kind."""

    kind: str
    open: int
    overdue: int


@dataclass(frozen=True)
class PriorityCount:
    """Open and overdue tasks of one priority, as readers see it now."""

    priority: str
    open: int
    overdue: int


@dataclass(frozen=True)
class AssigneeCount:
    """One clinician's open tasks (None: nobody's yet)."""

    assignee: str | None
    open: int
    overdue: int
    urgent: int
    high: int


@dataclass(frozen=True)
class WorklistSummary:
    """GET /worklist/summary: open tasks per kind, priority and assignee at `as_of`."""

    as_of: datetime
    rules_version: int
    open: int
    overdue: int
    by_kind: list[KindCount]
    by_priority: list[PriorityCount]
    by_assignee: list[AssigneeCount]


@dataclass
class _Tally:
    open: int = 0
    overdue: int = 0
    urgent: int = 0
    high: int = 0

    def add(self, priority: str, escalates: bool, open_: int, overdue: int) -> None:
        self.open += open_
        self.overdue += overdue
        if priority == Priority.URGENT.value:
            self.urgent += open_
        elif priority == Priority.HIGH.value:
            self.high += open_
        elif escalates:
            self.high += overdue


def summarize(
    groups: Iterable[Row],
    due_today: Iterable[Row],
    now: datetime,
    rules_version: int,
) -> WorklistSummary:
    """The summary from the running totals per group (axis, name, priority,
    escalates: the `total` open and those due `before` today) and today's tasks
    already due (rows of kind, assignee, priority, escalates and their count n)."""
    totals: dict[tuple[str, str, str, bool], list[int]] = defaultdict(lambda: [0, 0])
    for row in groups:
        group = (row["axis"], row["name"], row["priority"], bool(row["escalates"]))
        totals[group][0] += int(row["total"])
        totals[group][1] += int(row["before"])
    for row in due_today:
        escalates = bool(row["escalates"])
        assignee = row["assignee"] or UNASSIGNED
        for axis, name in ((KIND_AXIS, row["kind"]), (ASSIGNEE_AXIS, assignee)):
            totals[(axis, name, row["priority"], escalates)][1] += int(row["n"])
    kinds: dict[str, _Tally] = defaultdict(_Tally)
    assignees: dict[str, _Tally] = defaultdict(_Tally)
    priorities: dict[str, list[int]] = {p.value: [0, 0] for p in Priority}
    for (axis, name, priority, escalates), (open_, overdue) in totals.items():
        if axis == KIND_AXIS:
            kinds[name].add(priority, escalates, open_, overdue)
            shown = _split(priority, escalates, open_, overdue)
            for shown_priority_, (count, late) in shown.items():
                priorities[shown_priority_][0] += count
                priorities[shown_priority_][1] += late
        elif axis == ASSIGNEE_AXIS:
            assignees[name].add(priority, escalates, open_, overdue)
    everyone = _Tally()
    for tally in kinds.values():
        everyone.open += tally.open
        everyone.overdue += tally.overdue
    return WorklistSummary(
        as_of=now,
        rules_version=rules_version,
        open=everyone.open,
        overdue=everyone.overdue,
        by_kind=[
            KindCount(k.value, kinds[k.value].open, kinds[k.value].overdue)
            for k in TaskKind
        ],
        by_priority=[PriorityCount(p.value, *priorities[p.value]) for p in Priority],
        by_assignee=[
            AssigneeCount(name or None, t.open, t.overdue, t.urgent, t.high)
            for name, t in sorted(assignees.items(), key=lambda i: (not i[0], i[0]))
            if t.open
        ],
    )


def _split(
    priority: str, escalates: bool, open_: int, overdue: int
) -> dict[str, tuple[int, int]]:
    """A group's (open, overdue) by the priority readers see now."""
    if priority == Priority.NORMAL.value and escalates:
        return {
            Priority.HIGH.value: (overdue, overdue),
            Priority.NORMAL.value: (open_ - overdue, 0),
        }
    return {priority: (open_, overdue)}
