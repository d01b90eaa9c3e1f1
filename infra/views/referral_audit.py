"""The referral-loop audit's queries: the paged list, one episode, and the summary.

Time-based findings (R8-R10) are judged here, at query time: a finding with a
deadline counts once the reader's `now` has passed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from infra.projection import ReadModels, ViewCursor
from projections.referral_audit import (
    AuditFilters,
    AuditRules,
    AuditSummary,
    PageKey,
    ReferralAuditProjection,
    audit_row,
    summarize,
)

NAME = ReferralAuditProjection.name


class SqlReferralAuditView:
    """The referral-loop audit's questions answered from its serving tables."""

    def __init__(self, read_models: ReadModels, rules: AuditRules) -> None:
        self.read_models = read_models
        self.rules = rules

    def page(
        self, filters: AuditFilters, now: datetime, after: PageKey | None, limit: int
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """One page of audit rows in (opened_at, episode_id) order, and the next cursor."""
        where, params = self._where(filters, now)
        if after is not None:
            where.append("(e.opened_at > ? OR (e.opened_at = ? AND e.episode_id > ?))")
            params += [after[0], after[0], after[1]]
        clause = " AND ".join(where) or "1 = 1"
        with self.read_models.cursor(NAME) as cur:
            episodes = cur.execute(
                f"SELECT e.* FROM {{episodes}} e WHERE {clause} "
                "ORDER BY e.opened_at, e.episode_id LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
            page = episodes[:limit]
            findings = self._findings(cur, [row["episode_id"] for row in page])
        rows = [
            audit_row(e, findings.get(e["episode_id"], []), now, self.rules)
            for e in page
        ]
        more = len(episodes) > limit
        last = page[-1] if page else None
        return rows, (last["opened_at"], last["episode_id"]) if more and last else None

    def episode(
        self, episode_id: UUID, now: datetime
    ) -> tuple[dict[str, Any], set[str]] | None:
        """One episode's audit row and its referrers, or None if it is not audited."""
        with self.read_models.cursor(NAME) as cur:
            row = cur.execute(
                "SELECT * FROM {episodes} WHERE episode_id = ?", [str(episode_id)]
            ).fetchone()
            if row is None:
                return None
            findings = self._findings(cur, [row["episode_id"]])
            referrers = {
                r["referrer_id"]
                for r in cur.execute(
                    "SELECT referrer_id FROM {referrers} WHERE episode_id = ?",
                    [str(episode_id)],
                ).fetchall()
            }
        return audit_row(
            row, findings.get(row["episode_id"], []), now, self.rules
        ), referrers

    def summary(self, now: datetime) -> AuditSummary:
        """Counts and rates per rule, severity, referrer and surgeon; pathway metrics."""
        with self.read_models.cursor(NAME) as cur:
            episodes = cur.execute("SELECT * FROM {episodes}").fetchall()
            findings = cur.execute("SELECT * FROM {findings}").fetchall()
        return summarize(episodes, findings, now, self.rules)

    def position(self) -> int:
        """The global position the serving audit tables have processed."""
        with self.read_models.cursor(NAME) as cur:
            return cur.position

    @staticmethod
    def _findings(
        cur: ViewCursor, episode_ids: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        if episode_ids:
            marks = ", ".join("?" * len(episode_ids))
            for row in cur.execute(
                f"SELECT * FROM {{findings}} WHERE episode_id IN ({marks})", episode_ids
            ).fetchall():
                found.setdefault(row["episode_id"], []).append(row)
        return found

    @staticmethod
    def _where(filters: AuditFilters, now: datetime) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if filters.flagged_only or filters.rule or filters.severity:
            finding = [
                "f.episode_id = e.episode_id",
                "(f.fires_at IS NULL OR f.fires_at <= ?)",
            ]
            params.append(now)
            for column in ("rule", "severity"):
                if getattr(filters, column) is not None:
                    finding.append(f"f.{column} = ?")
                    params.append(getattr(filters, column))
            where.append(
                f"EXISTS (SELECT 1 FROM {{findings}} f WHERE {' AND '.join(finding)})"
            )
        if filters.surgeon_id is not None:
            where.append(
                "EXISTS (SELECT 1 FROM {surgeons} s "
                "WHERE s.episode_id = e.episode_id AND s.surgeon_id = ?)"
            )
            params.append(filters.surgeon_id)
        if filters.physician_id is not None:
            where.append(
                "EXISTS (SELECT 1 FROM {referrers} r "
                "WHERE r.episode_id = e.episode_id AND r.referrer_id = ?)"
            )
            params.append(filters.physician_id)
        if filters.referrer_id is not None:
            where.append("e.referrer_id = ?")
            params.append(filters.referrer_id)
        if filters.occurred_from is not None:
            where.append("e.opened_at >= ?")
            params.append(filters.occurred_from)
        if filters.occurred_to is not None:
            where.append("e.opened_at < ?")
            params.append(filters.occurred_to)
        return where, params
