"""What the audit answers readers: one episode's row (DESIGN §4) and the summary.

Both take stored rows (as the projection put them) and the reader's `now`, so the
SQL views only fetch rows; a finding counts when it is due at `now`.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.referral_audit.findings import RULES, Severity, is_due
from projections.referral_audit.metrics import metrics_as_of
from projections.referral_audit.parameters import RULES_V1, AuditRules

Row = Mapping[str, Any]
RULE_ORDER = {rule.id: index for index, rule in enumerate(RULES)}
FINDING_FIELDS = ("rule", "name", "severity", "at_version", "detail")
# Most severe first, as a reader scans them.
SEVERITIES = tuple(sorted(Severity, key=lambda severity: -severity.rank))


def audit_row(
    episode_row: Row,
    finding_rows: Iterable[Row],
    now: datetime,
    rules: AuditRules = RULES_V1,
) -> dict[str, Any]:
    """GET /audit/referral-loops/{id}: the episode and its findings due at `now`."""
    due = sorted(
        (row for row in finding_rows if is_due(row, now)),
        key=lambda row: (RULE_ORDER[row["rule"]], row["at_version"], row["subject"]),
    )
    return {
        "episode_id": episode_row["episode_id"],
        "patient_id": episode_row["patient_id"],
        "referrer_id": episode_row["referrer_id"],
        "pathway": list(episode_row["pathway"]),
        "findings": [{key: row[key] for key in FINDING_FIELDS} for row in due],
        "rules_version": episode_row["rules_version"],
        "red_flag_exempt": episode_row["red_flag_exempt"],
        "metrics": metrics_as_of(episode_row, now, rules),
    }


@dataclass(frozen=True)
class Count:
    """How often something was found: findings, and episodes with at least one."""

    key: str
    episodes: int
    flagged: int
    findings: int
    rate: float | None
    """flagged / episodes."""


@dataclass(frozen=True)
class GroupCount(Count):
    """One referrer's or surgeon's episodes, and how many episodes each rule flagged."""

    by_rule: dict[str, int]


@dataclass(frozen=True)
class Share:
    """Episodes that met a condition among those old enough to be judged."""

    count: int
    eligible: int
    rate: float | None


@dataclass(frozen=True)
class PathwayMetrics:
    """DOMAIN.md pathway metrics over the episodes: medians for durations and counts."""

    median_days_to_pain_generator: float | None
    median_days_to_surgery_referral: float | None
    median_injections_before_surgery_referral: float | None
    median_conservative_care_weeks: float | None
    meaningful_change: dict[str, Share]
    """By horizon: "3_months", "6_months"."""
    severe_radicular_without_surgery: Share


@dataclass(frozen=True)
class AuditSummary:
    """Counts and rates per rule, severity, referrer and surgeon; pathway metrics."""

    as_of: datetime
    rules_version: int
    rules_profile: str
    episodes: int
    flagged: int
    red_flag_exempt: int
    by_rule: tuple[Count, ...]
    """Keyed "R1 surgeon_pain_surgeon_loop (high)", in rule order."""
    by_severity: tuple[Count, ...]
    by_referrer: tuple[GroupCount, ...]
    by_surgeon: tuple[GroupCount, ...]
    metrics: PathwayMetrics

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-able data (`as_of` in ISO 8601)."""
        return {**dataclasses.asdict(self), "as_of": self.as_of.isoformat()}

    def table(self) -> list[dict[str, Any]]:
        """One flat row per figure, for the terminal table and the CSV file."""
        rows = []
        for section, counts in (
            ("rule", self.by_rule),
            ("severity", self.by_severity),
            ("referrer", self.by_referrer),
            ("surgeon", self.by_surgeon),
        ):
            rows += [_line(section, count) for count in counts]
        metrics = self.metrics
        medians = {
            "median_days_to_pain_generator": metrics.median_days_to_pain_generator,
            "median_days_to_surgery_referral": metrics.median_days_to_surgery_referral,
            "median_injections_before_surgery_referral": (
                metrics.median_injections_before_surgery_referral
            ),
            "median_conservative_care_weeks": metrics.median_conservative_care_weeks,
        }
        rows += [_line("metric", None, key=key, value=v) for key, v in medians.items()]
        shares = {
            **{
                f"meaningful_change_by_{k}": v
                for k, v in metrics.meaningful_change.items()
            },
            "severe_radicular_without_surgery": (
                metrics.severe_radicular_without_surgery
            ),
        }
        rows += [_line("metric", None, key=key, share=v) for key, v in shares.items()]
        return rows


