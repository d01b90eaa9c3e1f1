"""The clinical worklist read model (DESIGN §5): each episode's open tasks.

`WorklistProjection` keeps each episode's clinical facts and current assignee as
its state. `settle`, once per episode and batch, re-derives the open tasks
(`tasks.open_tasks`) and diffs them against the set it stored last time: new and
changed tasks are Put, closed ones Removed, and the running totals of COUNTS move
by the difference. A task's id comes from (episode, kind, point), so a rebuild
gives identical rows. Nothing here reads a clock: rows store `due_at`, and readers
judge overdue (due_at <= now) and escalated priority when they read.

Readers page TASKS in (urgent_rank, due_at, task_id) order: urgent first, then by
due time, which puts the longest overdue first and does not change as time passes.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import events as ev
from domain.amendments import corrected_event
from projections import erasure
from projections.base import (
    Change,
    Column,
    Handled,
    Increment,
    Projection,
    Put,
    Remove,
    State,
    Table,
)
from projections.clinical.definitions import when
from projections.clinical.facts import CLINICAL_EVENTS, recorded, starting
from projections.worklist.counts import buckets_of
from projections.worklist.rules import RULES_V1, WorklistRules
from projections.worklist.tasks import Priority, Task, open_tasks

TASK_IDS = uuid5(NAMESPACE_URL, "urn:care-episodes:worklist:task")
# Within each urgency rank the due time orders the list (DOMAIN.md: urgent first,
# then the longest overdue, then by due time); each filter's index ends the same.
ORDER = ("urgent_rank", "due_at", "task_id")

TASKS = Table(
    name="tasks",
    columns=(
        Column("task_id", "text", nullable=False),
        Column("episode_id", "text", nullable=False),
        Column("patient_id", "text", nullable=False),
        Column("referrer_id", "text", nullable=False),
        Column("kind", "text", nullable=False),
        Column("point", "text", nullable=False),
        Column("detail", "text", nullable=False),
        Column("priority", "text", nullable=False),
        Column("escalates", "boolean", nullable=False),
        Column("urgent_rank", "integer", nullable=False),
        Column("due_at", "timestamp", nullable=False),
        Column("opened_at", "timestamp", nullable=False),
        Column("window_start", "timestamp"),
        Column("window_end", "timestamp"),
        Column("trigger_version", "integer", nullable=False),
        Column("assignee", "text"),
        Column("assignee_name", "text"),
    ),
    key=("task_id",),
    indexes=(
        ORDER,
        ("assignee", *ORDER),
        ("kind", *ORDER),
        ("episode_id", *ORDER),
        # The summary counts today's tasks that are already due.
        ("due_at",),
    ),
)

# One row per task and referrer of its episode, ordered like TASKS: a physician's
# worklist (and the referrer_id filter) walks its own index instead of sorting.
TASK_REFERRERS = Table(
    name="task_referrers",
    columns=(
        Column("referrer_id", "text", nullable=False),
        Column("task_id", "text", nullable=False),
        Column("urgent_rank", "integer", nullable=False),
        Column("due_at", "timestamp", nullable=False),
    ),
    key=("referrer_id", "task_id"),
    indexes=(("referrer_id", *ORDER), ("task_id",)),
)

# Open tasks per kind and per assignee, in the buckets of counts.buckets_of; the
# bucket leads the key so the summary reads its few buckets by the primary key.
COUNTS = Table(
    name="counts",
    columns=(
        Column("bucket", "integer", nullable=False),
        Column("axis", "text", nullable=False),
        Column("name", "text", nullable=False),
        Column("priority", "text", nullable=False),
        Column("escalates", "boolean", nullable=False),
        Column("open", "integer", nullable=False),
    ),
    key=("bucket", "axis", "name", "priority", "escalates"),
    counters=True,
)
KIND_AXIS = "kind"
ASSIGNEE_AXIS = "assignee"
UNASSIGNED = ""
"""The assignee name of the counts of tasks nobody is assigned to."""


class WorklistProjection(Projection):
    """Each episode's open tasks, re-derived from its facts once per batch."""

    name = "worklist"
    version = 1
    tables = (TASKS, TASK_REFERRERS, COUNTS)
    handles = (*CLINICAL_EVENTS, ev.ClinicianAssigned)
    settles = True

    def __init__(self, rules: WorklistRules = RULES_V1) -> None:
        self.rules = rules

    def handle(
        self, state: State | None, event: ev.EpisodeEvent, position: int
    ) -> Handled:
        """The episode's facts and assignee after `event` (rows come in `settle`)."""
        if isinstance(event, ev.EpisodeErased):
            # Its open tasks go, and leave the running totals.
            counted: Counter[tuple[Any, ...]] = Counter()
            tasks = (state or {}).get("tasks", {})
            for task in tasks.values():
                counted[_counts_key(task)] -= 1
            # Its tasks' referrer rows are keyed by task, not episode.
            referrers = [Remove(TASK_REFERRERS.name, {"task_id": t}) for t in tasks]
            return erasure.erased(
                self.tables, event, [*referrers, *_increments(counted)]
            )
        start = starting(state, event, {"assignee": None, "tasks": {}})
        if start is None:
            return Handled(state)  # already applied: a redelivery changes nothing
        state = start
        if isinstance(event, ev.ClinicianAssigned):
            return Handled(_assigned(state, event, position))
        if (
            isinstance(event, ev.EventAmended)
            and event.amends_type == "ClinicianAssigned"
        ):
            return Handled(_reassigned(state, event, position))
        return Handled(recorded(state, event, position))

    def settle(self, key: str, state: State | None) -> Handled:
        """Put the episode's new and changed tasks, Remove its closed ones, and move
        the running totals by the difference."""
        if state is None:
            return Handled(state)
        tasks = open_tasks(state, self.rules)
        rows = {row["task_id"]: row for row in (self.row(state, t) for t in tasks)}
        referrers = sorted({r["referrer_id"] for r in state["referrals"]})
        before: dict[str, dict[str, Any]] = state["tasks"]
        new_referrers = referrers != state.get("referrers")
        removed: list[dict[str, Any]] = []
        put: list[tuple[dict[str, Any], bool]] = []
        counted: Counter[tuple[Any, ...]] = Counter()
        for task_id, old in before.items():
            if task_id not in rows:
                removed.append(old)
                counted[_counts_key(old)] -= 1
        for task_id, row in rows.items():
            was = before.get(task_id)
            if was != row or new_referrers:
                moved = new_referrers or was is None or _order(was) != _order(row)
                put.append((row, moved))
                if was is not None:
                    counted[_counts_key(was)] -= 1
                counted[_counts_key(row)] += 1
        changes = _row_changes(removed, put, referrers) + _increments(counted)
        if not changes:
            return Handled(state)
        return Handled({**state, "tasks": rows, "referrers": referrers}, changes)

    def row(self, state: State, task: Task) -> dict[str, Any]:
        """A task's row, with the episode's patient, referrer and assignee."""
        assignee = state["assignee"] or {}
        window = task.window or (None, None)
        return {
            "task_id": task_id(state["episode_id"], task.kind, task.point),
            "episode_id": state["episode_id"],
            "patient_id": state["patient_id"],
            "referrer_id": state["referrer"]["id"],
            "kind": task.kind,
            "point": task.point,
            "detail": task.detail,
            "priority": task.priority,
            "escalates": task.kind in self.rules.escalating_kinds,
            "urgent_rank": 0 if task.priority == Priority.URGENT.value else 1,
            "due_at": task.due_at,
            "opened_at": task.opened_at,
            "window_start": window[0],
            "window_end": window[1],
            "trigger_version": task.trigger_version,
            "assignee": assignee.get("id"),
            "assignee_name": assignee.get("name"),
        }


