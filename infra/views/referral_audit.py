"""The referral-loop audit's queries: the paged list, one episode, and the summary.

Time-based findings (R8-R10) and shares with a horizon are judged here, at query
time: a row with a deadline counts once the reader's `now` has passed it. The
summary reads the maintained totals (projections.referral_audit.totals): the
counter buckets wholly before today, today's due instants up to `now`, and the
medians from the histogram, so its cost does not grow with the episodes.

While a generation of projection version 2 (rule set v1) still serves, during
the rebuild to version 3, its rows are read as v1 shaped them.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

from infra.projection import ReadModels, ViewCursor
from projections.referral_audit import (
    AuditFilters,
    AuditRulesV2,
    AuditSummary,
    PageKey,
    ReferralAuditProjection,
    audit_rules,
    report,
    totals,
)
from projections.referral_audit import summary as v1_summary

NAME = ReferralAuditProjection.name
VERSION = ReferralAuditProjection.version

COUNTS = (
    "SELECT counter, CAST(SUM(findings) AS BIGINT) AS n_findings, "
    "CAST(SUM(episodes) AS BIGINT) AS n_episodes FROM ("
    "SELECT counter, findings, episodes FROM {counters} WHERE bucket = ? "
    + "UNION ALL SELECT counter, findings, episodes FROM {counters} "
    "WHERE bucket >= ? AND bucket < ? "
    * 3
    + "UNION ALL SELECT counter, findings, episodes FROM {dues} "
    "WHERE due_at >= ? AND due_at <= ?) t GROUP BY counter "
    "HAVING SUM(findings) <> 0 OR SUM(episodes) <> 0"
)
# The histogram rows that hold the median's position(s) (n + 1) / 2 and n / 2 + 1.
MEDIANS = (
    "SELECT metric, value, upto, n, total FROM ("
    "SELECT metric, value, n, "
    "CAST(SUM(n) OVER (PARTITION BY metric ORDER BY value "
    "ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto, "
    "CAST(SUM(n) OVER (PARTITION BY metric) AS BIGINT) AS total "
    "FROM {histogram} WHERE n > 0) t "
    "WHERE (upto - n < (total + 1) / 2 AND upto >= (total + 1) / 2) "
    "OR (upto - n < total / 2 + 1 AND upto >= total / 2 + 1) "
    "ORDER BY metric, value"
)


class SqlReferralAuditView:
    """The referral-loop audit's questions answered from its serving tables."""

    def __init__(self, read_models: ReadModels, rules: AuditRulesV2) -> None:
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
                self._row(cur, e, findings.get(e["episode_id"], []), now) for e in page
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
            audited = self._row(cur, row, findings.get(row["episode_id"], []), now)
        return audited, referrers

    def summary(self, now: datetime) -> AuditSummary:
        """Counts and rates per rule, severity, referrer and surgeon; pathway metrics."""
        with self.read_models.cursor(NAME) as cur:
            if _legacy(cur):
                return self._legacy_summary(cur, now)
            params: list[Any] = [""]
            for low, high in totals.bucket_ranges(now):
                params += [low, high]
            today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
            params += [today, now]
            counts = {
                row["counter"]: (row["n_findings"], row["n_episodes"])
                for row in cur.execute(COUNTS, params).fetchall()
            }
            medians = _medians(cur.execute(MEDIANS).fetchall())
        return report.summary(counts, medians, now, self.rules)

    def position(self) -> int:
        """The global position the serving audit tables have processed."""
        with self.read_models.cursor(NAME) as cur:
            return cur.position

    def _row(
        self,
        cur: ViewCursor,
        episode: dict[str, Any],
        findings: list[dict[str, Any]],
        now: datetime,
    ) -> dict[str, Any]:
        if not _legacy(cur):
            return report.audit_row(episode, findings, now, self.rules)
        rules = audit_rules(episode["rules_profile"], version=1)
        row = v1_summary.audit_row(episode, findings, now, rules)
        return {
            **row,
            "rules_profile": episode["rules_profile"],
            "surgery_referrals": [],
        }

    @staticmethod
    def _legacy_summary(cur: ViewCursor, now: datetime) -> AuditSummary:
        """A v1 generation's summary, as v1 computed it (only while it serves)."""
        episodes = cur.execute("SELECT * FROM {episodes}").fetchall()
        findings = cur.execute("SELECT * FROM {findings}").fetchall()
        profile = episodes[0]["rules_profile"] if episodes else "payer"
        return v1_summary.summarize(
            episodes, findings, now, audit_rules(profile, version=1)
        )

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
        for referrer in (filters.physician_id, filters.referrer_id):
            if referrer is not None:
                where.append(
                    "EXISTS (SELECT 1 FROM {referrers} r "
                    "WHERE r.episode_id = e.episode_id AND r.referrer_id = ?)"
                )
                params.append(referrer)
        if filters.occurred_from is not None:
            where.append("e.opened_at >= ?")
            params.append(filters.occurred_from)
        if filters.occurred_to is not None:
            where.append("e.opened_at < ?")
            params.append(filters.occurred_to)
        return where, params


def _legacy(cur: ViewCursor) -> bool:
    """Whether the serving generation is an older projection version (rule set v1)."""
    return cur.generation.version < VERSION


def _medians(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Each metric's median from the histogram rows holding its middle position(s)."""
    found: dict[str, float | None] = dict.fromkeys(totals.MEDIANS)
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_metric.setdefault(row["metric"], []).append(row)
    for metric, held in by_metric.items():
        total = held[0]["total"]
        middle = []
        for position in sorted({(total + 1) // 2, total // 2 + 1}):
            middle += [
                r["value"] for r in held if r["upto"] - r["n"] < position <= r["upto"]
            ]
        found[metric] = round(sum(middle) / len(middle), 1) if middle else None
    return found
