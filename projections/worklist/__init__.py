"""The clinical worklist read model: what each clinician must do next, and by when.

`tasks` derives an episode's open tasks from its clinical facts (DOMAIN.md
"Worklist tasks", parameters in `rules`); `projection` keeps them as rows and
running totals (`counts`); `summary` shapes stored rows for readers at their
`now`; `view` is the questions the read model answers (SQL in infra.views).
"""

from projections.worklist.counts import TOTAL, buckets_before, buckets_of
from projections.worklist.projection import (
    COUNTS,
    ORDER,
    TASK_REFERRERS,
    TASKS,
    WorklistProjection,
    task_id,
)
from projections.worklist.rules import (
    RULES_V1,
    Due,
    FollowUp,
    WorklistRules,
    worklist_rules,
)
from projections.worklist.summary import (
    AssigneeCount,
    KindCount,
    PriorityCount,
    WorklistSummary,
    is_overdue,
    shown_priority,
    summarize,
    task_item,
)
from projections.worklist.tasks import Priority, Task, TaskKind, open_tasks
from projections.worklist.view import PageKey, WorklistFilters, WorklistView

__all__ = [
    "COUNTS",
    "ORDER",
    "RULES_V1",
    "TASKS",
    "TASK_REFERRERS",
    "TOTAL",
    "AssigneeCount",
    "Due",
    "FollowUp",
    "KindCount",
    "PageKey",
    "Priority",
    "PriorityCount",
    "Task",
    "TaskKind",
    "WorklistFilters",
    "WorklistProjection",
    "WorklistRules",
    "WorklistSummary",
    "WorklistView",
    "buckets_before",
    "buckets_of",
    "is_overdue",
    "open_tasks",
    "shown_priority",
    "summarize",
    "task_id",
    "task_item",
    "worklist_rules",
]
