"""Pathway metrics of an episode (DOMAIN.md): measured, never findings.

`episode_metrics` depends only on the recorded events (it is stored on the row);
`metrics_as_of` adds what depends on the reader's clock ("by 3 months" is only
known once 3 months have passed). Values are plain JSON: days and weeks are
floats with one decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.values import Instrument
from projections.base import State
from projections.clinical.definitions import improved
from projections.referral_audit.facts import (
    ESI,
    Fact,
    conservative_care_days,
    identified_generators,
    in_clinical_order,
    interventions_by,
)
from projections.referral_audit.parameters import AuditRules


def episode_metrics(state: State, rules: AuditRules) -> dict[str, Any]:
    """Counters and durations of one episode, from clinical times only."""
    opened = state["opened_at"]
    generators = identified_generators(state, rules)
    referrals = in_clinical_order(state["surgery_referrals"])
    first_referral = referrals[0]["at"] if referrals else None
    interventions = interventions_by(state)
    change = meaningful_change(state, rules)
    # Conservative care the pathway gave before surgery was considered (all of it
    # when there is no surgery referral).
    care_until = first_referral.date() if first_referral else None
    return {
        "pain_generators": [fact["generator"] for fact in generators],
        "days_to_pain_generator": _days(opened, generators[0]["at"])
        if generators
        else None,
        "surgery_referred": bool(referrals),
        "days_to_surgery_referral": _days(opened, first_referral)
        if first_referral
        else None,
        "injections": len(interventions),
        "esis": sum(1 for fact in interventions if fact["procedure"] == ESI),
        "injections_before_surgery_referral": len(
            interventions_by(state, first_referral)
        )
        if first_referral
        else None,
        "conservative_care_weeks": round(
            conservative_care_days(state, care_until) / 7, 1
        ),
        "days_to_meaningful_change": _days(opened, change["at"]) if change else None,
        "severe_radicular": severe_radicular(state, rules),
    }


def metrics_as_of(
    episode_row: Mapping[str, Any], now: datetime, rules: AuditRules
) -> dict[str, Any]:
    """The stored metrics plus those the reader's clock decides (None: not yet)."""
    metrics = dict(episode_row["metrics"])
    opened = episode_row["opened_at"]
    days_to_change = metrics["days_to_meaningful_change"]
    for label, horizon in rules.outcome_horizons.items():
        horizon_days = horizon.total_seconds() / 86400
        reached: bool | None
        if days_to_change is not None and days_to_change <= horizon_days:
            reached = True
        else:
            reached = False if now >= opened + horizon else None
        metrics[f"meaningful_change_by_{label}"] = reached
    waiting = metrics["severe_radicular"] and not metrics["surgery_referred"]
    if not waiting:
        metrics["severe_radicular_without_surgery"] = False
    elif now >= opened + rules.severe_without_surgery_after:
        metrics["severe_radicular_without_surgery"] = True
    else:
        metrics["severe_radicular_without_surgery"] = None
    return metrics


def meaningful_change(state: State, rules: AuditRules) -> Fact | None:
    """The first outcome meaningfully better than its instrument's baseline.

    The baseline of an instrument is its first score in clinical time; a
    relief_percent score needs none: at or above the responder threshold it counts.
    """
    baselines: dict[str, Fact] = {}
    for fact in in_clinical_order(state["outcomes"]):
        instrument, score = fact["instrument"], Decimal(fact["score"])
        if instrument == Instrument.RELIEF_PERCENT.value:
            if score >= rules.responder_relief_percent:
                return fact
            continue
        baseline = baselines.setdefault(instrument, fact)
        if baseline is not fact and improved(
            Decimal(baseline["score"]), score, rules.mcid[instrument]
        ):
            return fact
    return None


def severe_radicular(state: State, rules: AuditRules) -> bool:
    """A radicular presentation whose latest ODI or NRS is in the severe range."""
    if state["presentation"] not in rules.severe_presentations:
        return False
    latest = {fact["instrument"]: fact for fact in in_clinical_order(state["outcomes"])}
    odi = latest.get(Instrument.ODI.value)
    nrs = latest.get(Instrument.NRS_PAIN.value)
    return bool(
        (odi and Decimal(odi["score"]) > rules.severe_odi_above)
        or (nrs and Decimal(nrs["score"]) >= rules.severe_nrs_from)
    )


def _days(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 86400, 1)
