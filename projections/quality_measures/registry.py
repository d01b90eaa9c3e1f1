"""PROM-REG: registry follow-up completeness (American Spine Registry, ICHOM).

Denominator: episodes with an intervention, biologic or surgery referral; the
first of them in clinical time is the index. Numerator: a patient-reported
score (ODI, NRS, PROMIS) before the index (baseline), one 60-120 days after it
(90 days +/- 30) and one 305-425 days after it (1 year +/- 60), in whole
calendar days on the index's clock. Exclusion: the episode is younger than the
1-year window. That depends on the reader's clock: a decision not yet met
carries the window's end as `due_at` and reads as excluded (`younger_than_window`)
until then. A met numerator is final at once.
"""

from __future__ import annotations

from typing import Any

from projections.base import State
from projections.clinical.definitions import in_clinical_order, on, when
from projections.quality_measures.decisions import (
    Decision,
    Located,
    Status,
    Verdict,
    days_after,
    end_of_day,
)
from projections.quality_measures.imaging import opening_fact
from projections.quality_measures.parameters import PROM_REG, MeasureRules

INDEX_LISTS = ("interventions", "biologics", "surgery_referrals")


def registry_follow_up(state: State, rules: MeasureRules) -> Decision:
    """PROM-REG of one episode."""
    located = Located.of(state)
    opening = located.ref(opening_fact(state), "opening", "referrals")
    candidates = [(when(f), kind, f) for kind in INDEX_LISTS for f in state[kind]]
    if not candidates:
        reason = "no intervention, biologic or surgery referral"
        verdict = Verdict(Status.NOT_ELIGIBLE, reason)
        return Decision(PROM_REG, verdict, state["opened_at"], (opening,))
    _, kind, index = min(candidates, key=lambda c: c[0])
    index_at = index["at"]
    refs = [opening, located.ref(index, "index", kind)]
    scores = [
        f
        for f in in_clinical_order(state["outcomes"])
        if f["instrument"] in rules.registry_instruments
    ]
    missing: list[str] = []
    baseline = next((f for f in scores if when(f) < when(index)), None)
    if baseline is None:
        missing.append("no baseline before it")
    else:
        refs.append(located.ref(baseline, "baseline", "outcomes"))
    for point in rules.registry_points:
        low, high = point.window
        found = next(
            (f for f in scores if low <= days_after(index_at, f["at"]) <= high), None
        )
        if found is None:
            missing.append(f"no outcome on days {low}-{high} ({point.name})")
        else:
            refs.append(located.ref(found, point.name, "outcomes"))
    what = _named(index, kind)
    if not missing:
        reason = f"{what}: a baseline and every follow-up recorded"
        return Decision(
            PROM_REG, Verdict(Status.NUMERATOR, reason), index_at, tuple(refs)
        )
    last = rules.last_point
    due = end_of_day(index_at, last.window[1])
    verdict = Verdict(Status.DENOMINATOR, f"{what}: {'; '.join(missing)}")
    early = Verdict(
        Status.EXCLUDED,
        f"{what}: its {last.name} window closes on {on(due)}",
        "younger_than_window",
    )
    return Decision(PROM_REG, verdict, index_at, tuple(refs), due_at=due, early=early)


def _named(fact: dict[str, Any], kind: str) -> str:
    label = {
        "interventions": fact.get("procedure"),
        "biologics": fact.get("product"),
        "surgery_referrals": "surgery referral",
    }[kind]
    return f"index {label} on {on(fact['at'])} (v{fact['version']})"
