"""The quality measures' queries: rates per measure, referrer and period, and one
measure's decisions page by page.

Decisions whose window is still open are judged here, at query time: a row
with `due_at` after the reader's `now` reads as its early verdict (LBP-IMG
pending, PROM-REG too young), as the audit judges its deadlines. The summary
counts rows per (measure, referrer, month, status, exclusion) in the database
and adds the groups up in `projections.quality_measures.report`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infra.projection import ReadModels
from projections.quality_measures import (
    ORDER,
    MeasureFilters,
    MeasureRules,
    MeasuresSummary,
    PageKey,
    QualityMeasuresProjection,
    summarize,
)
from projections.quality_measures.report import decision_item

NAME = QualityMeasuresProjection.name
Query = tuple[str, list[Any]]


def _now(column: str) -> str:
    """A column as it reads at the `?` instant (the early one while due)."""
    return (
        f"CASE WHEN d.due_at IS NOT NULL AND d.due_at > ? "
        f"THEN d.early_{column} ELSE d.{column} END"
    )


class SqlQualityMeasuresView:
    """The quality measures' questions answered from their serving tables."""

    def __init__(self, read_models: ReadModels, rules: MeasureRules) -> None:
        self.read_models = read_models
        self.rules = rules

    def summary(
        self, filters: MeasureFilters, now: datetime, period: str
    ) -> MeasuresSummary:
        """Rates per measure, per referrer and per period, judged at `now`."""
        sql, params = summary_query(filters, now)
        rows = self.read_models.query(NAME, sql, params)
        return summarize(rows, now, self.rules, period, filters.measures)

    def page(
        self,
        measure: str,
        filters: MeasureFilters,
        now: datetime,
        after: PageKey | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """One page of a measure's decisions in (anchor_at, episode_id, subject)
        order, each as it reads at `now`, and the next page's key."""
        sql, params = page_query(measure, filters, now, after, limit + 1)
        rows = self.read_models.query(NAME, sql, params)
        page = rows[:limit]
        last = page[-1] if page and len(rows) > limit else None
        key = (last["anchor_at"], last["episode_id"], last["subject"]) if last else None
        return [decision_item(row, now) for row in page], key

    def position(self) -> int:
        """The global position the serving tables have processed."""
        with self.read_models.cursor(NAME) as cur:
            return cur.position


def _where(filters: MeasureFilters, now: datetime) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if filters.measures is not None:
        where.append(f"d.measure IN ({', '.join('?' * len(filters.measures))})")
        params += list(filters.measures)
    if filters.referrer_id is not None:
        where.append("d.referrer_id = ?")
        params.append(filters.referrer_id)
    if filters.episode_id is not None:
        where.append("d.episode_id = ?")
        params.append(filters.episode_id)
    if filters.physician_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM {referrers} r "
            "WHERE r.episode_id = d.episode_id AND r.referrer_id = ?)"
        )
        params.append(filters.physician_id)
    if filters.occurred_from is not None:
        where.append("d.anchor_at >= ?")
        params.append(filters.occurred_from)
    if filters.occurred_to is not None:
        where.append("d.anchor_at < ?")
        params.append(filters.occurred_to)
    if filters.status is not None:
        where.append(f"{_now('status')} = ?")
        params += [now, filters.status]
    if filters.exclusion is not None:
        where.append(f"{_now('exclusion')} = ?")
        params += [now, filters.exclusion]
    return where, params


def summary_query(filters: MeasureFilters, now: datetime) -> Query:
    """The grouped counts the summary adds up, for the view and for EXPLAIN."""
    where, params = _where(filters, now)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = (
        "SELECT d.measure AS measure, d.referrer_id AS referrer_id, "
        f"d.period AS period, {_now('status')} AS status, "
        f"{_now('exclusion')} AS exclusion, COUNT(*) AS n "
        f"FROM {{decisions}} d{clause} GROUP BY 1, 2, 3, 4, 5"
    )
    return sql, [now, now, *params]


def page_query(
    measure: str,
    filters: MeasureFilters,
    now: datetime,
    after: PageKey | None,
    limit: int,
) -> Query:
    """The SELECT of one page of a measure's decisions (`limit` rows at most),
    walking the (measure, anchor_at, episode_id, subject) index."""
    where, params = _where(filters, now)
    where.insert(0, "d.measure = ?")
    params.insert(0, measure)
    if after is not None:
        columns = ", ".join(f"d.{c}" for c in ORDER)
        where.append(f"({columns}) > (?, ?, ?)")
        params += list(after)
    sql = (
        f"SELECT d.* FROM {{decisions}} d WHERE {' AND '.join(where)} "
        f"ORDER BY {', '.join(f'd.{c}' for c in ORDER)} LIMIT ?"
    )
    return sql, [*params, limit]