def task_id(episode_id: str, kind: str, point: str) -> str:
    """The id of an episode's task of `kind` at `point`: the same on every rebuild."""
    return str(uuid5(TASK_IDS, f"{UUID(episode_id)}|{kind}|{point}"))


def _assigned(state: State, event: ev.ClinicianAssigned, position: int) -> State:
    # The latest assignment in clinical time is the current one, so a late-recorded
    # earlier assignment does not take the work back.
    new_state = {**state, "version": event.originator_version, "position": position}
    assignment = {
        "id": event.clinician_id,
        "name": event.clinician_name,
        "at": event.occurred_at,
        "version": event.originator_version,
    }
    current = state["assignee"]
    if current is None or when(assignment) > when(current):
        new_state["assignee"] = assignment
    return new_state


def _reassigned(state: State, event: ev.EventAmended, position: int) -> State:
    # A corrected assignment: it replaces the one it amends, if that one is current.
    corrected = corrected_event(event)
    assert isinstance(corrected, ev.ClinicianAssigned)
    current = state["assignee"]
    if current is not None and current["version"] == event.amends_version:
        state = {**state, "assignee": None}
    new_state = _assigned(state, corrected, position)
    return {**new_state, "version": event.originator_version}


def due_day(row: dict[str, Any]) -> date:
    """The UTC date a task falls due on (the summary's calendar is UTC)."""
    return row["due_at"].astimezone(UTC).date()


def _counts_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """What the running totals tell tasks apart by."""
    return (
        row["kind"],
        row["assignee"] or UNASSIGNED,
        row["priority"],
        row["escalates"],
        due_day(row),
    )


def _increments(counted: Counter[tuple[Any, ...]]) -> list[Change]:
    """The running totals' changes, summed per bucket first: an episode's tasks
    share most of their upper buckets, so it sends far fewer than ten per task."""
    added: Counter[tuple[Any, ...]] = Counter()
    for (kind, assignee, priority, escalates, day), amount in counted.items():
        if amount:
            for bucket in buckets_of(day):
                added[(bucket, KIND_AXIS, kind, priority, escalates)] += amount
                added[(bucket, ASSIGNEE_AXIS, assignee, priority, escalates)] += amount
    return [
        Increment(COUNTS.name, dict(zip(COUNTS.key, key, strict=True)), {"open": n})
        for key, n in added.items()
        if n
    ]


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[column] for column in ORDER)


def _row_changes(
    removed: list[dict[str, Any]],
    put: list[tuple[dict[str, Any], bool]],
    referrers: list[str],
) -> list[Change]:
    """Removes, then Puts, table by table: the engine writes each run of changes
    to one table as one statement. A task's referrer rows are rewritten only when
    its place in the list order (or the episode's referrers) changed."""
    gone = [{"task_id": row["task_id"]} for row in removed]
    return [
        *(Remove(TASKS.name, match) for match in gone),
        *(Remove(TASK_REFERRERS.name, match) for match in gone),
        *(Put(TASKS.name, row) for row, _ in put),
        *(
            Put(
                TASK_REFERRERS.name,
                {"referrer_id": referrer, **{c: row[c] for c in ORDER}},
            )
            for row, moved in put
            if moved
            for referrer in referrers
        ),
    ]
