"""Running totals of open tasks by due date, readable in a bounded number of rows.

The summary needs, per kind and per assignee, how many open tasks are overdue at
the reader's `now`, which handlers cannot know. Counting per due day would make
the summary read one row per (group, day): a year of days per group, growing
with the data. Instead each task is counted once per level of a calendar in
powers of four (level 0: its day, level 1: its run of 4 days, level 2: of 16,
... the top level: every day), so "due before today" is the sum of at most
3 buckets per level (27 in all) per group, whatever the number of tasks or days,
and the top-level bucket is the group's total. A task counts in 10 buckets per
group. Today's tasks are then counted exactly from the tasks table (due_at
between midnight UTC and now).
"""

from __future__ import annotations

from datetime import date

BITS = 2
"""Each level groups 2**BITS buckets of the level below."""
LEVELS = 9
"""(2**BITS)**LEVELS days from EPOCH reach beyond the year 2600."""
SPAN = BITS * LEVELS
EPOCH = date(1970, 1, 1)
LAST_DAY = 2**SPAN - 1
TOTAL = LEVELS << SPAN
"""The top-level bucket, which holds every day: a group's open total."""


def day_number(day: date) -> int:
    """Days since EPOCH, clamped to the calendar's range (days before it are all
    long overdue; days past it are never overdue before the year 2600)."""
    return min(max((day - EPOCH).days, 0), LAST_DAY)


def buckets_of(day: date) -> list[int]:
    """The buckets a task due on `day` counts in: one per level, TOTAL last."""
    n = day_number(day)
    return [(level << SPAN) | (n >> (BITS * level)) for level in range(LEVELS + 1)]


def buckets_before(day: date) -> list[int]:
    """The buckets whose days, together, are exactly those before `day`.

    At each level, the buckets left of `day`'s own within its parent: their count
    is `day`'s digit at that level.
    """
    n = day_number(day)
    found = []
    for level in range(LEVELS):
        index = n >> (BITS * level)
        digit = index & (2**BITS - 1)
        found += [(level << SPAN) | (index - j) for j in range(1, digit + 1)]
    return found