def summarize(
    episode_rows: Iterable[Row],
    finding_rows: Iterable[Row],
    now: datetime,
    rules: AuditRules = RULES_V1,
) -> AuditSummary:
    """The audit summary of these episodes, counting the findings due at `now`."""
    episodes = {row["episode_id"]: row for row in episode_rows}
    due: dict[str, list[Row]] = defaultdict(list)
    for row in finding_rows:
        if row["episode_id"] in episodes and is_due(row, now):
            due[row["episode_id"]].append(row)
    by_referrer: dict[str, list[str]] = defaultdict(list)
    by_surgeon: dict[str, list[str]] = defaultdict(list)
    for episode_id, row in episodes.items():
        by_referrer[row["referrer_id"]].append(episode_id)
        for surgeon_id in row["surgeon_ids"]:
            by_surgeon[surgeon_id].append(episode_id)
    every = list(episodes)
    return AuditSummary(
        as_of=now,
        rules_version=rules.version,
        rules_profile=rules.profile,
        episodes=len(every),
        flagged=sum(1 for episode_id in every if due[episode_id]),
        red_flag_exempt=sum(1 for row in episodes.values() if row["red_flag_exempt"]),
        by_rule=tuple(
            _count(f"{r.id} {r.name} ({r.severity.value})", every, due, rule=r.id)
            for r in RULES
        ),
        by_severity=tuple(
            _count(s.value, every, due, severity=s.value) for s in SEVERITIES
        ),
        by_referrer=tuple(
            _group(k, ids, due) for k, ids in sorted(by_referrer.items())
        ),
        by_surgeon=tuple(_group(k, ids, due) for k, ids in sorted(by_surgeon.items())),
        metrics=_pathway_metrics(
            [metrics_as_of(row, now, rules) for row in episodes.values()], rules
        ),
    )


def _count(
    key: str, episode_ids: Sequence[str], due: Mapping[str, list[Row]], **match: str
) -> Count:
    """Due findings matching `match` (all of them when empty) over these episodes."""
    matching = {
        e: [row for row in due[e] if all(row[k] == v for k, v in match.items())]
        for e in episode_ids
    }
    flagged = sum(1 for rows in matching.values() if rows)
    findings = sum(len(rows) for rows in matching.values())
    return Count(
        key, len(episode_ids), flagged, findings, _rate(flagged, len(episode_ids))
    )


def _group(
    key: str, episode_ids: Sequence[str], due: Mapping[str, list[Row]]
) -> GroupCount:
    total = _count(key, episode_ids, due)
    by_rule = {r.id: _count(r.id, episode_ids, due, rule=r.id).flagged for r in RULES}
    return GroupCount(**dataclasses.asdict(total), by_rule=by_rule)


def _pathway_metrics(
    metrics: list[dict[str, Any]], rules: AuditRules
) -> PathwayMetrics:
    return PathwayMetrics(
        median_days_to_pain_generator=_median(metrics, "days_to_pain_generator"),
        median_days_to_surgery_referral=_median(metrics, "days_to_surgery_referral"),
        median_injections_before_surgery_referral=_median(
            metrics, "injections_before_surgery_referral"
        ),
        median_conservative_care_weeks=_median(metrics, "conservative_care_weeks"),
        meaningful_change={
            label: _share(metrics, f"meaningful_change_by_{label}")
            for label in rules.outcome_horizons
        },
        severe_radicular_without_surgery=_share(
            metrics, "severe_radicular_without_surgery"
        ),
    )


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 3) if total else None


def _median(metrics: list[dict[str, Any]], key: str) -> float | None:
    values = [m[key] for m in metrics if m[key] is not None]
    return round(float(statistics.median(values)), 1) if values else None


def _share(metrics: list[dict[str, Any]], key: str) -> Share:
    """True counts, False is judged but not met, None is not judged yet."""
    judged = [m[key] for m in metrics if m[key] is not None]
    count = sum(1 for value in judged if value)
    return Share(count, len(judged), _rate(count, len(judged)))


def _line(
    section: str,
    count: Count | None,
    *,
    key: str = "",
    value: float | None = None,
    share: Share | None = None,
) -> dict[str, Any]:
    """One table row; a Share reads as eligible episodes, how many met it, the rate."""
    line = {
        "section": section,
        "key": key,
        "episodes": None,
        "flagged": None,
        "findings": None,
        "rate": None,
        "value": value,
    }
    if count is not None:
        line.update(
            key=count.key,
            episodes=count.episodes,
            flagged=count.flagged,
            findings=count.findings,
            rate=count.rate,
        )
    if share is not None:
        line.update(episodes=share.eligible, flagged=share.count, rate=share.rate)
    return line
