"""Pathway metrics of an episode under rule set v2 (DOMAIN.md): measured, not findings.

`episode_metrics` depends only on the recorded events (it is stored on the row,
shares with their outcome already decided); `metrics_as_of` hides a share until
the reader's clock has reached its horizon. Days are floats with one decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from projections.base import State
from projections.clinical.definitions import (
    Fact,
    baselines,
    documented_care_days,
    esi_sessions,
    esis_of,
    identifications,
    in_clinical_order,
    meaningful_change_by,
    when,
)
from projections.clinical.facts import FACT_LISTS
from projections.referral_audit.rules_v2.parameters import AuditRulesV2

HORIZON_SHARES = ("meaningful_change_3_months", "meaningful_change_6_months")
SEVERE = "severe_radicular_without_surgery"


def episode_metrics(state: State, rules: AuditRulesV2) -> dict[str, Any]:
    """Counters, durations and (undated) shares of one episode, from clinical times."""
    opened = state["opened_at"]
    found = identifications(state, rules.evidence)
    referrals = in_clinical_order(state["surgery_referrals"])
    first = referrals[0] if referrals else None
    metrics: dict[str, Any] = {
        "pain_generators": [i.generator for i in found],
        "days_to_pain_generator": _days(opened, found[0].at) if found else None,
        "surgery_referred": bool(referrals),
        "days_to_surgery_referral": _days(opened, first["at"]) if first else None,
        "injections": injections(state, rules, None),
        "esi_sessions": len(esi_sessions(esis_of(state))),
        "injections_before_surgery_referral": injections(state, rules, first)
        if first
        else None,
        "conservative_care_weeks": round(
            documented_care_days(state, _care_day(state, first)) / 7, 1
        ),
        "baseline": sorted(baselines(state)),
    }
    for label, horizon in rules.outcome_horizons.items():
        metrics[f"meaningful_change_{label}"] = meaningful_change_by(
            state, opened + horizon, rules.mcid, rules.responder_relief_percent
        )
    metrics[SEVERE] = severe_radicular_without_surgery(state, rules)
    return metrics


def injections(state: State, rules: AuditRulesV2, before: Fact | None) -> int:
    """Injections given (an ESI session counts once), before a referral if given."""
    facts = [
        f
        for f in state["interventions"]
        if f["procedure"] in rules.injections
        and (before is None or when(f) < when(before))
    ]
    sessions = esi_sessions(f for f in facts if f["procedure"] == rules.esi)
    return len(sessions) + sum(1 for f in facts if f["procedure"] != rules.esi)


def severe_radicular_without_surgery(state: State, rules: AuditRulesV2) -> bool | None:
    """Radicular with a severe baseline, no surgery referral in the first 182 days
    and no meaningful change by day 182; None: not a radicular episode."""
    if state["presentation"] not in rules.severe_presentations:
        return None
    found = baselines(state)
    odi, nrs = found.get("odi"), found.get("nrs_pain")
    severe = bool(
        (odi and Decimal(odi["score"]) > rules.severe_odi_above)
        or (nrs and Decimal(nrs["score"]) >= rules.severe_nrs_from)
    )
    until = state["opened_at"] + rules.severe_window
    referred = any(f["at"] <= until for f in state["surgery_referrals"])
    changed = meaningful_change_by(
        state, until, rules.mcid, rules.responder_relief_percent
    )
    return severe and not referred and not changed


def horizons(rules: AuditRulesV2) -> dict[str, timedelta]:
    """Each share's horizon after the episode opened (judged once it has passed)."""
    found = {f"meaningful_change_{k}": v for k, v in rules.outcome_horizons.items()}
    return {**found, SEVERE: rules.severe_window}


def metrics_as_of(
    episode_row: Mapping[str, Any], now: datetime, rules: AuditRulesV2
) -> dict[str, Any]:
    """The stored metrics, a share shown only once its horizon has passed (None
    before; None also when the episode is not eligible for it)."""
    metrics = dict(episode_row["metrics"])
    for key, horizon in horizons(rules).items():
        if now < episode_row["opened_at"] + horizon:
            metrics[key] = None
    return metrics


def _care_day(state: State, first_referral: Fact | None) -> date:
    """The day conservative care is counted to: the first surgery referral's, else
    the latest clinical day the episode knows."""
    if first_referral is not None:
        return first_referral["at"].date()
    moments = [state["opened_at"]] + [
        fact["at"] for name in FACT_LISTS for fact in state[name]
    ]
    if state["closed"]:
        moments.append(state["closed"]["at"])
    return max(moments).date()


def _days(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 86400, 1)
