"""Rates per measure, per referrer and per period, from decisions counted at `now`.

The view counts the decision rows per (measure, referrer, month, status,
exclusion) as they read at the reader's `now`; `summarize` adds them up. A
rate is numerator / denominator, the denominator being the eligible episodes
less the excluded ones (HEDIS, MIPS); pending decisions count nowhere yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.quality_measures.decisions import Status
from projections.quality_measures.parameters import MeasureRules

PERIODS = ("month", "quarter", "year")


@dataclass(frozen=True)
class Rate:
    """One group's counts and rate."""

    key: str
    """The measure id, a referrer id or a period ("2026-03", "2026-Q1", "2026")."""
    eligible: int
    excluded: int
    denominator: int
    numerator: int
    rate: float | None
    pending: int
    not_eligible: int
    exclusions: dict[str, int]


@dataclass(frozen=True)
class MeasureReport:
    """One measure: its definition, its overall rate and the rate per group."""

    measure: str
    name: str
    unit: str
    inverted: bool
    source: str
    denominator_definition: str
    numerator_definition: str
    exclusions_definition: str
    overall: Rate
    by_referrer: tuple[Rate, ...]
    by_period: tuple[Rate, ...]


@dataclass(frozen=True)
class MeasuresSummary:
    """Every measure's rates at `as_of`, with the parameters' version."""

    as_of: datetime
    rules_version: int
    period: str
    measures: tuple[MeasureReport, ...]

    def table(self) -> list[dict[str, Any]]:
        """One flat row per figure, for the terminal table and the CSV file."""
        rows = []
        for report in self.measures:
            for section, rates in (
                ("all", (report.overall,)),
                ("referrer", report.by_referrer),
                (self.period, report.by_period),
            ):
                for rate in rates:
                    line = dataclasses.asdict(rate)
                    line["exclusions"] = ", ".join(
                        f"{name} {n}" for name, n in sorted(rate.exclusions.items())
                    )
                    rows.append({"measure": report.measure, "section": section, **line})
        return rows


def period_of(month: str, period: str) -> str:
    """The period a UTC month ("2026-03") falls in: itself, "2026-Q1" or "2026"."""
    if period == "year":
        return month[:4]
    if period == "quarter":
        return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"
    return month


def summarize(
    groups: Iterable[Mapping[str, Any]],
    now: datetime,
    rules: MeasureRules,
    period: str = "month",
    measures: Iterable[str] | None = None,
) -> MeasuresSummary:
    """The summary from rows of (measure, referrer_id, period, status, exclusion, n)."""
    if period not in PERIODS:
        raise ValueError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    wanted = list(measures) if measures is not None else list(rules.measures)
    tallies: dict[str, dict[str, dict[str, _Tally]]] = {
        m: {"all": {}, "referrer": {}, "period": {}} for m in wanted
    }
    for group in groups:
        sections = tallies.get(group["measure"])
        if sections is None:
            continue
        keys = {
            "all": group["measure"],
            "referrer": group["referrer_id"],
            "period": period_of(group["period"], period),
        }
        for section, key in keys.items():
            tally = sections[section].setdefault(key, _Tally())
            tally.add(group["status"], group["exclusion"], int(group["n"]))
    reports = []
    for measure_id in wanted:
        definition = rules.measures[measure_id]
        sections = tallies[measure_id]
        overall = sections["all"].get(measure_id, _Tally()).rate(measure_id)
        reports.append(
            MeasureReport(
                measure=measure_id,
                name=definition.name,
                unit=definition.unit,
                inverted=definition.inverted,
                source=definition.source,
                denominator_definition=definition.denominator,
                numerator_definition=definition.numerator,
                exclusions_definition=definition.exclusions,
                overall=overall,
                by_referrer=_rates(sections["referrer"]),
                by_period=_rates(sections["period"]),
            )
        )
    return MeasuresSummary(now, rules.version, period, tuple(reports))


def _rates(tallies: Mapping[str, _Tally]) -> tuple[Rate, ...]:
    return tuple(tallies[key].rate(key) for key in sorted(tallies))


class _Tally:
    """Counts of one group, by status and exclusion."""

    def __init__(self) -> None:
        self.by_status: dict[str, int] = {}
        self.exclusions: dict[str, int] = {}

    def add(self, status: str, exclusion: str | None, n: int) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + n
        if status == Status.EXCLUDED.value and exclusion:
            self.exclusions[exclusion] = self.exclusions.get(exclusion, 0) + n

    def rate(self, key: str) -> Rate:
        count = self.by_status.get
        numerator = count(Status.NUMERATOR.value, 0)
        denominator = numerator + count(Status.DENOMINATOR.value, 0)
        excluded = count(Status.EXCLUDED.value, 0)
        return Rate(
            key=key,
            eligible=denominator + excluded,
            excluded=excluded,
            denominator=denominator,
            numerator=numerator,
            rate=round(numerator / denominator, 4) if denominator else None,
            pending=count(Status.PENDING.value, 0),
            not_eligible=count(Status.NOT_ELIGIBLE.value, 0),
            exclusions=dict(sorted(self.exclusions.items())),
        )


def decision_item(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A stored decision as a reader sees it at `now`: while its window is open,
    the early verdict, with the one it turns into (`final`) if nothing changes."""
    due = row["due_at"]
    open_window = due is not None and row["early_status"] is not None and now < due
    final = {
        "status": row["status"],
        "exclusion": row["exclusion"],
        "reason": row["reason"],
    }
    shown = (
        {
            "status": row["early_status"],
            "exclusion": row["early_exclusion"],
            "reason": row["early_reason"],
        }
        if open_window
        else final
    )
    return {
        "measure": row["measure"],
        "episode_id": row["episode_id"],
        "subject": row["subject"],
        "patient_id": row["patient_id"],
        "referrer_id": row["referrer_id"],
        "opened_at": row["opened_at"],
        "anchor_at": row["anchor_at"],
        "period": row["period"],
        **shown,
        "due_at": due,
        "final": final if open_window else None,
        "deciding": row["deciding"],
    }
