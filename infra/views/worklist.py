"""The worklist's queries: a page of open tasks, and the summary.

Due and overdue are judged here, at query time, against the reader's `now`. A page
walks one index in (urgent_rank, due_at, task_id) order, the order of the list,
and starts after the previous page's last key, so it reads about `limit` rows
however many tasks are open, and stays correct as time passes (the order does
not depend on `now`) and as tasks open and close. The summary reads a bounded
number of running totals (projections.worklist.counts) plus today's due tasks.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from infra.projection import ReadModels
from projections.worklist import (
    ORDER,
    TOTAL,
    PageKey,
    Priority,
    WorklistFilters,
    WorklistProjection,
    WorklistRules,
    WorklistSummary,
    buckets_before,
    summarize,
    task_item,
)

NAME = WorklistProjection.name
Query = tuple[str, list[Any]]


class SqlWorklistView:
    """The worklist's questions answered from its serving tables."""

    def __init__(self, read_models: ReadModels, rules: WorklistRules) -> None:
        self.read_models = read_models
        self.rules = rules

    def page(
        self, filters: WorklistFilters, now: datetime, after: PageKey | None, limit: int
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """One page of open tasks in list order, and the key of the next page."""
        with self.read_models.cursor(NAME) as cur:
            sql, params = page_query(filters, now, after, limit + 1, cur.backend)
            rows = cur.execute(sql, params).fetchall()
        page = rows[:limit]
        last = page[-1] if page and len(rows) > limit else None
        key = (last["urgent_rank"], last["due_at"], last["task_id"]) if last else None
        return [task_item(row, now) for row in page], key

    def summary(self, now: datetime) -> WorklistSummary:
        """Open and overdue tasks per kind, priority and assignee at `now`."""
        sql, params = summary_query(now)
        with self.read_models.cursor(NAME) as cur:
            rows = cur.execute(sql, params).fetchall()
        groups = [row for row in rows if row["part"] == "groups"]
        today = [row for row in rows if row["part"] == "today"]
        return summarize(groups, today, now, self.rules.version)

    def position(self) -> int:
        """The global position the serving worklist tables have processed."""
        with self.read_models.cursor(NAME) as cur:
            return cur.position


def page_query(
    filters: WorklistFilters,
    now: datetime,
    after: PageKey | None,
    limit: int,
    backend: str,
) -> Query:
    """The SELECT of one page (`limit` rows at most) on `backend`, for the view
    and for EXPLAIN.

    The page should walk the index of its leading filter, in list order. Told
    `kind = 'outcome_due'`, PostgreSQL walks the list index instead, skipping the
    other kinds: it guesses matches turn up as often as they occur overall, but
    kinds cluster in due time (follow-ups fall due late), so it skips thousands
    (measured: 2 150 rows at 100 000 tasks). Written `kind = ANY(array)`, the
    column stays in the ORDER BY (no longer fixed by a constant), which only the
    filter's own index gives without a sort. SQLite picks the filter's index
    for the plain equality.
    """
    scope = [r for r in (filters.physician_id, filters.referrer_id) if r is not None]
    params: list[Any] = []
    where: list[str] = []
    lead: list[str] = []
    postgres = backend == "postgres"

    def leading(column: str, value: str) -> None:
        where.append(f"{column} = ANY(?)" if postgres else f"{column} = ?")
        params.append([value] if postgres else value)
        lead.append(column)

    if scope:
        # Driven by the referrer's own index, which is in list order.
        source = "{task_referrers} o JOIN {tasks} t ON t.task_id = o.task_id"
        leading("o.referrer_id", scope[0])
        for other in set(scope[1:]) - {scope[0]}:
            where.append(
                "EXISTS (SELECT 1 FROM {task_referrers} x "
                "WHERE x.task_id = t.task_id AND x.referrer_id = ?)"
            )
            params.append(other)
    else:
        source = "{tasks} t"
    order = "o" if scope else "t"
    for column in ("episode_id", "assignee", "kind"):
        value = getattr(filters, column)
        if value is None:
            continue
        if lead:
            where.append(f"t.{column} = ?")
            params.append(str(value))
        else:
            leading(f"t.{column}", str(value))
    where_, params_ = _time_filters(filters, now, order)
    where += where_
    params += params_
    keyset = [f"{order}.{column}" for column in ORDER]
    if after is not None:
        where.append(f"({', '.join(keyset)}) > (?, ?, ?)")
        params += list(after)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    columns = ", ".join([*lead, *keyset])
    sql = f"SELECT t.* FROM {source}{clause} ORDER BY {columns} LIMIT ?"
    return sql, [*params, limit]


def summary_query(now: datetime) -> Query:
    """One statement (one snapshot): per group, the running total (the TOTAL
    bucket) and those due before today (the buckets before it), summed by the
    database; and today's tasks already due, grouped."""
    today = now.astimezone(UTC).date()
    before = buckets_before(today)
    marks = ", ".join("?" * (len(before) + 1))
    sql = (
        "SELECT 'groups' AS part, axis, name, priority, escalates, "
        'SUM(CASE WHEN bucket = ? THEN "open" ELSE 0 END) AS total, '
        'SUM(CASE WHEN bucket = ? THEN 0 ELSE "open" END) AS before, '
        "NULL AS kind, NULL AS assignee, 0 AS n "
        f"FROM {{counts}} WHERE bucket IN ({marks}) "
        "GROUP BY axis, name, priority, escalates "
        "UNION ALL "
        "SELECT 'today', NULL, NULL, priority, escalates, 0, 0, kind, assignee, "
        "COUNT(*) FROM {tasks} WHERE due_at >= ? AND due_at <= ? "
        "GROUP BY kind, assignee, priority, escalates"
    )
    midnight = datetime.combine(today, time(), UTC)
    return sql, [TOTAL, TOTAL, TOTAL, *before, midnight, now]


def _time_filters(
    filters: WorklistFilters, now: datetime, order: str
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    priority = filters.priority
    if priority == Priority.URGENT.value:
        where.append(f"{order}.urgent_rank = 0")
    elif priority == Priority.HIGH.value:
        where.append(f"{order}.urgent_rank = 1")
        where.append(f"(t.priority = ? OR (t.escalates = ? AND {order}.due_at <= ?))")
        params += [Priority.HIGH.value, True, now]
    elif priority == Priority.NORMAL.value:
        where.append(f"{order}.urgent_rank = 1")
        where.append(
            f"t.priority = ? AND NOT (t.escalates = ? AND {order}.due_at <= ?)"
        )
        params += [Priority.NORMAL.value, True, now]
    if filters.overdue is True:
        where.append(f"{order}.due_at <= ?")
        params.append(now)
    elif filters.overdue is False:
        where.append(f"{order}.due_at > ?")
        params.append(now)
    if filters.due_before is not None:
        where.append(f"{order}.due_at < ?")
        params.append(filters.due_before)
    return where, params
