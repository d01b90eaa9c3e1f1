"""What the v2 audit answers readers: one episode's row, and the summary from totals.

Both take what the view fetched (stored rows; summed counters and medians) and
the reader's `now`; a finding counts once it is due at `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from projections.referral_audit.findings import V2_RULES, is_due
from projections.referral_audit.metrics_v2 import horizons, metrics_as_of
from projections.referral_audit.rules_v2 import RULES_V2, AuditRulesV2
from projections.referral_audit.summary import (
    SEVERITIES,
    AuditSummary,
    Count,
    GroupCount,
    PathwayMetrics,
    Share,
)
from projections.referral_audit.totals import MEDIANS

Row = Mapping[str, Any]
Totals = Mapping[str, tuple[int, int]]
"""Counter name -> (findings, episodes) due at the reader's `now`."""
RULE_ORDER = {rule.id: index for index, rule in enumerate(V2_RULES)}
FINDING_FIELDS = (
    "rule", "name", "severity", "at_version", "detail", "scope", "referrer_id",
    "surgeon_id", "fires_at",
)  # fmt: skip


def audit_row(
    episode_row: Row,
    finding_rows: Iterable[Row],
    now: datetime,
    rules: AuditRulesV2 = RULES_V2,
) -> dict[str, Any]:
    """GET /audit/referral-loops/{id}: the episode, its findings due at `now`, and
    each surgery referral with its exemption and its own findings."""
    due = sorted(
        (row for row in finding_rows if is_due(row, now)),
        key=lambda row: (RULE_ORDER[row["rule"]], row["at_version"], row["subject"]),
    )
    findings = [{key: row.get(key) for key in FINDING_FIELDS} for row in due]
    referrals = [
        {
            **referral,
            "findings": [
                row["rule"]
                for row in due
                if row.get("surgery_version") == referral["at_version"]
            ],
        }
        for referral in episode_row.get("surgery_referrals") or ()
    ]
    return {
        "episode_id": episode_row["episode_id"],
        "patient_id": episode_row["patient_id"],
        "referrer_id": episode_row["referrer_id"],
        "pathway": list(episode_row["pathway"]),
        "findings": findings,
        "surgery_referrals": referrals,
        "rules_version": episode_row["rules_version"],
        "rules_profile": episode_row["rules_profile"],
        "red_flag_exempt": episode_row["red_flag_exempt"],
        "metrics": metrics_as_of(episode_row, now, rules),
    }


def summary(
    counts: Totals,
    medians: Mapping[str, float | None],
    now: datetime,
    rules: AuditRulesV2 = RULES_V2,
) -> AuditSummary:
    """The summary from the counters due at `now` and the metrics' medians."""

    def found(name: str) -> tuple[int, int]:
        return counts.get(name, (0, 0))

    total = found("episodes")[1]

    def count(key: str, tally: tuple[int, int], episodes: int) -> Count:
        findings, flagged = tally
        return Count(key, episodes, flagged, findings, _rate(flagged, episodes))

    # One pass over the counters: "KIND ID", "KIND-rule RULE ID", "KIND-episodes ID".
    groups: dict[str, dict[str, dict[str, tuple[int, int]]]] = {
        "referrer": {},
        "surgeon": {},
    }
    for name, tally in counts.items():
        kind, _, rest = name.partition(" ")
        base, _, part = kind.partition("-")
        if base not in groups or not rest:
            continue
        if part == "rule":
            rule, _, member = rest.partition(" ")
            groups[base].setdefault(member, {})[rule] = tally
        elif part in ("", "episodes"):
            groups[base].setdefault(rest, {})[part or "all"] = tally

    def group(member: str, tallies: dict[str, tuple[int, int]]) -> GroupCount:
        episodes = tallies.get("episodes", (0, 0))[1]
        base = count(member, tallies.get("all", (0, 0)), episodes)
        by_rule = {r.id: tallies.get(r.id, (0, 0))[1] for r in V2_RULES}
        return GroupCount(
            base.key, base.episodes, base.flagged, base.findings, base.rate, by_rule
        )

    def members(kind: str) -> list[GroupCount]:
        return [
            group(member, tallies)
            for member, tallies in sorted(groups[kind].items())
            if tallies.get("episodes", (0, 0))[1] > 0
        ]

    def share(key: str) -> Share:
        eligible = found(f"share {key} eligible")[1]
        met = found(f"share {key} met")[1]
        return Share(met, eligible, _rate(met, eligible))

    shares = list(horizons(rules))
    return AuditSummary(
        as_of=now,
        rules_version=rules.version,
        rules_profile=rules.profile,
        episodes=total,
        flagged=found("any")[1],
        red_flag_exempt=found("exempt")[1],
        by_rule=tuple(
            count(f"{r.id} {r.name} ({r.severity.value})", found(f"rule {r.id}"), total)
            for r in V2_RULES
        ),
        by_severity=tuple(
            count(s.value, found(f"severity {s.value}"), total) for s in SEVERITIES
        ),
        by_referrer=tuple(members("referrer")),
        by_surgeon=tuple(members("surgeon")),
        metrics=PathwayMetrics(
            **{f"median_{m}": medians.get(m) for m in MEDIANS},
            meaningful_change={
                label: share(f"meaningful_change_{label}")
                for label in rules.outcome_horizons
            },
            severe_radicular_without_surgery=share(shares[-1]),
        ),
    )


def median(values: Mapping[float, int]) -> float | None:
    """The median of a histogram (value -> how many), as statistics.median."""
    n = sum(values.values())
    if n <= 0:
        return None
    ordered = sorted((v, c) for v, c in values.items() if c > 0)
    wanted = sorted({(n + 1) // 2, n // 2 + 1})
    found: list[float] = []
    seen = 0
    for value, c in ordered:
        seen += c
        while wanted and seen >= wanted[0]:
            found.append(value)
            wanted.pop(0)
    return round(sum(found) / len(found), 1)


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 3) if total else None
